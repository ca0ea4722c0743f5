package client

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

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
	f, job := setupJob(t, "n1")
	f.publishBatch(&protocol.EventBatch{Job: job.ID(), Seq: 1, Indexed: true, First: 0, Events: lines("a")})
	f.publishBatch(&protocol.EventBatch{Job: job.ID(), Seq: 2, Indexed: true, First: 3, Events: lines("d", "e")})
	f.publishBatch(&protocol.EventBatch{Job: job.ID(), Seq: 3, Indexed: true, First: 7, Last: true})
	wantOutput(t, job, "a,d,e")
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
	wantOutput(t, job, "a,b,c,")
	if job.Resumed() != 1 || len(job.Lost()) != 0 {
		t.Fatalf("resumed %d, lost %v", job.Resumed(), job.Lost())
	}
}

// TestStallUnknownJob: a coordinator that does not know the job (it
// restarted without it) is asked again for Reconnect, then the reader
// gives up naming the nodes without a final state and the first record
// it lacks.
func TestStallUnknownJob(t *testing.T) {
	_, f, c := setup(t)
	fastStall(c)
	c.Reconnect = time.Second
	job := submit(t, c, f, "n[1-3]")
	f.publishBatch(&protocol.EventBatch{Job: job.ID(), Seq: 1, Indexed: true, Events: []protocol.Event{
		{Kind: protocol.KindStdout, Nodes: []uint32{0}, Data: []byte("a")},
		{Kind: protocol.KindEnd, Nodes: []uint32{1}, State: protocol.StateExited}}})
	ctx := testCtx(t)
	if _, err := job.Next(ctx); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	_, err := job.Next(ctx)
	var ie *IncompleteError
	if !errors.Is(err, ErrUnknownJob) || !errors.As(err, &ie) {
		t.Fatalf("err = %v", err)
	}
	if ie.Unfinished != "n[1,3]" || ie.Count != 2 || ie.Received != 2 || ie.Tried < time.Second {
		t.Errorf("%+v", ie)
	}
	if took := time.Since(began); took < time.Second {
		t.Errorf("gave up after %v, before Reconnect", took)
	}
	for _, want := range []string{"2 nodes without a final state: n[1,3]", "output from record 2 on is missing", "unknown job"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	// Checks were spaced with backoff, not one per StallTimeout only.
	if n := len(f.jobReq); n < 2 || n > 6 {
		t.Errorf("%d status checks in the reconnect second", n)
	}
}
