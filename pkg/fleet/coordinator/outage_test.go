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
	srv, co := startCoordinator(t, Config{Heartbeat: 100 * time.Millisecond, LostAfter: 300 * time.Millisecond})
	a := newFakeAgent(t, srv, "a1")
	wait := submit(t, srv, protocol.JobSpec{ID: "jout", Nodes: "n[1-2]", Command: "true"})
	s := a.shard()
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
	if err := co.nc.Flush(); err != nil { // its subscriptions are back
		t.Fatal(err)
	}

	seq := a.send(s, exit(0, 0, 1))
	if r := a.doneEventually(s, seq); !r.OK {
		t.Fatalf("summary after the outage: %+v", r)
	}
	res := wait()
	for _, n := range []string{"n1", "n2"} {
		if res.states[n] != protocol.StateExited {
			t.Errorf("%s ended %v after an outage of the coordinator's own, want exited", n, res.states[n])
		}
	}
	for _, st := range co.Agents() {
		if st.Lost {
			t.Errorf("agent %s declared lost for the coordinator's own outage", st.Agent)
		}
	}
}
