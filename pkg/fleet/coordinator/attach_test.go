package coordinator

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// ackBatch decodes a batch of output stream stream of user, acks what
// arrived in order, and returns the batches now in order.
func ackBatch(t *testing.T, nc *nats.Conn, ro *protocol.Reorder[*protocol.EventBatch], m *nats.Msg, user, stream, job string) []*protocol.EventBatch {
	t.Helper()
	var b protocol.EventBatch
	if err := b.UnmarshalBinary(m.Data); err != nil {
		t.Fatal(err)
	}
	ready, _ := ro.Push(b.Seq, &b)
	_ = wire.PublishJSON(nc, subj.OutputAck(user, stream), protocol.TypeControl,
		protocol.Control{Kind: protocol.ControlAck, Job: job, Seq: ro.Delivered()})
	return ready
}

// attachFrom attaches stream to job from record from and reads the
// stream to its last batch, acking; it returns each batch as
// "First:record,record" with records named by kind (and line data).
func attachFrom(t *testing.T, nc *nats.Conn, job, stream string, from uint64) []string {
	t.Helper()
	msgs := make(chan *nats.Msg, 100)
	sub, err := nc.ChanSubscribe(subj.Output(testUser, stream), msgs)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	r := jobsRequest(t, nc, testUser, protocol.JobsRequest{Kind: protocol.JobsAttach, Job: job, Stream: stream, From: from})
	if r.Error != "" || len(r.Jobs) != 1 {
		t.Fatalf("attach from %d: %+v", from, r)
	}
	var got []string
	var ro protocol.Reorder[*protocol.EventBatch]
	for {
		select {
		case m := <-msgs:
			for _, rb := range ackBatch(t, nc, &ro, m, testUser, stream, job) {
				if !rb.Indexed {
					t.Fatalf("batch %d of an output stream without its record index", rb.Seq)
				}
				var recs []string
				for _, e := range rb.Events {
					recs = append(recs, strings.TrimSpace(e.Kind.String()+" "+string(e.Data)))
				}
				got = append(got, fmt.Sprintf("%d:%s", rb.First, strings.Join(recs, ",")))
				if rb.Last {
					return got
				}
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("attach from %d: no last batch; got %q", from, got)
		}
	}
}

// TestAttachFrom replays a job's records from an index, and shows the
// records the log did not keep (lines over MaxReplay) by the index of
// the batch after them, in the middle and at the end of the replay.
func TestAttachFrom(t *testing.T) {
	// The start (51 bytes estimated) and two lines of 2 bytes (53 each)
	// fit; the next lines do not. Starts and ends are always kept.
	srv, _, a, wait, s := agentJob(t, Config{MaxReplay: 51 + 2*53}, protocol.JobSpec{ID: "jfrom", Nodes: "n[1-2]", Command: "true"})
	a.finish(s, start(0, 1), line("l1", 0), line("l2", 1), line("l3", 0), line("l4", 1), exit(0, 0, 1))
	if res := wait(); len(res.lines["n1"]) != 2 || len(res.lines["n2"]) != 2 {
		t.Fatalf("the submitter got %v: every line, live", res.lines)
	}
	nc := srv.Connect(t, "attacher")
	for _, c := range []struct {
		from uint64
		want string
	}{
		{0, "0:start,stdout l1,stdout l2 5:end"},
		{2, "2:stdout l2 5:end"},
		{3, "5:end"},
		{5, "5:end"},
		{6, "6:"},
		{99, "6:"},
	} {
		got := strings.Join(attachFrom(t, nc, "jfrom", fmt.Sprintf("st%d", c.from), c.from), " ")
		if got != c.want {
			t.Errorf("attach from %d: batches %q, want %q", c.from, got, c.want)
		}
	}
}

// TestStatusNamesStream: a status request naming a stream learns whether
// the coordinator serves it: the submitter's while it acks, not once it
// stopped acking for DetachAfter, nor a stream it never had.
func TestStatusNamesStream(t *testing.T) {
	// A window of one batch: the second waits for an ack that never comes.
	srv, _ := startCoordinator(t, Config{DetachAfter: 300 * time.Millisecond, Window: 1})
	a := newFakeAgent(t, srv, "a1")
	nc := srv.Connect(t, "mute-submitter")
	// Subscribed, never acking: a suspended csub.
	sub, err := nc.SubscribeSync(subj.Output(testUser, "jmute"))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	var reply protocol.SubmitReply
	if err := wire.Request(context.Background(), nc, subj.Submit(testUser), protocol.TypeJobSpec,
		protocol.JobSpec{ID: "jmute", Nodes: "n1", Command: "true"}, &reply); err != nil || reply.Error != "" {
		t.Fatalf("submit: %v %s", err, reply.Error)
	}
	s := a.shard()
	a.send(s, start(0), line("x", 0))
	// Ack the first batch at once: the stream is live, and stays live
	// while nothing is unacked, however slow the checks below run.
	m, err := sub.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ackBatch(t, nc, &protocol.Reorder[*protocol.EventBatch]{}, m, testUser, "jmute", "jmute")
	state := func(stream string) string {
		r := jobsRequest(t, nc, testUser, protocol.JobsRequest{Kind: protocol.JobsStatus, Job: "jmute", Brief: true, Stream: stream})
		if len(r.Jobs) != 1 {
			t.Fatalf("status: %+v", r)
		}
		return r.Jobs[0].Stream
	}
	if st := state("nosuch"); st != protocol.StreamGone {
		t.Errorf("a stream never attached is %q", st)
	}
	if st := jobsRequest(t, nc, testUser, protocol.JobsRequest{Kind: protocol.JobsStatus, Job: "jmute"}).Jobs[0].Stream; st != "" {
		t.Errorf("a status naming no stream says %q", st)
	}
	waitState := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); state("jmute") != want; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the submitter's stream never became %s", want)
			}
		}
	}
	waitState(protocol.StreamLive)
	// The next batch is never acked, and the one after waits for its
	// credit: past DetachAfter (and the 1 s watch) the coordinator drops
	// the stream and says so.
	a.send(s, line("y", 0))
	if _, err := sub.NextMsg(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	a.send(s, line("z", 0))
	waitState(protocol.StreamGone)
	// The reader gets its stream back by attaching from what it has.
	a.send(s, exit(0, 0))
	// The end may come in the replay or live after it: the records
	// count, not where batches split them.
	if got := flatRecords(t, attachFrom(t, nc, "jmute", "again", 1)); got != "1:stdout x,stdout y,stdout z,end" {
		t.Errorf("attach from 1 after the detach: %q", got)
	}
}

// flatRecords joins attachFrom's batches into one "First:records" after
// checking that each batch starts where the previous one ended.
func flatRecords(t *testing.T, batches []string) string {
	t.Helper()
	var first, next uint64
	var recs []string
	for i, b := range batches {
		idx, list, ok := strings.Cut(b, ":")
		n, err := strconv.ParseUint(idx, 10, 64)
		if !ok || err != nil {
			t.Fatalf("batch %q", b)
		}
		if i == 0 {
			first, next = n, n
		}
		if n != next {
			t.Fatalf("batches %q: batch %d starts at record %d, want %d", batches, i, n, next)
		}
		part := strings.Split(list, ",")
		recs = append(recs, part...)
		next += uint64(len(part))
	}
	return fmt.Sprintf("%d:%s", first, strings.Join(recs, ","))
}
