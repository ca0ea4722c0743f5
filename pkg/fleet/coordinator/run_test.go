package coordinator

import (
	"context"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// ownCode matches a goroutine stack running the coordinator's own code
// (not this package's test helpers).
var ownCode = regexp.MustCompile(`coordinator\.\(\*(Coordinator|follower|job|shard|stdinLog)\)`)

// handlerGuard is the frame of Coordinator.handle's guard, which may see
// a message NATS delivers as Run returns (and drop it).
var handlerGuard = regexp.MustCompile(`\(\*Coordinator\)\.handle\.func`)

// When Run returns, nothing the coordinator started runs any more: not
// the job's output streams (the submitter's and an attached one), not
// its shard senders, not the stdin relay waiting for input, not a
// handler.
func TestRunWaitsForItsGoroutines(t *testing.T) {
	srv := natstest.Start(t, 0)
	// Heartbeat: Run's own ticker (Heartbeat/2) stays out of the way.
	co, err := New(srv.Connect(t, "coordinator"), Config{Logger: natstest.Logger(t),
		Heartbeat: time.Hour, DispatchTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- co.Run(ctx) }()
	<-co.Ready()

	a := newFakeAgent(t, srv, "a1")
	ain := stdinOf(t, a)
	submit(t, srv, protocol.JobSpec{ID: "jr1", Nodes: nodes(3), Command: "cat", Stdin: true})
	s := a.shard()
	// A chunk without EOF: the relay then waits for more.
	chunk := protocol.StdinChunk{Job: "jr1", Seq: 1, Data: []byte("a\n")}
	if _, err := wire.SendStdin(context.Background(), srv.Connect(t, "csub-stdin"), subj.Stdin(testUser, "jr1"), &chunk, time.Second, nil); err != nil {
		t.Fatal(err)
	}
	if c := <-ain; string(c.Data) != "a\n" {
		t.Fatalf("agent got %q", c.Data)
	}
	a.send(s, start(0, 1, 2), line("x", 0))
	nc := srv.Connect(t, "attach")
	var reply protocol.JobsReply
	if err := wire.Request(context.Background(), nc, subj.Jobs(testUser), protocol.TypeJobsRequest,
		protocol.JobsRequest{Kind: protocol.JobsAttach, Job: "jr1", Stream: "st1"}, &reply); err != nil || reply.Error != "" {
		t.Fatalf("attach: %v %s", err, reply.Error)
	}
	// Hold the job's lock until the coordinator's goroutines wait for it
	// (its output stream at its next flush): a Run that did not wait for
	// them would return while they still run.
	j := co.job("jr1")
	j.mu.Lock()
	for deadline := time.Now().Add(20 * time.Second); !blocked(natstest.Goroutines(ownCode, handlerGuard)); runtime.Gosched() {
		if time.Now().After(deadline) {
			j.mu.Unlock()
			t.Fatal("no goroutine of the coordinator waits for the job: the test proves nothing")
		}
	}
	cancel()
	select {
	case <-ran:
		t.Fatalf("Run returned while its goroutines still ran:\n%s", strings.Join(natstest.Goroutines(ownCode, handlerGuard), "\n\n"))
	case <-time.After(200 * time.Millisecond): // Run waits for them, as it must
	}
	j.mu.Unlock()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	if left := natstest.Goroutines(ownCode, handlerGuard); len(left) > 0 {
		t.Fatalf("%d goroutines of the coordinator still run after Run returned:\n%s", len(left), strings.Join(left, "\n\n"))
	}
}

// blocked reports whether one of the stacks waits for a lock.
func blocked(stacks []string) bool {
	for _, g := range stacks {
		if strings.Contains(g, "sync.(*Mutex).Lock") {
			return true
		}
	}
	return false
}
