package client

import (
	"reflect"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// lines makes one stdout record of node 0 per line.
func lines(ls ...string) []protocol.Event {
	var recs []protocol.Event
	for _, l := range ls {
		recs = append(recs, protocol.Event{Kind: protocol.KindStdout, Nodes: []uint32{0}, Data: []byte(l)})
	}
	return recs
}

// TestLostRecordsReported: batches that start past the record the reader
// expects show the records the coordinator did not keep, in the middle
// and at the end of the stream; none is silently skipped.
func TestLostRecordsReported(t *testing.T) {
	_, f, c := setup(t)
	job := submit(t, c, f, "n1")
	f.publishBatch(&protocol.EventBatch{Job: job.ID(), Seq: 1, Indexed: true, First: 0, Events: lines("a")})
	f.publishBatch(&protocol.EventBatch{Job: job.ID(), Seq: 2, Indexed: true, First: 3, Events: lines("d", "e")})
	f.publishBatch(&protocol.EventBatch{Job: job.ID(), Seq: 3, Indexed: true, First: 7, Last: true})
	if got := strings.Join(readAll(t, job), ","); got != "a,d,e" {
		t.Fatalf("got %s", got)
	}
	if got, want := job.Lost(), []Records{{1, 3}, {5, 7}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Lost() = %v, want %v", got, want)
	}
	if s := job.Lost()[0].String() + " " + (Records{5, 6}).String(); s != "1-2 5" {
		t.Errorf("ranges print %q", s)
	}
}

// TestResumeWhenStreamGone: the coordinator says the reader's stream is
// gone (it restarted, or detached the reader); the reader attaches again
// from the records it returned under a new stream id, drops a record
// sent again, and reads on to the end as if nothing happened.
func TestResumeWhenStreamGone(t *testing.T) {
	_, f, c := setup(t)
	fastStall(c)
	job := submit(t, c, f, "n1")
	attached := make(chan protocol.JobsRequest, 1)
	f.setJobs(func(req protocol.JobsRequest) protocol.JobsReply {
		st := protocol.JobStatus{ID: req.Job, Nodes: "n1", Total: 1}
		switch req.Kind {
		case protocol.JobsStatus:
			st.Stream = protocol.StreamGone
		case protocol.JobsAttach:
			f.set(func() { f.streams[req.Stream] = true })
			attached <- req
		}
		return protocol.JobsReply{Jobs: []protocol.JobStatus{st}}
	})
	f.publishBatch(&protocol.EventBatch{Job: job.ID(), Seq: 1, Indexed: true, Events: lines("a", "b")})
	go func() {
		req := <-attached
		if req.From != 2 || req.Job != job.ID() || req.Stream == job.ID() || protocol.ValidID(req.Stream) != nil {
			t.Errorf("attach request %+v, want from 2 on a new stream", req)
		}
		// The replay starts one record early: the reader has it.
		f.publishOn(req.Stream, &protocol.EventBatch{Job: job.ID(), Seq: 1, Indexed: true, First: 1, Events: lines("b", "c")})
		f.publishOn(req.Stream, &protocol.EventBatch{Job: job.ID(), Seq: 2, Indexed: true, First: 3, Last: true,
			Events: []protocol.Event{{Kind: protocol.KindEnd, Nodes: []uint32{0}, State: protocol.StateExited}}})
	}()
	if got := strings.Join(readAll(t, job), ","); got != "a,b,c," {
		t.Fatalf("got %q", got)
	}
	if job.Resumed() != 1 || len(job.Lost()) != 0 {
		t.Fatalf("resumed %d, lost %v", job.Resumed(), job.Lost())
	}
}
