package coordinator

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// "no agent" says a node did not run. A job that may run its nodes again
// (RerunOnLoss) whose only agent is lost: the node that had started ends
// "gateway lost", naming the group nobody else serves; the node that had
// not started ends "no agent".
func TestLostStartedNodeIsNeverNoAgent(t *testing.T) {
	_, _, a, wait, s := agentJob(t, Config{Heartbeat: 100 * time.Millisecond, LostAfter: 300 * time.Millisecond}, protocol.JobSpec{ID: "jna", Nodes: nodes(3), Command: "x", RerunOnLoss: true})
	a.send(s, start(0, 1), exit(0, 0))
	if err := a.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	a.silence()
	res := wait()
	want := map[string]protocol.State{"n000": protocol.StateExited, "n001": protocol.StateLost, "n002": protocol.StateNoAgent}
	for n, st := range want {
		if res.states[n] != st {
			t.Errorf("%s ended %q, want %q", n, res.states[n], st)
		}
	}
}

// An agent that never answers its shard request but starts the command
// all the same: once the coordinator gives the request up, the started
// node ends "gateway lost" (it ran there: running it elsewhere would run
// it twice), the others run on another agent.
func TestUnconfirmedShardStartedNodeIsLost(t *testing.T) {
	srv, _ := startCoordinator(t, Config{DispatchTimeout: 100 * time.Millisecond})
	a := newFakeAgent(t, srv, "a1")
	a.ignore.Store(1 << 20) // every request unanswered
	got := make(chan protocol.Shard, 10)
	if _, err := a.nc.Subscribe(subj.Agent("a1"), func(m *nats.Msg) { got <- signedShard(t, m.Data, "a1") }); err != nil {
		t.Fatal(err)
	}
	if err := a.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	b := newFakeAgent(t, srv, "b1")
	wait := submit(t, srv, protocol.JobSpec{ID: "jun", Nodes: nodes(4), Command: "x"})
	sa := <-got
	a.send(sa, start(0))
	// b1 runs its own part, then what a1 never confirmed and had not
	// started.
	runs := 0
	for ran := 0; ran < 3; {
		sb := b.shard()
		n := len(expand(t, sb.Nodes))
		idx := make([]uint32, n)
		for i := range idx {
			idx[i] = uint32(i)
		}
		b.finish(sb, start(idx...), exit(0, idx...))
		ran += n
		runs++
	}
	res := wait()
	lost, exited := 0, 0
	for n, st := range res.states {
		switch st {
		case protocol.StateLost:
			lost++
		case protocol.StateExited:
			exited++
		default:
			t.Errorf("%s ended %q", n, st)
		}
	}
	if lost != 1 || exited != 3 || runs != 2 {
		t.Errorf("%d lost, %d exited in %d shards of b1; want 1, 3, 2", lost, exited, runs)
	}
}

// After an outage every client reconnects on its own backoff: an agent
// may come back seconds after the coordinator. Its silence meanwhile is
// the outage's, not its own: the coordinator counts it only from
// wire.MaxReconnectWait after its reconnection, and the agent, back
// later than LostAfter, finishes its shard.
func TestAgentBackLaterThanCoordinator(t *testing.T) {
	const lostAfter = 300 * time.Millisecond
	srv, co, a, wait, s := agentJob(t, Config{Heartbeat: 100 * time.Millisecond, LostAfter: lostAfter}, protocol.JobSpec{ID: "jlate", Nodes: "n[1-2]", Command: "true"})
	a.send(s, start(0, 1))
	if err := a.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	srv.Restart(200 * time.Millisecond)
	a.silence() // the agent is not back yet
	for !co.nc.IsConnected() || !a.nc.IsConnected() {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(4 * lostAfter)
	// Back: it heartbeats again and ends its nodes.
	hello := protocol.Hello{Agent: "a1", Name: "a1", Local: true, Capacity: 10}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			_ = wire.PublishJSON(a.nc, subj.Heartbeat("a1"), protocol.TypeHeartbeat, protocol.Heartbeat{Hello: hello})
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	finishExited(t, co, a, s, wait)
}
