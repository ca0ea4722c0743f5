package coordinator

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Two coordinators with one store (JetStream replicas 3 on a cluster of
// three); the one that took a job stops mid-job as a crash would: the
// other declares it lost, claims the job in the registry and resumes it
// from the journal; the agent's unacked batch and its summary reach the
// new owner, which finishes the job with its whole output. The lost one,
// back, learns it was taken over and stops.
func TestTakeover(t *testing.T) {
	c := natstest.StartCluster(t, natstest.ClusterOptions{})
	cfg := Config{Heartbeat: 50 * time.Millisecond, LostAfter: 300 * time.Millisecond}
	a, stopA := storedCoordinator(t, onServer{c, 0}, "a", cfg)
	b, stopB := storedCoordinator(t, onServer{c, 1}, "b", cfg)
	for {
		if _, ok := a.Peers()["b"]; ok {
			if _, ok := b.Peers()["a"]; ok {
				break
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	ag := newFakeAgent(t, onServer{c, 2}, "g1")
	submit(t, onServer{c, 2}, protocol.JobSpec{ID: "jt", Nodes: "n[1-3]", Command: "echo"})
	s := ag.shard()
	first, stopFirst, survivor := a, stopA, b
	if b.job("jt") != nil {
		first, stopFirst, survivor = b, stopB, a
	}
	ag.send(s, start(0, 1, 2))
	seq := ag.send(s, line("hello", 0))
	ag.waitAck(s, seq) // the journal holds it
	stopFirst()

	last := ag.send(s, line("world", 1), exit(0, 0, 1, 2)) // unacked: nobody owns the job
	for survivor.job("jt") == nil {
		time.Sleep(10 * time.Millisecond)
	}
	ag.sendSeq(s, last, line("world", 1), exit(0, 0, 1, 2)) // resent, as the agent does
	ag.doneOK(s, last)
	res, st := attach(t, onServer{c, 2}, "jt", "n[1-3]")
	if !st.Done || st.Finals[protocol.StateExited] != 3 {
		t.Fatalf("status after the takeover: %+v", st)
	}
	if !slices.Equal(res.lines["n1"], []string{"hello"}) || !slices.Equal(res.lines["n2"], []string{"world"}) || res.ends != 3 {
		t.Fatalf("output after the takeover: %+v", res)
	}

	// Its presence names the instance it took over: that one, were it
	// only slow, stops on hearing it (TestTakenOverStops).
	survivor.mu.Lock()
	took := slices.Clone(survivor.peers.self.Took)
	survivor.mu.Unlock()
	if len(took) != 1 || took[0] != first.peers.self.Instance {
		t.Fatalf("took %v, want the first coordinator's instance %s", took, first.peers.self.Instance)
	}
}

// A coordinator that hears another's presence naming its own instance as
// taken over stops: its Run returns ErrTakenOver.
func TestTakenOverStops(t *testing.T) {
	srv := natstest.Start(t, 0)
	co, err := New(srv.Connect(t, "x"), Config{ID: "x", Heartbeat: 50 * time.Millisecond, Logger: natstest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- co.Run(t.Context()) }()
	<-co.Ready()
	co.mu.Lock()
	inst := co.peers.self.Instance
	co.mu.Unlock()
	nc := srv.Connect(t, "y")
	p := protocol.Presence{Coordinator: "y", Instance: "i", Took: []string{inst}}
	if err := wire.PublishJSON(nc, subj.Presence("y"), protocol.TypePresence, p); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrTakenOver) {
			t.Fatalf("Run: %v, want ErrTakenOver", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a coordinator taken over runs on")
	}
}

// A peer lost twice (heard again in between, as a presence delayed on a
// loaded route makes it) is named once in Presence.Took: TestTakeover saw
// the same instance five times under -race at load 50.
func TestTakeoverNamesInstanceOnce(t *testing.T) {
	srv := natstest.StartJetStream(t, t.TempDir())
	co, stop := storedCoordinator(t, srv, "s", Config{})
	defer stop()
	co.takeOver("gone", "inst-1")
	co.takeOver("gone", "inst-1")
	co.takeOver("other", "inst-2")
	co.mu.Lock()
	took := slices.Clone(co.peers.self.Took)
	co.mu.Unlock()
	if !slices.Equal(took, []string{"inst-1", "inst-2"}) {
		t.Fatalf("took %v, want [inst-1 inst-2]", took)
	}
}
