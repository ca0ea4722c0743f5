package client

// Tests against a real NATS server (internal/natstest) where the test
// plays the coordinator by hand: it answers submits and job requests,
// publishes output batches in whatever order (or disorder) a case needs
// and records the acks and retransmit requests the client sends.

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

type fakeCoordinator struct {
	t    *testing.T
	nc   *nats.Conn
	subj protocol.Subjects

	mu     sync.Mutex
	refuse string                                        // SubmitReply.Error
	count  int                                           // SubmitReply.Nodes override
	jobs   func(protocol.JobsRequest) protocol.JobsReply // nil: unknown job
	specs  chan protocol.JobSpec
	ctl    chan protocol.Control
	jobReq chan protocol.JobsRequest
	subs   []*nats.Subscription
	// streams are the attach streams handed out (acked by their own id).
	streams map[string]bool
}

func newFake(t *testing.T, srv *natstest.Server, prefix string) *fakeCoordinator {
	t.Helper()
	f := &fakeCoordinator{
		t:       t,
		nc:      srv.Connect(t, "fake-coordinator"),
		subj:    protocol.Subjects{Prefix: prefix},
		specs:   make(chan protocol.JobSpec, 16),
		ctl:     make(chan protocol.Control, 4096),
		jobReq:  make(chan protocol.JobsRequest, 64),
		streams: map[string]bool{},
	}
	f.sub(f.subj.AllSubmits(), func(m *nats.Msg) {
		var spec protocol.JobSpec
		if err := protocol.Unmarshal(m.Data, &spec); err != nil {
			t.Errorf("fake: %v", err)
			return
		}
		f.mu.Lock()
		reply := protocol.SubmitReply{Job: spec.ID, Error: f.refuse, Nodes: f.count}
		f.mu.Unlock()
		f.specs <- spec
		_ = wire.Respond(m, protocol.TypeSubmitReply, reply)
	})
	f.sub(f.subj.AllOutputAcks(), func(m *nats.Msg) {
		var c protocol.Control
		if err := protocol.Unmarshal(m.Data, &c); err != nil || wire.Type(m) != protocol.TypeControl {
			t.Errorf("fake: bad control %q: %v", m.Data, err)
			return
		}
		f.mu.Lock()
		stream := f.streams[protocol.LastToken(m.Subject)]
		f.mu.Unlock()
		if c.Job != protocol.LastToken(m.Subject) && !stream {
			t.Errorf("fake: control for job %s on %s", c.Job, m.Subject)
		}
		f.ctl <- c
	})
	f.sub(f.subj.AllJobs(), func(m *nats.Msg) {
		var req protocol.JobsRequest
		_ = protocol.Unmarshal(m.Data, &req)
		f.jobReq <- req
		f.mu.Lock()
		h := f.jobs
		f.mu.Unlock()
		var reply protocol.JobsReply
		if h != nil {
			reply = h(req)
		}
		_ = wire.Respond(m, protocol.TypeJobsReply, reply)
	})
	if err := f.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fakeCoordinator) set(change func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change()
}

func (f *fakeCoordinator) setJobs(h func(protocol.JobsRequest) protocol.JobsReply) {
	f.set(func() { f.jobs = h })
}

func (f *fakeCoordinator) sub(subject string, h nats.MsgHandler) {
	s, err := f.nc.Subscribe(subject, h)
	if err != nil {
		f.t.Fatal(err)
	}
	f.subs = append(f.subs, s)
}

// publish sends output batch seq of job with one stdout record per line.
func (f *fakeCoordinator) publish(job string, seq uint64, last bool, lines ...string) {
	f.t.Helper()
	b := protocol.EventBatch{Job: job, Seq: seq, Last: last}
	for _, l := range lines {
		b.Events = append(b.Events, protocol.Event{Kind: protocol.KindStdout, Nodes: []uint32{0}, Data: []byte(l)})
	}
	f.publishBatch(&b)
}

func (f *fakeCoordinator) publishBatch(b *protocol.EventBatch) {
	f.t.Helper()
	f.publishOn(b.Job, b)
}

// publishOn publishes b on output stream stream (an attach's).
func (f *fakeCoordinator) publishOn(stream string, b *protocol.EventBatch) {
	f.t.Helper()
	data, err := b.MarshalBinary()
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.nc.PublishMsg(wire.NewMsg(f.subj.Output("alice", stream), protocol.TypeEventBatch, data)); err != nil {
		f.t.Fatal(err)
	}
}

// nextControl waits for the client's next ack or retransmit request.
func (f *fakeCoordinator) nextControl(timeout time.Duration) (protocol.Control, bool) {
	select {
	case c := <-f.ctl:
		return c, true
	case <-time.After(timeout):
		return protocol.Control{}, false
	}
}

func setup(t *testing.T) (*natstest.Server, *fakeCoordinator, *Client) {
	t.Helper()
	srv := natstest.Start(t, 0)
	f := newFake(t, srv, "t")
	c := &Client{Conn: srv.Connect(t, "client"), Subjects: protocol.Subjects{Prefix: "t"}, User: "alice"}
	return srv, f, c
}

// setupJob is setup with a job over nodes submitted: how most tests
// start.
func setupJob(t *testing.T, nodes string) (*fakeCoordinator, *Job) {
	t.Helper()
	_, f, c := setup(t)
	return f, submit(t, c, f, nodes)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func submit(t *testing.T, c *Client, f *fakeCoordinator, nodes string) *Job {
	t.Helper()
	job, err := c.Submit(testCtx(t), protocol.JobSpec{Nodes: nodes, Command: "true"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = job.Close() })
	spec := <-f.specs
	if spec.ID != job.ID() || spec.User != "alice" || spec.Nodes != nodes {
		t.Fatalf("coordinator got %+v, job %s", spec, job.ID())
	}
	return job
}

// readAll reads the stream to its end and returns the lines of its
// records, in order.
func readAll(t *testing.T, job *Job) []string {
	t.Helper()
	var got []string
	ctx := testCtx(t)
	for {
		b, err := job.Next(ctx)
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatalf("Next after %q: %v", got, err)
		}
		for _, r := range b.Events {
			got = append(got, string(r.Data))
		}
	}
}

// wantOutput reads job to its end (readAll): the test fails unless its
// lines, joined by commas, are want.
func wantOutput(t *testing.T, job *Job, want string) {
	t.Helper()
	if got := strings.Join(readAll(t, job), ","); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestSubmitFillsSpecAndNodes(t *testing.T) {
	_, job := setupJob(t, "n[1-3],a")
	if err := protocol.ValidID(job.ID()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(job.Nodes(), " "); got != "a n1 n2 n3" {
		t.Fatalf("Nodes() = %q, want NodeSet order", got)
	}
	if job.NodeSet().String() != "a,n[1-3]" {
		t.Fatal(job.NodeSet())
	}
}

func TestInOrderAndLastEOF(t *testing.T) {
	f, job := setupJob(t, "n1")
	f.publish(job.ID(), 1, false, "a", "b")
	f.publish(job.ID(), 2, false, "c")
	f.publish(job.ID(), 3, true, "d")
	wantOutput(t, job, "a,b,c,d")
	// EOF stays EOF.
	if _, err := job.Next(testCtx(t)); err != io.EOF {
		t.Fatalf("Next after EOF: %v", err)
	}
	// The last batch is acked at once.
	var last uint64
	for last != 3 {
		ctl, ok := f.nextControl(2 * time.Second)
		if !ok {
			t.Fatal("no ack of the last batch")
		}
		if ctl.Kind != protocol.ControlAck || ctl.Job != job.ID() {
			t.Fatalf("unexpected control %+v", ctl)
		}
		last = ctl.Seq
	}
}

func TestDuplicatesDropped(t *testing.T) {
	f, job := setupJob(t, "n1")
	f.publish(job.ID(), 1, false, "a")
	f.publish(job.ID(), 1, false, "a")
	f.publish(job.ID(), 2, false, "b")
	f.publish(job.ID(), 1, false, "a")
	f.publish(job.ID(), 2, false, "b")
	f.publish(job.ID(), 3, true, "c")
	wantOutput(t, job, "a,b,c")
}

func TestGapAsksRetransmit(t *testing.T) {
	f, job := setupJob(t, "n1")
	f.publish(job.ID(), 1, false, "a")
	f.publish(job.ID(), 3, false, "c")
	f.publish(job.ID(), 4, false, "d")

	ctx := testCtx(t)
	b, err := job.Next(ctx)
	if err != nil || b.Seq != 1 {
		t.Fatalf("first Next: %v %v", b, err)
	}
	// The client waits for 2, asks for it (once for both gaps), and gets
	// it with the rest again.
	type result struct {
		lines []string
	}
	done := make(chan result)
	go func() {
		var lines []string
		for {
			b, err := job.Next(ctx)
			if err != nil {
				done <- result{lines}
				return
			}
			for _, r := range b.Events {
				lines = append(lines, string(r.Data))
			}
		}
	}()
	retransmits := 0
	deadline := time.After(5 * time.Second)
	for retransmits == 0 {
		select {
		case ctl := <-f.ctl:
			if ctl.Kind == protocol.ControlRetransmit {
				if ctl.Seq != 2 {
					t.Fatalf("retransmit from %d, want 2", ctl.Seq)
				}
				retransmits++
			}
		case <-deadline:
			t.Fatal("no retransmit request")
		}
	}
	f.publish(job.ID(), 2, false, "b")
	f.publish(job.ID(), 3, false, "c")
	f.publish(job.ID(), 4, false, "d")
	f.publish(job.ID(), 5, true, "e")
	r := <-done
	if got := strings.Join(r.lines, ","); got != "b,c,d,e" {
		t.Fatalf("got %s", got)
	}
	for {
		ctl, ok := f.nextControl(50 * time.Millisecond)
		if !ok {
			break
		}
		if ctl.Kind == protocol.ControlRetransmit {
			retransmits++
		}
	}
	if retransmits != 1 {
		t.Fatalf("%d retransmit requests for one gap, want 1", retransmits)
	}
}

// TestAcksPaceWindow has the coordinator send through a real
// protocol.Window: without the client's acks it would stop after
// DefaultWindow batches.
func TestAcksPaceWindow(t *testing.T) {
	f, job := setupJob(t, "n1")
	const total = 200
	win := protocol.NewWindow(protocol.DefaultWindow)
	ctx := testCtx(t)
	var acks int
	ackDone := make(chan struct{})
	go func() {
		defer close(ackDone)
		for ctl := range f.ctl {
			if ctl.Kind == protocol.ControlAck {
				acks++
				win.Ack(ctl.Seq)
				if ctl.Seq == total {
					return
				}
			}
		}
	}()
	go func() {
		for i := 1; i <= total; i++ {
			_, data, err := win.Send(ctx, func(seq uint64) ([]byte, error) {
				b := protocol.EventBatch{Job: job.ID(), Seq: seq, Last: seq == total,
					Events: []protocol.Event{{Kind: protocol.KindStdout, Nodes: []uint32{0}, Data: []byte("x")}}}
				return b.MarshalBinary()
			})
			if err != nil {
				t.Errorf("send %d: %v", i, err)
				return
			}
			_ = f.nc.PublishMsg(wire.NewMsg(f.subj.Output("alice", job.ID()), protocol.TypeEventBatch, data))
		}
	}()
	if n := len(readAll(t, job)); n != total {
		t.Fatalf("%d batches, want %d", n, total)
	}
	select {
	case <-ackDone:
	case <-time.After(5 * time.Second):
		t.Fatal("last batch never acked")
	}
	// Cumulative acks: about one per 4 batches, not one per batch.
	if acks > total/2 {
		t.Fatalf("%d acks for %d batches", acks, total)
	}
}

func TestTrickleAckedWithinInterval(t *testing.T) {
	f, job := setupJob(t, "n1")
	f.publish(job.ID(), 1, false, "a")
	ctx := testCtx(t)
	if _, err := job.Next(ctx); err != nil {
		t.Fatal(err)
	}
	// The caller waits in Next; one batch is acked after ~100 ms.
	go func() { _, _ = job.Next(ctx) }()
	start := time.Now()
	ctl, ok := f.nextControl(2 * time.Second)
	if !ok || ctl.Kind != protocol.ControlAck || ctl.Seq != 1 {
		t.Fatalf("control %+v %v", ctl, ok)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("ack after %v", d)
	}
	f.publish(job.ID(), 2, true)
}

func TestUnreachableCoordinator(t *testing.T) {
	srv := natstest.Start(t, 0)
	c := &Client{Conn: srv.Connect(t, "client"), Subjects: protocol.Subjects{Prefix: "none"}}
	_, err := c.Jobs(testCtx(t)) // the request muxer's own subscription, for the count below
	if err == nil {
		t.Fatal("Jobs without a coordinator")
	}
	before := c.Conn.NumSubscriptions()
	_, err = c.Submit(testCtx(t), protocol.JobSpec{Nodes: "n1", Command: "true"})
	var ue *UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v, want *UnreachableError", err)
	}
	msg := err.Error()
	for _, want := range []string{srv.URL(), "none.submit", "--fleet", "start the coordinator"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	// The output subscription was dropped.
	if n := c.Conn.NumSubscriptions(); n != before {
		t.Fatalf("%d subscriptions left", n)
	}
}

func TestSubmitRefused(t *testing.T) {
	_, f, c := setup(t)
	f.set(func() { f.refuse = "no agent serves group gw1" })
	_, err := c.Submit(testCtx(t), protocol.JobSpec{ID: "job-1", Nodes: "n1", Command: "true"})
	var re *RefusedError
	if !errors.As(err, &re) || re.Reason != f.refuse || re.Job != "job-1" {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), f.refuse) {
		t.Fatal(err)
	}
}

func TestSubmitChecks(t *testing.T) {
	_, f, c := setup(t)
	ctx := testCtx(t)
	for _, tc := range []struct {
		spec protocol.JobSpec
		want string
	}{
		{protocol.JobSpec{ID: "bad id", Nodes: "n1"}, "not allowed"},
		{protocol.JobSpec{Nodes: "n[1-"}, "nodes"},
		{protocol.JobSpec{Nodes: ""}, "no node"},
		{protocol.JobSpec{Nodes: "n1", Command: strings.Repeat("x", protocol.MaxCommand+1)}, "field command: 131073 bytes, over the limit of 131072"},
	} {
		if _, err := c.Submit(ctx, tc.spec); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Submit(%+v) = %v, want error with %q", tc.spec, err, tc.want)
		}
	}
	f.set(func() { f.count = 7 })
	if _, err := c.Submit(ctx, protocol.JobSpec{Nodes: "n[1-2]"}); err == nil || !strings.Contains(err.Error(), "counts 7 nodes") {
		t.Fatalf("node count mismatch: %v", err)
	}
}

// TestBadMessagesDropped is issue 12's "7 bytes on fleet.out.<job> killed
// a user's csub": whatever else arrives on the output subject (7 bytes,
// another type or version, indexes past the job's nodes, another job's
// batch), the job reads its true batches to the end.
func TestBadMessagesDropped(t *testing.T) {
	f, job := setupJob(t, "n[1-2]")
	out := f.subj.Output("alice", job.ID())
	f.publishBatch(&protocol.EventBatch{Job: job.ID(), Seq: 1, Events: []protocol.Event{
		{Kind: protocol.KindStdout, Nodes: []uint32{0, 2}, Data: []byte("forged")}}})
	_ = f.nc.PublishMsg(wire.NewMsg(out, protocol.TypeEventBatch, []byte("1234567")))
	v99 := wire.NewMsg(out, protocol.TypeEventBatch, []byte{0})
	v99.Header.Set(protocol.HeaderVersion, "99")
	_ = f.nc.PublishMsg(v99)
	good := protocol.EventBatch{Job: job.ID(), Seq: 1, Events: []protocol.Event{{Kind: protocol.KindStdout, Nodes: []uint32{1}, Data: []byte("forged")}}}
	data, _ := good.MarshalBinary()
	_ = f.nc.PublishMsg(wire.NewMsg(out, protocol.TypeHeartbeat, data))
	_ = f.nc.PublishMsg(wire.NewMsg(out, protocol.TypeEventBatch, mustMarshal(t, &protocol.EventBatch{Job: "other", Seq: 1})))
	f.publish(job.ID(), 1, false, "a")
	f.publish(job.ID(), 2, true, "b")
	wantOutput(t, job, "a,b")
	if n := job.Dropped(); n != 5 {
		t.Errorf("%d messages dropped, want 5", n)
	}
}

func mustMarshal(t *testing.T, b *protocol.EventBatch) []byte {
	t.Helper()
	data, err := b.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// fastStall makes c check a silent stream after 200 ms.
func TestCancelJobsStatus(t *testing.T) {
	_, f, c := setup(t)
	job := submit(t, c, f, "n1")
	ctx := testCtx(t)
	f.setJobs(func(req protocol.JobsRequest) protocol.JobsReply {
		switch req.Kind {
		case protocol.JobsCancel:
			if req.Job != job.ID() {
				return protocol.JobsReply{Error: "unknown job " + req.Job}
			}
			return protocol.JobsReply{}
		case protocol.JobsList:
			return protocol.JobsReply{Jobs: []protocol.JobStatus{{ID: job.ID()}, {ID: "other"}}}
		}
		return protocol.JobsReply{Jobs: []protocol.JobStatus{{ID: "other"}, {ID: req.Job, Total: 1}}}
	})
	if err := job.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	if req := <-f.jobReq; req.Kind != protocol.JobsCancel || req.Job != job.ID() {
		t.Fatalf("request %+v", req)
	}
	if err := c.Cancel(ctx, "nope"); err == nil || !strings.Contains(err.Error(), "unknown job nope") {
		t.Fatalf("cancel of an unknown job: %v", err)
	}
	jobs, err := c.Jobs(ctx)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("Jobs: %v %v", jobs, err)
	}
	st, err := c.Status(ctx, job.ID())
	if err != nil || st.ID != job.ID() || st.Total != 1 {
		t.Fatalf("Status: %+v %v", st, err)
	}
}
