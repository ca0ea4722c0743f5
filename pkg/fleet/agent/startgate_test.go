package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// isOpen reports whether key may start now.
func isOpen(g *startGate, key string) bool {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return g.wait(ctx, key) == nil
}

func TestStartGateOpensOnAck(t *testing.T) {
	g := newStartGate()
	g.pick("n1")
	g.pick("n2")
	if isOpen(g, "n1") {
		t.Fatal("open before its start was sent")
	}
	g.sent(1, 1) // n1's start in batch 1
	g.pick("n3")
	g.sent(3, 2) // n2 and n3 in batch 2
	g.acked(1)
	if !isOpen(g, "n1") || isOpen(g, "n2") {
		t.Fatal("ack of batch 1 must open n1 only")
	}
	done := make(chan error, 1)
	go func() { done <- g.wait(context.Background(), "n3") }()
	g.acked(2)
	if err := <-done; err != nil || !isOpen(g, "n2") {
		t.Fatalf("ack of batch 2: %v", err)
	}
}

// An ack wakes only the commands it opens the gate for: the others stay
// asleep on their own channel (a broadcast woke them all, for nothing),
// and one that gives up leaves the list.
func TestStartGateWakesOnlyTheOpened(t *testing.T) {
	g := newStartGate()
	g.pick("n1")
	g.pick("n2")
	waiting := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			g.mu.Lock()
			got := len(g.waiters)
			g.mu.Unlock()
			if got == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d waiters, want %d", got, n)
			}
		}
	}
	done1, done2 := make(chan error, 1), make(chan error, 1)
	go func() { done1 <- g.wait(context.Background(), "n1") }()
	go func() { done2 <- g.wait(context.Background(), "n2") }()
	waiting(2)
	g.sent(1, 1)
	g.acked(1)
	if err := <-done1; err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	left := g.waiters
	g.mu.Unlock()
	if len(left) != 1 || left[0].ticket != 2 {
		t.Fatalf("waiters after the ack of n1: %v, want n2's alone", left)
	}
	select {
	case err := <-done2:
		t.Fatalf("n2 returned (%v) before its start was acknowledged", err)
	default:
	}
	g.pick("n3")
	ctx, cancel := context.WithCancel(context.Background())
	done3 := make(chan error, 1)
	go func() { done3 <- g.wait(ctx, "n3") }()
	waiting(2)
	cancel()
	if err := <-done3; !errors.Is(err, context.Canceled) {
		t.Fatalf("n3: %v", err)
	}
	waiting(1)
	g.sent(2, 2)
	g.acked(2)
	if err := <-done2; err != nil {
		t.Fatal(err)
	}
	waiting(0)
}

// The flusher may send a start in a batch and only then record it (it
// read the pickup count before the engine counted that start): if the
// batch was acked meanwhile, no later ack covers it, so recording it
// opens the gate at once.
func TestStartGateAckedBeforeRecorded(t *testing.T) {
	g := newStartGate()
	g.sent(0, 1) // the flusher's count said 0; batch 1 carried the start
	g.pick("n1")
	g.acked(1)
	g.sent(1, 1) // nothing new to send: the start went out in batch 1
	if !isOpen(g, "n1") {
		t.Fatal("a start in an acknowledged batch is still held")
	}
}

func TestStartGateCancelled(t *testing.T) {
	g := newStartGate()
	g.pick("n1")
	g.sent(1, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := g.wait(ctx, "n1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait without an ack: %v", err)
	}
	// Stopped (the shard was cancelled), it never opens, acked or not.
	done := make(chan error, 1)
	go func() { done <- g.wait(context.Background(), "n1") }()
	g.stop()
	g.acked(1)
	if err := <-done; !errors.Is(err, errGateStopped) || isOpen(g, "n1") {
		t.Fatalf("wait at a stopped gate: %v", err)
	}
}

// A coordinator that never acknowledges a shard's starts (it gave the
// agent up: the agent was cut off or frozen meanwhile) never sees its
// commands run; its cancel ends them as cancelled. Nothing ran, so
// running the nodes on another agent runs nothing twice.
func TestNoCommandBeforeItsStartIsAcked(t *testing.T) {
	t.Parallel()
	_, c, a := fleet(t, Config{})
	c.ack.Store(false)
	dir := t.TempDir()
	sh := shardOf("held", []string{"h1", "h2"}, protocol.JobSpec{Command: "echo ran > " + dir + "/%h"})
	r := c.accept(a, sh)
	c.await(10*time.Second, func() bool {
		return len(r.batches) >= 1 // the starts
	})
	time.Sleep(300 * time.Millisecond) // what a command would take to run
	if files, _ := os.ReadDir(dir); len(files) > 0 {
		t.Fatalf("%d commands ran before their start was acknowledged", len(files))
	}
	c.control(a.ID(), protocol.Control{Kind: protocol.ControlCancel, Job: sh.Job})
	c.ack.Store(true)
	c.ackAll(a.ID())
	r = c.wait(sh.Key())
	c.mu.Lock() // batches unacked for a while may come again meanwhile
	ends := oneEnd(t, r.nodes(t, 2))
	c.mu.Unlock()
	for i, e := range ends {
		if e.State != protocol.StateCancel {
			t.Errorf("node %d: %s, want cancelled", i, e.State)
		}
	}
	if files, _ := os.ReadDir(dir); len(files) > 0 {
		t.Fatalf("%d cancelled commands ran", len(files))
	}

	// Acknowledged, the same commands run.
	sh = shardOf("acked", []string{"h1", "h2"}, protocol.JobSpec{Command: "echo ran > " + dir + "/%h"})
	for i, e := range oneEnd(t, c.run(a, sh).nodes(t, 2)) {
		if e.State != protocol.StateExited {
			t.Errorf("node %d: %s", i, e.State)
		}
	}
	for _, n := range []string{"h1", "h2"} {
		if b, err := os.ReadFile(filepath.Join(dir, n)); err != nil || string(b) != "ran\n" {
			t.Errorf("%s: %q %v", n, b, err)
		}
	}
}
