package daemon

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/fleet/agent"
	"github.com/fleetsh/fleetsh/pkg/fleet/client"
	"github.com/fleetsh/fleetsh/pkg/fleet/coordinator"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// The tests here run a real coordinator and a real agent, each on its own
// connection to a real NATS server, as two machines would.

// runPart runs a coordinator or agent until the test ends, or until the
// returned function stops it.
func runPart(t *testing.T, run func(context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = run(ctx) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

func newSigningKey(t *testing.T) nkeys.KeyPair {
	t.Helper()
	kp, _ := testutil.UserKey(t)
	return kp
}

// startPair starts a coordinator signing with key and a local agent
// trusting trusted, and waits for the agent to register.
func startPair(t *testing.T, srv *natstest.Server, key nkeys.KeyPair, trusted ...string) (*coordinator.Coordinator, *agent.Agent, func()) {
	t.Helper()
	co, err := coordinator.New(srv.Connect(t, "coordinator"), coordinator.Config{Logger: natstest.Logger(t),
		SigningKey: key, LostAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	stopCo := runPart(t, co.Run)
	<-co.Ready()
	ag, err := agent.New(srv.Connect(t, "agent"), agent.Config{Local: true, Name: "local", Worker: "exec",
		Logger: natstest.Logger(t), CoordinatorKeys: trusted})
	if err != nil {
		t.Fatal(err)
	}
	runPart(t, ag.Run)
	for len(co.Agents()) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	return co, ag, stopCo
}

// ended is what a submitter saw of one node.
type ended struct {
	state protocol.State
	code  int
	msg   string
	out   []string
}

// runJob submits spec and reads its stream to the end.
func runJob(t *testing.T, nc *nats.Conn, spec protocol.JobSpec) map[string]*ended {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	job, err := (&client.Client{Conn: nc, User: "victim"}).Submit(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	res := map[string]*ended{}
	for _, n := range job.Nodes() {
		res[n] = &ended{}
	}
	if err := testutil.ReadJob(ctx, job, func(node string, r protocol.Event) {
		e := res[node]
		switch r.Kind {
		case protocol.KindStdout:
			e.out = append(e.out, strings.TrimSuffix(string(r.Data), "\n"))
		case protocol.KindEnd:
			e.state, e.code, e.msg = r.State, r.Code, string(r.Data)
		}
	}); err != nil {
		t.Fatal(err)
	}
	return res
}

// An agent that does not trust the coordinator's key runs none of its
// shards: the job still ends, every node with an error saying why.
func TestUntrustedCoordinatorKey(t *testing.T) {
	srv := natstest.Start(t, 0)
	startPair(t, srv, newSigningKey(t), testPublicKey(t))
	marker := filepath.Join(t.TempDir(), "ran")
	res := runJob(t, srv.Connect(t, "csub"), protocol.JobSpec{Nodes: "n[1-3]", Worker: "exec", Command: "echo x >> " + marker})
	if len(res) != 3 {
		t.Fatalf("%d nodes", len(res))
	}
	for n, e := range res {
		if e.state != protocol.StateError || e.code != 255 || !strings.Contains(e.msg, "which this agent does not trust") {
			t.Errorf("%s: %+v", n, e)
		}
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("a command ran: %v", err)
	}
}

// A shard captured off the wire cannot be run again, nor changed, by
// whoever replays it, with the coordinator up or down; the victim's job
// ends with its true results, its command run once.
func TestCapturedShardReplayedAndTampered(t *testing.T) {
	srv := natstest.Start(t, 0)
	key := newSigningKey(t)
	pub, _ := key.PublicKey()
	_, ag, stopCo := startPair(t, srv, key, pub)

	// The attacker listens on the agent's shard subject.
	attacker := srv.Connect(t, "attacker")
	captured := make(chan []byte, 1)
	subj := protocol.Subjects{}
	if _, err := attacker.Subscribe(subj.Agent(ag.ID()), func(m *nats.Msg) {
		select {
		case captured <- m.Data:
		default:
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := attacker.Flush(); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "ran")
	res := runJob(t, srv.Connect(t, "csub"), protocol.JobSpec{Nodes: "n1", Worker: "exec", Command: "echo ran >> " + marker + "; echo hi %h"})
	if e := res["n1"]; e.state != protocol.StateExited || e.code != 0 || strings.Join(e.out, "|") != "hi n1" {
		t.Fatalf("victim's job: %+v", e)
	}
	shard := <-captured

	send := func(data []byte) protocol.ShardReply {
		t.Helper()
		var rep protocol.ShardReply
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := wire.RequestData(ctx, attacker, subj.Agent(ag.ID()), protocol.TypeShard, data, &rep); err != nil {
			t.Fatal(err)
		}
		return rep
	}
	tampered := bytes.Replace(shard, []byte("echo hi"), []byte("echo pwned"), 1)
	for _, phase := range []string{"coordinator up", "coordinator down"} {
		if rep := send(shard); rep.Accepted || rep.Code != protocol.CodeReplayed {
			t.Errorf("%s: replay: %+v", phase, rep)
		}
		if rep := send(tampered); rep.Accepted || rep.Code != protocol.CodeBadSignature {
			t.Errorf("%s: tampered: %+v", phase, rep)
		}
		stopCo()
	}
	if b, err := os.ReadFile(marker); err != nil || string(b) != "ran\n" {
		t.Fatalf("the command ran %q (%v), want once", b, err)
	}
}
