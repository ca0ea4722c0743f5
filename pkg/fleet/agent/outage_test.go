package agent

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/internal/tcpproxy"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// An agent cut from NATS runs its started commands to their end (it starts
// no new one: startGate): their events go to its spool (past a tiny memory
// bound, to disk), nothing waits for the coordinator. Here the agent
// comes back first and resends what was in flight while the coordinator
// cannot hear it yet (its connection crosses a stalled proxy): the
// coordinator, once back, asks for what follows what it merged, although
// no ack is ever overdue (ResendAfter is an hour); every line arrives, in
// order, then the summary, and the spill files go.
func TestOutageSpillsAndResumes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := Config{MaxBuffered: 16 << 10, SpillDir: dir, ResendAfter: time.Hour}
	srv := natstest.Start(t, 0)
	proxy, err := tcpproxy.Start("127.0.0.1:" + strconv.Itoa(srv.Port()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	c := newCoordOn(t, natstest.Dial(t, "nats://"+proxy.Addr(), "coordinator"), cfg.Subjects)
	c.welcome(protocol.Welcome{Heartbeat: 200 * time.Millisecond})
	a, _, _ := testAgent(t, srv, cfg)
	waitRegistered(t, c, a)
	const lines = 40000
	nodes := []string{"o1", "o2", "o3"}
	sh := shardOf("outage", nodes, protocol.JobSpec{Command: "sleep 0.3; seq 1 " + strconv.Itoa(lines)})
	// A window the batches resent to nobody fill: the flusher then waits
	// for acks, and the summary with it.
	sh.Window = 2
	c.accept(a, sh)
	var s *shard
	// Every command started (the coordinator acknowledged its start)
	// before the outage; their output comes after it (sleep 0.3).
	waitFor(t, time.Minute, func() bool {
		s = a.lookup(sh.Key())
		if s == nil || s.gate == nil {
			return false
		}
		s.gate.mu.Lock()
		defer s.gate.mu.Unlock()
		return s.gate.open >= uint64(len(nodes))
	})
	a.mu.Lock()
	resumed := a.resumed
	a.mu.Unlock()
	natstest.Restart(t, srv.Port(), 0, func() {
		proxy.Stall()
		srv.Stop()
		// Every command ends while nobody can hear the agent.
		waitFor(t, time.Minute, func() bool {
			s = a.lookup(sh.Key())
			return s != nil && s.engineDone.Load()
		})
	}, func() error {
		ns, err := natstest.Run(srv.Port())
		if err == nil {
			srv.Server = ns
		}
		return err
	})
	select {
	case <-resumed: // the agent resent its in-flight batches to nobody
	case <-time.After(time.Minute): // a hang catcher
		t.Fatal("the agent did not reconnect")
	}
	proxy.Resume()
	if s.spool.spilledBytes() == 0 {
		t.Error("nothing spilled past a 16 KiB memory bound")
	}
	t.Logf("spilled %d bytes during the outage", s.spool.spilledBytes())
	r := c.wait(sh.Key())
	for i, n := range r.nodes(t, len(nodes)) {
		if len(n.stdout) != lines || len(n.ends) != 1 || n.ends[0].State != protocol.StateExited {
			t.Fatalf("%s: %d lines, ends %v", nodes[i], len(n.stdout), n.ends)
		}
		for j, l := range n.stdout {
			if l != strconv.Itoa(j+1) {
				t.Fatalf("%s: line %d is %q", nodes[i], j, l)
			}
		}
	}
	waitFor(t, 10*time.Second, func() bool { return a.lookup(sh.Key()) == nil })
	if left, _ := filepath.Glob(filepath.Join(dir, "*", "*.spill")); len(left) > 0 {
		t.Errorf("spill files left after the summary was acknowledged: %v", left)
	}
}

// What was in flight when the agent's connection went is sent again at
// the reconnection, not when its ack is overdue (an hour here) nor when a
// summary reply says it is missing (this coordinator never says so).
// (After a server restart the agent may reconnect before the coordinator
// does; its overdue batches then go with the stale timer, ResendAfter.)
func TestReconnectionResendsInFlight(t *testing.T) {
	t.Parallel()
	_, c, a := fleet(t, Config{ResendAfter: time.Hour})
	c.drop = func(b *protocol.EventBatch, n int) bool { return b.Seq == 1 && n == 1 } // lost with the connection
	c.done = func(sum protocol.ShardSummary, r *recv, _ int) protocol.DoneReply {
		return protocol.DoneReply{OK: r.reorder.Delivered() == sum.LastSeq}
	}
	sh := shardOf("inflight", []string{"f1"}, protocol.JobSpec{Command: "echo a; sleep 1; echo b"})
	r := c.accept(a, sh)
	c.await(30*time.Second, func() bool {
		return r.arrivals[1] == 1
	})
	if err := a.nc.ForceReconnect(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.done:
	case <-time.After(30 * time.Second): // a hang catcher: it takes about a second
		t.Fatal("batch 1 never came again")
	}
	got := r.nodes(t, 1)
	if strings.Join(got[0].stdout, ",") != "a,b" {
		t.Fatalf("stdout %q", got[0].stdout)
	}
}
