package agent

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// ownCode matches a goroutine stack running the agent's code.
var ownCode = regexp.MustCompile(`fleet/agent\.\(\*(Agent|shard)\)`)

// handlerGuard is the frame of Agent.handle's guard, which may see a
// message NATS delivers as Run returns (and drop it).
var handlerGuard = regexp.MustCompile(`\(\*Agent\)\.handle\.func`)

// When Run returns, nothing the agent started runs any more: not its
// shards, their flushers and stdin feeds, nor a handler.
func TestRunWaitsForItsGoroutines(t *testing.T) {
	srv := newServer(t)
	c := newCoord(t, srv, protocol.Subjects{})
	c.welcome(protocol.Welcome{Heartbeat: 100 * time.Millisecond})
	a, stop, errc := testAgent(t, srv, Config{})
	waitRegistered(t, c, a)
	sh := shardOf("run", []string{"r1", "r2"}, protocol.JobSpec{Command: "cat", Stdin: true})
	c.accept(a, sh)
	// A chunk without EOF: the commands and the feed wait for more.
	ch := protocol.StdinChunk{Job: sh.Job, Shard: sh.ID, Attempt: sh.Attempt, Seq: 1, Data: []byte("x\n")}
	if _, err := wire.SendStdin(context.Background(), c.nc, c.subj.AgentStdin(a.ID()), &ch, time.Second, nil); err != nil {
		t.Fatal(err)
	}
	if len(natstest.Goroutines(ownCode, handlerGuard)) == 0 {
		t.Fatal("the agent runs no goroutine: the test proves nothing")
	}
	stop()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if left := natstest.Goroutines(ownCode, handlerGuard); len(left) > 0 {
		t.Fatalf("%d goroutines of the agent still run after Run returned:\n%s", len(left), strings.Join(left, "\n\n"))
	}
}
