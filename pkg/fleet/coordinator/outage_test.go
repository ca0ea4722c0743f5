package coordinator

import (
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// A coordinator cut from NATS cannot hear its agents: their silence
// during the outage is its own, and must not make them lost. Here the
// NATS server is down for several LostAfter; when it is back the agent
// heartbeats again and finishes its shard, whose nodes end as they ran.
func TestOutageIsNotAgentSilence(t *testing.T) {
	srv, co, a, wait, s := agentJob(t, Config{Heartbeat: 100 * time.Millisecond, LostAfter: 300 * time.Millisecond}, protocol.JobSpec{ID: "jout", Nodes: "n[1-2]", Command: "true"})
	a.send(s, start(0, 1))
	// The starts reach the coordinator before the outage (a real agent
	// would retransmit them after it).
	if err := a.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := co.nc.Flush(); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	for co.nc.IsConnected() {
		time.Sleep(10 * time.Millisecond)
	}
	// An outage of ten LostAfter, seen from the coordinator's side.
	time.Sleep(3 * time.Second)
	srv.Restart(0)
	for !co.nc.IsConnected() || !a.nc.IsConnected() {
		time.Sleep(10 * time.Millisecond)
	}
	finishExited(t, co, a, s, wait)
	for _, st := range co.Agents() {
		if st.Lost {
			t.Errorf("agent %s declared lost for the coordinator's own outage", st.Agent)
		}
	}
}

// An agent that heartbeats but makes no progress does not hold a job for
// ever: past the progress deadline (connect + command timeout + grace)
// its shard is given up, the node it started ends "gateway lost", the
// one it never started runs on another agent, and it is told to cancel.
func TestStuckShardGivenUp(t *testing.T) {
	srv, _ := startCoordinator(t, Config{ProgressGrace: 200 * time.Millisecond})
	a := newFakeAgent(t, srv, "a1")
	wait := submit(t, srv, protocol.JobSpec{ID: "jstuck", Nodes: "n[1-2]", Command: "true",
		ConnectTimeout: 100 * time.Millisecond, CommandTimeout: 200 * time.Millisecond})
	s := a.shard()
	a.send(s, start(0)) // then nothing, while it heartbeats on
	b := newFakeAgent(t, srv, "a2")
	redo := b.shard()
	if n := expand(t, redo.Nodes); len(n) != 1 || n[0] != "n2" {
		t.Fatalf("the stuck shard's unstarted nodes went elsewhere as %v", n)
	}
	b.finish(redo, start(0), exit(0, 0))
	res := wait()
	if res.states["n1"] != protocol.StateLost || res.states["n2"] != protocol.StateExited {
		t.Errorf("states %v", res.states)
	}
	for {
		select {
		case ctl := <-a.ctl:
			if ctl.Kind == protocol.ControlCancel && ctl.Shard == s.ID {
				return
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the stuck agent was not told to cancel its shard")
		}
	}
}

// What an agent sent while the coordinator was cut from NATS is lost (the
// server had no subscription for it), and an agent whose window is full
// sends nothing more: at its reconnection the coordinator acks again what
// it merged and asks each live shard's agent for what follows, without
// waiting for the agent's stale-ack timer.
func TestReconnectionAsksForWhatFollows(t *testing.T) {
	_, co, a, wait, s := agentJob(t, Config{}, protocol.JobSpec{ID: "jre", Nodes: "n[1-2]", Command: "true"})
	a.waitAck(s, a.send(s, start(0, 1)))
	// Batch 2 "went" during the outage: never published.
	a.seqMu.Lock()
	a.seq[s.Key()]++
	a.seqMu.Unlock()
	if err := co.nc.ForceReconnect(); err != nil {
		t.Fatal(err)
	}
	var acked, asked bool
	for timeout := time.After(30 * time.Second); !acked || !asked; { // a hang catcher
		select {
		case c := <-a.ctl:
			switch {
			case c.Kind == protocol.ControlAck && c.Shard == s.ID && c.Seq == 1:
				acked = true
			case c.Kind == protocol.ControlRetransmit && c.Shard == s.ID:
				if c.Seq != 2 {
					t.Fatalf("retransmit from %d after the reconnection, want 2", c.Seq)
				}
				asked = true
			}
		case <-timeout:
			t.Fatalf("after its reconnection the coordinator acked again: %v, asked for batch 2: %v", acked, asked)
		}
	}
	a.sendSeq(s, 2, exit(0, 0, 1))
	a.doneOK(s, 2)
	res := wait()
	for _, n := range []string{"n1", "n2"} {
		if res.states[n] != protocol.StateExited {
			t.Errorf("%s ended %v, want exited", n, res.states[n])
		}
	}
}

// finishExited ends the outage tests: once the coordinator's
// subscriptions are back (its Flush), agent a ends shard s's two nodes
// with code 0, and both must end exited, not lost.
func finishExited(t *testing.T, co *Coordinator, a *fakeAgent, s protocol.Shard, wait func() result) {
	t.Helper()
	if err := co.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	a.finish(s, exit(0, 0, 1))
	res := wait()
	for _, n := range []string{"n1", "n2"} {
		if res.states[n] != protocol.StateExited {
			t.Errorf("%s ended %v after the outage, want exited", n, res.states[n])
		}
	}
}
