package integration

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// These tests run the fleet as real processes: a coordinator (embedding
// NATS, or joined to a NATS server), three agents in two gateway groups
// plus the coordinator's local agent, and 1 020 SSH nodes served by an
// in-process SSH server through an ssh_config. The test process is the
// submitter (pkg/fleet/client, the library csub uses).

func skipShort(t *testing.T) {
	if testing.Short() {
		t.Skip("fleet integration test: builds and starts real processes (skipped with -short)")
	}
}

func TestFleetThousandNodes(t *testing.T) {
	skipShort(t)
	f := startFleet(t, "")
	began := time.Now()
	res := f.run(protocol.JobSpec{ID: "many", Nodes: "node[1-1000],local[1-20]", Command: "echo hello; echo oops >&2; exit 3", Stderr: true}, nil)
	t.Logf("1020 nodes over ssh through 3 gateway agents + local agent: %v", time.Since(began).Round(time.Millisecond))
	counts := countStates(t, res)
	if counts[protocol.StateExited] != 1020 {
		t.Fatalf("states %v", counts)
	}
	for n, r := range res {
		if r.code != 3 || strings.Join(r.out, "|") != "hello" {
			t.Fatalf("%s: code %d out %q", n, r.code, r.out)
		}
	}

	// Gathered (-b): the same results, identical output sent once per
	// agent flush instead of once per node.
	res = f.run(protocol.JobSpec{ID: "gathered", Nodes: "node[1-1000],local[1-20]", Command: "echo same", Gather: true}, nil)
	counts = countStates(t, res)
	if counts[protocol.StateExited] != 1020 {
		t.Fatalf("gathered states %v", counts)
	}
	for n, r := range res {
		if r.code != 0 || strings.Join(r.out, "|") != "same" {
			t.Fatalf("gathered %s: code %d out %q", n, r.code, r.out)
		}
	}
}

// TestFleetDrain: SIGTERM drains an agent: its running shard finishes,
// then it exits 0. (An agent that dies instead, and the "no agent" its
// group's nodes then get, are fault scenarios: fault_agent_test.go.)
func TestFleetDrain(t *testing.T) {
	skipShort(t)
	f := startFleet(t, "")
	drained := false
	res := f.run(protocol.JobSpec{ID: "drain", Nodes: "node[701-800]", Command: "sleep 0.3; echo ok"}, func(el time.Duration) {
		if !drained && el > 300*time.Millisecond {
			drained = true
			_ = syscall.Kill(f.agents["gw3"].cmd.Process.Pid, syscall.SIGTERM)
		}
	})
	if c := countStates(t, res); c[protocol.StateExited] != 100 {
		t.Fatalf("drained agent's shard: %v", c)
	}
	select {
	case <-f.agents["gw3"].done:
		if err := f.agents["gw3"].err; err != nil {
			t.Errorf("drained agent exit: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("gw3 did not exit after draining")
	}
}

func TestFleetNATSRestart(t *testing.T) {
	skipShort(t)
	// An external server with the site's TLS and credentials, restarted
	// from the same nats-server.conf on the same port.
	srv := startSiteNATS(t, 0, fleetAgents...)
	f := startSiteFleet(t, srv)
	restarted := false
	res := f.run(protocol.JobSpec{ID: "restart", Nodes: "node[1-300],local[1-20]", Command: "sleep 0.3; echo x"}, func(el time.Duration) {
		if !restarted && el > time.Second {
			restarted = true
			srv.Restart(300 * time.Millisecond)
			t.Logf("NATS restarted at %v", el.Round(time.Millisecond))
		}
	})
	counts := countStates(t, res)
	t.Logf("after a NATS restart mid-job: %v", counts)
	if counts[protocol.StateExited]+counts[protocol.StateLost] != 320 {
		t.Fatalf("states %v", counts)
	}
	var lost []string
	for n, r := range res {
		if r.state == protocol.StateLost {
			lost = append(lost, n)
		}
	}
	if len(lost) > 0 {
		t.Logf("lost (reported by name): %v", lost)
	}
	_ = os.Getenv
	_ = fmt.Sprint
}
