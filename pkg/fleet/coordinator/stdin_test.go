package coordinator

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// stdinOf makes fake agent a take the stdin chunks of its shards at once
// and hands them to the test.
func stdinOf(t *testing.T, a *fakeAgent) <-chan protocol.StdinChunk {
	ch := make(chan protocol.StdinChunk, 100)
	_, err := a.nc.Subscribe(subj.AgentStdin(a.id), func(m *nats.Msg) {
		var c protocol.StdinChunk
		if err := c.UnmarshalBinary(m.Data); err != nil {
			t.Error(err)
			return
		}
		c.Data = append([]byte(nil), c.Data...)
		ch <- c
		wire.RespondStdin(m, protocol.StdinAck{Seq: c.Seq})
	})
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// sendStdin sends chunks as a submitter, the last with EOF.
func sendStdin(t *testing.T, srv *natstest.Server, job string, chunks ...string) {
	t.Helper()
	nc := srv.Connect(t, "csub-stdin")
	for i, d := range chunks {
		c := protocol.StdinChunk{Job: job, Seq: uint64(i + 1), EOF: i == len(chunks)-1, Data: []byte(d)}
		if _, err := wire.SendStdin(context.Background(), nc, subj.Stdin(testUser, job), &c, time.Second, nil); err != nil {
			t.Fatalf("chunk %d: %v", i+1, err)
		}
	}
}

// takeChunks reads n chunks and returns their data joined, checking
// their order and that the last has EOF.
func takeChunks(t *testing.T, ch <-chan protocol.StdinChunk, n int) string {
	t.Helper()
	var got []string
	for i := 1; i <= n; i++ {
		select {
		case c := <-ch:
			if c.Seq != uint64(i) || c.EOF != (i == n) {
				t.Fatalf("chunk %d: seq %d eof %v", i, c.Seq, c.EOF)
			}
			got = append(got, string(c.Data))
		case <-time.After(10 * time.Second):
			t.Fatalf("chunk %d did not come", i)
		}
	}
	return strings.Join(got, "|")
}

// A shard re-dispatched after its agent was lost gets the whole standard
// input from the start while it is under MaxStdinKeep.
func TestStdinReachesRedispatchedShard(t *testing.T) {
	srv, _ := startCoordinator(t, Config{})
	a := newFakeAgent(t, srv, "a1")
	ain := stdinOf(t, a)
	wait := submit(t, srv, protocol.JobSpec{ID: "js1", Nodes: nodes(2), Command: "cat", Stdin: true})
	a.shard()
	b := newFakeAgent(t, srv, "b1")
	bin := stdinOf(t, b)
	sendStdin(t, srv, "js1", "a\n", "b\n", "")
	if got := takeChunks(t, ain, 3); got != "a\n|b\n|" {
		t.Fatalf("first agent got %q", got)
	}
	a.silence()
	s2 := b.shard()
	if got := takeChunks(t, bin, 3); got != "a\n|b\n|" {
		t.Fatalf("re-dispatched shard got %q", got)
	}
	b.finish(s2, start(0, 1), exit(0, 0, 1))
	if res := wait(); res.states["n000"] != protocol.StateExited || res.states["n001"] != protocol.StateExited {
		t.Fatalf("states %v", res.states)
	}
}

// Past MaxStdinKeep the coordinator keeps only what live shards have not
// taken: a shard dispatched afterwards ends its nodes in error, saying
// why, instead of running them on part of their input.
func TestStdinTrimmedFailsLateShard(t *testing.T) {
	srv, _ := startCoordinator(t, Config{MaxStdinKeep: 4})
	a := newFakeAgent(t, srv, "a1")
	ain := stdinOf(t, a)
	wait := submit(t, srv, protocol.JobSpec{ID: "js2", Nodes: nodes(2), Command: "cat", Stdin: true})
	a.shard()
	b := newFakeAgent(t, srv, "b1")
	sendStdin(t, srv, "js2", "aaaa", "bbbb", "")
	if got := takeChunks(t, ain, 3); got != "aaaa|bbbb|" {
		t.Fatalf("agent got %q", got)
	}
	a.silence()
	res := wait()
	for _, n := range []string{"n000", "n001"} {
		if res.states[n] != protocol.StateError {
			t.Errorf("%s: %q, want error", n, res.states[n])
		}
	}
	select {
	case s := <-b.shards:
		t.Fatalf("late shard dispatched: %+v", s)
	default:
	}
}

// A job that ended answers its submitter's chunks Done.
func TestStdinAfterTheEnd(t *testing.T) {
	srv, _, a, wait, s := agentJob(t, Config{}, protocol.JobSpec{ID: "js3", Nodes: nodes(1), Command: "true", Stdin: true})
	a.finish(s, start(0), exit(0, 0))
	wait()
	nc := srv.Connect(t, "late")
	ack, err := wire.SendStdin(context.Background(), nc, subj.Stdin(testUser, "js3"), &protocol.StdinChunk{Job: "js3", Seq: 1, Data: []byte("x")}, time.Second, nil)
	if err != nil || !ack.Done {
		t.Fatalf("ack %+v, %v", ack, err)
	}
}
