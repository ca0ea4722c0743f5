package client

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// waitCoordinator answers job status requests on a real NATS server as
// its answer function says; stop and start make it unreachable and back,
// as a coordinator killed and then taken over (or restarted) is.
type waitCoordinator struct {
	t      *testing.T
	nc     *nats.Conn
	subj   protocol.Subjects
	mu     sync.Mutex
	sub    *nats.Subscription
	answer func(n int) protocol.JobsReply // n: requests answered so far
	n      int
	asked  chan int // each request's number
}

func newWaitCoordinator(t *testing.T, srv *natstest.Server, answer func(int) protocol.JobsReply) *waitCoordinator {
	w := &waitCoordinator{t: t, nc: srv.Connect(t, "coordinator"), subj: protocol.Subjects{Prefix: "t"}, answer: answer, asked: make(chan int, 1024)}
	w.start()
	return w
}

func (w *waitCoordinator) start() {
	w.t.Helper()
	sub, err := w.nc.Subscribe(w.subj.AllJobs(), func(m *nats.Msg) {
		w.mu.Lock()
		reply := w.answer(w.n)
		w.n++
		n := w.n
		w.mu.Unlock()
		_ = wire.Respond(m, protocol.TypeJobsReply, reply)
		w.asked <- n
	})
	if err == nil {
		err = w.nc.Flush()
	}
	if err != nil {
		w.t.Fatal(err)
	}
	w.mu.Lock()
	w.sub = sub
	w.mu.Unlock()
}

func (w *waitCoordinator) stop() {
	w.t.Helper()
	if err := w.sub.Unsubscribe(); err != nil {
		w.t.Fatal(err)
	}
	if err := w.nc.Flush(); err != nil {
		w.t.Fatal(err)
	}
}

// await returns once the coordinator answered its n-th request.
func (w *waitCoordinator) await(n int) {
	w.t.Helper()
	for got := range w.asked {
		if got >= n {
			return
		}
	}
}

func running(id string, done bool) protocol.JobsReply {
	return protocol.JobsReply{Jobs: []protocol.JobStatus{{ID: id, Done: done}}}
}

// unanswered waits until the server has taken k more messages from the
// client than it had: requests nobody answered (no responders). It fails
// the test if WaitDone returns (on done) meanwhile.
func unanswered(t *testing.T, srv *natstest.Server, k int64, done <-chan error) {
	t.Helper()
	v, err := srv.Varz(nil)
	if err != nil {
		t.Fatal(err)
	}
	for from := v.InMsgs; v.InMsgs < from+k; {
		select {
		case err := <-done:
			t.Fatalf("WaitDone returned while the coordinator was unreachable: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
		if v, err = srv.Varz(nil); err != nil {
			t.Fatal(err)
		}
	}
}

// WaitDone waits through a coordinator gone (unreachable) and then back
// without knowing the job for a while (a takeover in progress), and
// returns once the job is done: csub status --wait across a failover.
func TestWaitDoneThroughFailover(t *testing.T) {
	srv := natstest.Start(t, 0)
	w := newWaitCoordinator(t, srv, func(n int) protocol.JobsReply {
		switch {
		case n < 2:
			return running("j1", false)
		case n < 4:
			return protocol.JobsReply{} // the new owner does not know it yet
		default:
			return running("j1", true)
		}
	})
	c := &Client{Conn: srv.Connect(t, "client"), Subjects: w.subj, User: "alice"}
	done := make(chan error, 1)
	go func() { done <- c.WaitDone(testCtx(t), "j1", 10*time.Millisecond) }()
	w.await(1)
	w.stop()
	unanswered(t, srv, 3, done)
	w.start()
	if err := <-done; err != nil {
		t.Fatalf("WaitDone: %v", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n != 5 {
		t.Fatalf("%d requests answered, want 5 (running, running, unknown twice, done)", w.n)
	}
}

// A job the coordinator does not know at the first answer is an error at
// once; so is an unreachable coordinator when Reconnect is negative, or
// past Reconnect.
func TestWaitDoneGivesUp(t *testing.T) {
	srv := natstest.Start(t, 0)
	w := newWaitCoordinator(t, srv, func(int) protocol.JobsReply { return protocol.JobsReply{} })
	c := &Client{Conn: srv.Connect(t, "client"), Subjects: w.subj, User: "alice"}
	if err := c.WaitDone(testCtx(t), "nope", time.Millisecond); !errors.Is(err, ErrUnknownJob) {
		t.Fatalf("unknown job: err %v, want ErrUnknownJob", err)
	}
	w.stop()
	var ue *UnreachableError
	c.Reconnect = -1
	if err := c.WaitDone(testCtx(t), "j1", time.Millisecond); !errors.As(err, &ue) {
		t.Fatalf("Reconnect -1: err %v, want *UnreachableError", err)
	}
	c.Reconnect = 50 * time.Millisecond
	if err := c.WaitDone(testCtx(t), "j1", time.Millisecond); !errors.As(err, &ue) {
		t.Fatalf("past Reconnect: err %v, want *UnreachableError", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.WaitDone(ctx, "j1", time.Millisecond); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err %v, want context.Canceled", err)
	}
}

// A job registry request held by a coordinator that never answers (it
// died holding its subscription: NATS handed the request to it before it
// saw the connection close) is bounded by RequestTimeout, however long
// the caller's context lasts, so the caller can ask again and reach the
// coordinator that took over. Before, a context with a deadline replaced
// the bound, and a 3-minute scenario waited out its whole context on one
// lost request (TestFaultCoordinatorRestart, CI once).
func TestRegistryRequestsBounded(t *testing.T) {
	srv := natstest.Start(t, 0)
	held := srv.Connect(t, "dead-coordinator")
	subj := protocol.Subjects{Prefix: "t"}
	asked := make(chan struct{}, 16)
	if _, err := held.Subscribe(subj.AllJobs(), func(*nats.Msg) { asked <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	if err := held.Flush(); err != nil {
		t.Fatal(err)
	}
	c := &Client{Conn: srv.Connect(t, "client"), Subjects: subj, User: "alice", RequestTimeout: 50 * time.Millisecond}
	ctx := testCtx(t)
	for _, req := range []struct {
		name string
		call func() error
	}{
		{"jobs", func() error { _, err := c.Jobs(ctx); return err }},
		{"agents", func() error { _, err := c.Agents(ctx); return err }},
		{"status", func() error { _, err := c.Status(ctx, "j1"); return err }},
		{"brief", func() error { _, err := c.Brief(ctx, "j1"); return err }},
		{"cancel", func() error { return c.Cancel(ctx, "j1") }},
		{"attach", func() error { _, err := c.Attach(ctx, "j1"); return err }},
	} {
		err := req.call()
		var ue *UnreachableError
		if !errors.As(err, &ue) || ctx.Err() != nil {
			t.Fatalf("%s: err %v (context: %v), want *UnreachableError before the context ends", req.name, err, ctx.Err())
		}
		<-asked
	}
}
