package coordinator

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/pkg/fleet/store"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// storedCoordinator runs a coordinator with a store on srv (JetStream)
// under id; stop ends its Run as a crash would: nothing is written at
// stop, what the journal had not stored is lost.
func storedCoordinator(t *testing.T, srv natsServer, id string, cfg Config) (co *Coordinator, stop func()) {
	t.Helper()
	nc := srv.Connect(t, "coordinator-"+id)
	replicas := 1
	if _, ok := srv.(onServer); ok {
		replicas = 3 // a server of a three-server cluster (peers_test.go)
	}
	st, err := store.Open(context.Background(), nc, store.Config{MaxBytes: 64 << 20, Replicas: replicas})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store, cfg.ID, cfg.Logger = st, id, natstest.Logger(t)
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 100 * time.Millisecond
	}
	if cfg.DispatchTimeout == 0 {
		cfg.DispatchTimeout = 300 * time.Millisecond
	}
	co, err = New(nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = co.Run(ctx) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	select {
	case <-co.Ready():
	case <-done:
		t.Fatal("coordinator stopped at start")
	}
	return co, stop
}

// waitAck waits for the coordinator's ack of a's shard s up to seq.
func (a *fakeAgent) waitAck(s protocol.Shard, seq uint64) {
	a.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case c := <-a.ctl:
			if c.Kind == protocol.ControlAck && c.Shard == s.ID && c.Seq >= seq {
				return
			}
		case <-timeout:
			a.t.Fatalf("%s: no ack of %s up to %d", a.id, s.Key(), seq)
		}
	}
}

// attach opens a new output stream of job and reads it to its end.
func attach(t *testing.T, srv natsServer, job, ns string) (result, protocol.JobStatus) {
	t.Helper()
	nc := srv.Connect(t, "attach")
	msgs := make(chan *nats.Msg, 10000)
	stream := "at" + job
	sub, err := nc.ChanSubscribe(subj.Output(testUser, stream), msgs)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	var r protocol.JobsReply
	if err := wire.Request(context.Background(), nc, subj.Jobs(testUser), protocol.TypeJobsRequest,
		protocol.JobsRequest{Kind: protocol.JobsAttach, Job: job, Stream: stream}, &r); err != nil || r.Error != "" || len(r.Jobs) != 1 {
		t.Fatalf("attach %s: %v %s", job, err, r.Error)
	}
	return readStream(t, nc, msgs, testUser, stream, ns), r.Jobs[0]
}

func list(t *testing.T, srv *natstest.Server) []protocol.JobStatus {
	t.Helper()
	var r protocol.JobsReply
	if err := wire.Request(context.Background(), srv.Connect(t, "list"), subj.Jobs(testUser), protocol.TypeJobsRequest,
		protocol.JobsRequest{Kind: protocol.JobsList}, &r); err != nil || r.Error != "" {
		t.Fatalf("list: %v %s", err, r.Error)
	}
	return r.Jobs
}

// A coordinator stopped mid-job and a new one on the same store: the new
// one resumes the job from its journal, takes the agent's resent batches
// (those it had acked are duplicates, the others continue the sequence)
// and its summary, and finishes the job; the output is whole, once. A
// third coordinator lists the finished job and loads it when attached.
func TestStoreResumesJob(t *testing.T) {
	srv := natstest.StartJetStream(t, t.TempDir())
	_, stop := storedCoordinator(t, srv, "c1", Config{})
	a := newFakeAgent(t, srv, "a1")
	submit(t, srv, protocol.JobSpec{ID: "jres", Nodes: "n[1-3]", Command: "echo"})
	s := a.shard()
	a.send(s, start(0, 1, 2))
	seq := a.send(s, line("hello", 0))
	a.waitAck(s, seq) // acked: the journal holds it
	stop()

	// Sent while no coordinator listens: the agent keeps it unacked.
	last := a.send(s, line("world", 1), exit(0, 0, 1, 2))
	co2, stop2 := storedCoordinator(t, srv, "c1", Config{})
	a.sendSeq(s, seq, line("hello", 0)) // a batch acked before: a duplicate
	a.sendSeq(s, last, line("world", 1), exit(0, 0, 1, 2))
	a.doneOK(s, last)
	res, st := attach(t, srv, "jres", "n[1-3]")
	if !st.Done || st.Finals[protocol.StateExited] != 3 {
		t.Fatalf("status after the restart: %+v", st)
	}
	if !slices.Equal(res.lines["n1"], []string{"hello"}) || !slices.Equal(res.lines["n2"], []string{"world"}) || res.ends != 3 {
		t.Fatalf("output after the restart: %+v", res)
	}
	if co2.Stats().Duplicates == 0 {
		t.Error("the batch acked before the restart was merged again")
	}
	// The end reaches the registry (written after the journal's).
	deadline := time.Now().Add(5 * time.Second)
	for {
		js := list(t, srv)
		if len(js) == 1 && js[0].Done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("list: %+v", js)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the registry update of the end
	stop2()

	co3, _ := storedCoordinator(t, srv, "c1", Config{})
	js := list(t, srv)
	if len(js) != 1 || js[0].ID != "jres" || !js[0].Done || js[0].Finals[protocol.StateExited] != 3 || js[0].Nodes != "n[1-3]" {
		t.Fatalf("list after a second restart: %+v", js)
	}
	co3.mu.Lock()
	loaded := len(co3.jobs)
	co3.mu.Unlock()
	if loaded != 0 {
		t.Errorf("%d finished jobs loaded at start, want none until attached", loaded)
	}
	res, _ = attach(t, srv, "jres", "n[1-3]")
	if !slices.Equal(res.lines["n1"], []string{"hello"}) || !slices.Equal(res.lines["n2"], []string{"world"}) || res.states["n3"] != protocol.StateExited {
		t.Fatalf("output of the finished job after a second restart: %+v", res)
	}
}

// crashAfterStart runs job n[1-2] on agent a1 until n1 started (acked),
// then stops the coordinator and the agent, and starts a new coordinator
// with cfg on the same store.
func crashAfterStart(t *testing.T, job string, cfg Config) *natstest.Server {
	t.Helper()
	srv := natstest.StartJetStream(t, t.TempDir())
	_, stop := storedCoordinator(t, srv, "c1", cfg)
	a := newFakeAgent(t, srv, "a1")
	submit(t, srv, protocol.JobSpec{ID: job, Nodes: "n[1-2]", Command: "echo"})
	s := a.shard()
	seq := a.send(s, start(0))
	a.waitAck(s, seq)
	stop()
	a.silence()
	a.nc.Close() // killed
	storedCoordinator(t, srv, "c1", cfg)
	return srv
}

// After a restart, an agent of a resumed job that is not heard from
// within LostAfter is lost as usual: its started nodes end "gateway
// lost"; a shard whose dispatch the agent never confirmed is sent again.
func TestStoreResumedAgentLost(t *testing.T) {
	srv := crashAfterStart(t, "jlost", Config{LostAfter: 300 * time.Millisecond})
	b := newFakeAgent(t, srv, "b1")
	// n2 never started: it runs on b1.
	s2 := b.shard()
	b.finish(s2, start(0), exit(0, 0))
	res, _ := attach(t, srv, "jlost", "n[1-2]")
	if res.states["n1"] != protocol.StateLost || res.states["n2"] != protocol.StateExited {
		t.Fatalf("states after the restart: %v", res.states)
	}
}

// The coordinator's own ends name nodes of several shards, or of a shard
// in its agent's order: the record lists them ascending, as its encoding
// (the output stream's, the journal's) requires.
func TestFinishManySortsNodes(t *testing.T) {
	cfg := Config{}
	cfg.defaults()
	c := &Coordinator{cfg: cfg, log: natstest.Logger(t)}
	j := newJob(c, protocol.JobSpec{ID: "j"}, []string{"a", "b", "c", "d"})
	j.finishMany([]uint32{3, 0, 2}, protocol.StateLost, "lost")
	if len(j.log) != 1 || !slices.Equal(j.log[0].Nodes, []uint32{0, 2, 3}) || !slices.Equal(j.logIdx, []uint64{0}) || j.emitted != 1 {
		t.Fatalf("log %+v, indexes %v, emitted %d", j.log, j.logIdx, j.emitted)
	}
	b := protocol.EventBatch{Events: j.log}
	if _, err := b.MarshalBinary(); err != nil {
		t.Fatal(err)
	}
}

// An agent restarted along with the coordinator no longer holds the
// shards it took: its first heartbeat says so, and the resumed job gives
// them up at once (started nodes lost, the others run again, here on the
// same agent) instead of waiting for batches that will never come.
func TestStoreAgentRestartedToo(t *testing.T) {
	srv := crashAfterStart(t, "jagain", Config{LostAfter: time.Hour})
	b := newFakeAgent(t, srv, "a1") // the same agent, restarted: it holds nothing
	s2 := b.shard()
	if s2.Nodes != "n2" {
		t.Fatalf("shard %+v: want n2 again", s2)
	}
	b.finish(s2, start(0), exit(0, 0))
	res, _ := attach(t, srv, "jagain", "n[1-2]")
	if res.states["n1"] != protocol.StateLost || res.states["n2"] != protocol.StateExited {
		t.Fatalf("states: %v", res.states)
	}
}
