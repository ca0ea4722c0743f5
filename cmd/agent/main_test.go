package main

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// The agent starts with its NATS server down, registers once it is up,
// heartbeats, and exits 0 on SIGTERM after a clean drain.
func TestStartBeforeServerAndDrain(t *testing.T) {
	srv := natstest.Start(t, 0)
	port, url := srv.Port(), srv.URL()
	srv.Stop()

	sigs := make(chan os.Signal, 2)
	logs := make(testutil.LogLines, 10000)
	code := make(chan int, 1)
	go func() {
		code <- run([]string{"--nats", url, "--prefix", "t1", "--name", "gw9", "--group", "a", "--group", "b",
			"--worker", "exec", "--info", "ssh_user=root", "--log-level", "debug", "--coordinator-key", newKey(t).pub}, logs, sigs)
	}()
	// It tries to register, and goes on trying, while the server is down.
	logs.Await(t, "registration")
	logs.Await(t, "registration")
	select {
	case c := <-code:
		t.Fatalf("exited %d with the server down", c)
	default:
	}

	srv = natstest.Start(t, port)
	nc := srv.Connect(t, "coordinator")
	subj := protocol.Subjects{Prefix: "t1"}
	hellos := make(chan protocol.Hello, 16)
	if _, err := nc.Subscribe(subj.AllRegisters(), func(m *nats.Msg) {
		var h protocol.Hello
		_ = protocol.Unmarshal(m.Data, &h)
		hellos <- h
		_ = wire.Respond(m, protocol.TypeWelcome, protocol.Welcome{Heartbeat: 100 * time.Millisecond})
	}); err != nil {
		t.Fatal(err)
	}
	hbs := make(chan protocol.Heartbeat, 64)
	if _, err := nc.Subscribe(subj.Heartbeats(), func(m *nats.Msg) {
		var hb protocol.Heartbeat
		_ = protocol.Unmarshal(m.Data, &hb)
		select {
		case hbs <- hb:
		default:
		}
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case h := <-hellos:
		if h.Name != "gw9" || strings.Join(h.Groups, ",") != "a,b" || h.Capacity != 64 {
			t.Errorf("hello %+v", h)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no hello")
	}
	select {
	case <-hbs:
	case <-time.After(5 * time.Second):
		t.Fatal("no heartbeat")
	}
	sigs <- syscall.SIGTERM
	logs.Await(t, "drained")
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("exit %d", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}

func TestBadFlags(t *testing.T) {
	key := newKey(t).pub
	for _, args := range [][]string{{"--info", "novalue"}, {"--log-level", "loud"}, {"--worker", "nope"}, {"extra"},
		{"--coordinator-key", "SUAKM3YKADXYDZCB5FXIPGOLZRZVW6GTDD4LYMO3M5WBZ246KK54MJFMJA"}, // a seed, not a public key
		{"--coordinator-key", key + ",nope"}, {"--max-buffer", "0"}, {"--max-spill", "lots"}, {"--max-buffer", "-1M"},
		{"--max-output", "0"}, {"--max-output", "lots"}, {"--cpu-profile", t.TempDir() + "/no/such/dir/cpu.pprof"}} {
		var logs strings.Builder
		if c := run(append(args, "--coordinator-key", key), &logs, nil); c != 2 {
			t.Errorf("%q: exit %d\n%s", args, c, logs.String())
		}
	}
	// No key at all: it must not start.
	var logs strings.Builder
	if c := run([]string{"--nats", "nats://127.0.0.1:1"}, &logs, nil); c != 2 || !strings.Contains(logs.String(), "no --coordinator-key") {
		t.Errorf("without a key: exit %d\n%s", c, logs.String())
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	bad := dir + "/bad.yaml"
	if err := os.WriteFile(bad, []byte("nmae: gw1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	if c := run([]string{"--config", bad}, &logs, nil); c != 2 || !strings.Contains(logs.String(), `unknown setting "nmae"`) {
		t.Errorf("exit %d\n%s", c, logs.String())
	}
	good := dir + "/good.yaml"
	if err := os.WriteFile(good, []byte("worker: nope\ncoordinator-key: ["+newKey(t).pub+"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	// The file's worker is read (and refused like the flag would be),
	// and so is its key (without one the agent would stop before).
	if c := run([]string{"--config", good}, &logs, nil); c != 2 || !strings.Contains(logs.String(), "nope") {
		t.Errorf("exit %d\n%s", c, logs.String())
	}
	// The spill settings are keys too.
	spill := dir + "/spill.yaml"
	if err := os.WriteFile(spill, []byte("max_buffer: 8M\nspill-dir: "+dir+"\nmax-spill: 0\ncoordinator-key: ["+newKey(t).pub+"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	if c := run([]string{"--config", spill}, &logs, nil); c != 2 || !strings.Contains(logs.String(), "max-spill: not a size") {
		t.Errorf("exit %d\n%s", c, logs.String())
	}
	// The example configuration is read whole (max-output: 64M included)
	// up to the flag's bad worker; its http port is left to the system.
	logs.Reset()
	if c := run([]string{"--config", "../../deploy/agent-gw1.yaml", "--coordinator-key", newKey(t).pub, "--worker", "nope",
		"--http", "127.0.0.1:0"}, &logs, nil); c != 2 ||
		!strings.Contains(logs.String(), "nope") {
		t.Errorf("deploy/agent-gw1.yaml: exit %d\n%s", c, logs.String())
	}
}

type testKey struct {
	kp  nkeys.KeyPair
	pub string
}

func newKey(t *testing.T) testKey {
	t.Helper()
	kp, pub := testutil.UserKey(t)
	return testKey{kp, pub}
}

// --coordinator-key takes keys comma-separated and repeated (a rotation):
// the agent runs shards signed by any of them, and refuses the others'.
func TestCoordinatorKeyFlag(t *testing.T) {
	srv := natstest.Start(t, 0)
	nc := srv.Connect(t, "coordinator")
	subj := protocol.Subjects{Prefix: "t2"}
	hellos := make(chan protocol.Hello, 16)
	sub := func(subject string, h nats.MsgHandler) {
		if _, err := nc.Subscribe(subject, h); err != nil {
			t.Fatal(err)
		}
	}
	sub(subj.AllRegisters(), func(m *nats.Msg) {
		var h protocol.Hello
		_ = protocol.Unmarshal(m.Data, &h)
		hellos <- h
		_ = wire.Respond(m, protocol.TypeWelcome, protocol.Welcome{Heartbeat: 100 * time.Millisecond})
	})
	sub(subj.AllDone(), func(m *nats.Msg) { _ = wire.Respond(m, protocol.TypeDoneReply, protocol.DoneReply{OK: true}) })
	// Batches are acked as a coordinator does: a command runs only once
	// the batch carrying its start is (the agent's startGate).
	sub(subj.AllEvents(), func(m *nats.Msg) {
		var b protocol.EventBatch
		if b.UnmarshalBinary(m.Data) == nil {
			_ = wire.PublishJSON(nc, subj.Control(b.Agent), protocol.TypeControl,
				protocol.Control{Kind: protocol.ControlAck, Job: b.Job, Shard: b.Shard, Attempt: b.Attempt, Seq: b.Seq})
		}
	})
	k1, k2, k3, stranger := newKey(t), newKey(t), newKey(t), newKey(t)
	profile := t.TempDir() + "/cpu.pprof" // --cpu-profile rides along
	sigs := make(chan os.Signal, 2)
	logs := make(testutil.LogLines, 10000)
	code := make(chan int, 1)
	go func() {
		code <- run([]string{"--nats", srv.URL(), "--prefix", "t2", "--name", "gw9", "--worker", "exec",
			"--coordinator-key", k1.pub + "," + k2.pub, "--coordinator-key", k3.pub, "--cpu-profile", profile}, logs, sigs)
	}()
	var h protocol.Hello
	select {
	case h = <-hellos:
	case <-time.After(time.Minute):
		t.Fatal("no hello")
	}
	for i, k := range []testKey{k1, k2, k3, stranger} {
		sh := protocol.Shard{Job: "j", ID: "s1", Attempt: i + 1, Nodes: "n1", Spec: protocol.JobSpec{Command: "true"}}
		data, err := protocol.SignShard(k.kp, h.Agent, &sh, time.Now(), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		var rep protocol.ShardReply
		if err := wire.RequestData(context.Background(), nc, subj.Agent(h.Agent), protocol.TypeShard, data, &rep); err != nil {
			t.Fatal(err)
		}
		if want := k != stranger; rep.Accepted != want || (!want && rep.Code != protocol.CodeBadSignature) {
			t.Errorf("key %d: %+v", i+1, rep)
		}
	}
	sigs <- syscall.SIGTERM
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("exit %d", c)
		}
	case <-time.After(time.Minute):
		t.Fatal("no exit after SIGTERM")
	}
	// A complete profile is gzipped protobuf (go tool pprof reads it).
	if data, err := os.ReadFile(profile); err != nil || len(data) < 20 || data[0] != 0x1f || data[1] != 0x8b {
		t.Errorf("--cpu-profile: %d bytes, %v", len(data), err)
	}
}
