package coordinator

import (
	"encoding/binary"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// waitDropped waits until the coordinator dropped n messages in all.
func waitDropped(t *testing.T, co *Coordinator, n uint64) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for co.Dropped() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d messages dropped, want %d", co.Dropped(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// hugeBatch is issue 12's attack: a few hundred bytes whose records each
// name a run of protocol.MaxEventNodes nodes of shard s.
func hugeBatch(s protocol.Shard, agent string, records int) []byte {
	b := protocol.EventBatch{Job: s.Job, Shard: s.ID, Attempt: s.Attempt, Agent: agent, Seq: 1}
	head, _ := b.MarshalBinary()
	head = head[:len(head)-1] // the event count
	head = binary.AppendUvarint(head, uint64(records))
	for range records {
		head = append(head, byte(protocol.KindStdout))
		head = binary.AppendUvarint(head, 1)
		head = binary.AppendUvarint(head, 0)
		head = binary.AppendUvarint(head, protocol.MaxEventNodes-1)
		head = binary.AppendUvarint(head, 0)
	}
	return head
}

// neverLost is the configuration of the tests of what a message may hold:
// their fake agent, busy sending, is never declared lost on a loaded
// machine (CI once: TestOutputAckBeyondSentIgnored's agent silent for
// 305 ms of a 300 ms LostAfter while it sent 48 batches of 40 KiB).
var neverLost = Config{LostAfter: time.Hour}

func TestHugeBatchAllocatesNothing(t *testing.T) {
	_, co, a, wait, s := agentJob(t, neverLost, protocol.JobSpec{ID: "victim", Nodes: nodes(3), Command: "x"})
	data := hugeBatch(s, a.id, 34)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := a.nc.PublishMsg(wire.NewMsg(subj.Events(a.id, s.Job), protocol.TypeEventBatch, data)); err != nil {
		t.Fatal(err)
	}
	waitDropped(t, co, 1)
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<20 {
		t.Errorf("a %d-byte batch made the process allocate %d MB", len(data), got>>20)
	}
	// The victim's job still ends with its true results.
	a.send(s, start(0, 1, 2), line("true", 0, 1, 2))
	a.finish(s, exit(0, 0, 1, 2))
	res := wait()
	for _, n := range expand(t, nodes(3)) {
		if got := strings.Join(res.lines[n], " "); got != "true" || res.states[n] != protocol.StateExited {
			t.Errorf("%s: lines %q, state %s", n, got, res.states[n])
		}
	}
}

func TestWrongTypeDropped(t *testing.T) {
	srv, co, a, wait, s := agentJob(t, neverLost, protocol.JobSpec{ID: "victim", Nodes: nodes(2), Command: "x"})
	// A batch that says it is a heartbeat, a heartbeat sent as a batch,
	// and 7 bytes of nothing: none is decoded as what it is not.
	good := protocol.EventBatch{Job: s.Job, Shard: s.ID, Attempt: s.Attempt, Agent: a.id, Seq: 1,
		Events: []protocol.Event{exit(9, 0, 1)}}
	data, _ := good.MarshalBinary()
	nc := srv.Connect(t, "mallory")
	for _, m := range []struct {
		subject, typ string
		data         []byte
	}{
		{subj.Events(a.id, s.Job), protocol.TypeHeartbeat, data},
		{subj.Events(a.id, s.Job), protocol.TypeEventBatch, []byte("garbage")},
		{subj.Heartbeat(a.id), protocol.TypeEventBatch, []byte(`{"agent":"a1"}`)},
		{subj.OutputAck(testUser, s.Job), protocol.TypeEventBatch, []byte(`{"kind":"ack","seq":1}`)},
	} {
		if err := nc.PublishMsg(wire.NewMsg(m.subject, m.typ, m.data)); err != nil {
			t.Fatal(err)
		}
	}
	// A request of the wrong type gets no answer at all.
	msg := wire.NewMsg(subj.Submit("mallory"), protocol.TypeHeartbeat, []byte(`{"id":"x","nodes":"n1"}`))
	if _, err := nc.RequestMsg(msg, 200*time.Millisecond); err == nil {
		t.Error("a heartbeat on the submit subject was answered")
	}
	waitDropped(t, co, 5)
	if co.job("x") != nil {
		t.Error("a heartbeat was taken for a job")
	}
	a.send(s, start(0, 1), line("ok", 0, 1))
	a.finish(s, exit(0, 0, 1))
	res := wait()
	if res.codes["n000"] != 0 || res.codes["n001"] != 0 || strings.Join(res.lines["n001"], "") != "ok" {
		t.Errorf("result %+v", res)
	}
}

func TestOutputAckBeyondSentIgnored(t *testing.T) {
	srv, co, a, wait, s := agentJob(t, neverLost, protocol.JobSpec{ID: "victim", Nodes: nodes(1), Command: "x"})
	// One ack with a huge sequence number, then more output than the
	// output window holds: taken, the ack made every true ack look old
	// and the stream stalled after DefaultWindow batches.
	nc := srv.Connect(t, "mallory")
	if err := wire.PublishJSON(nc, subj.OutputAck(testUser, s.Job), protocol.TypeControl,
		protocol.Control{Kind: protocol.ControlAck, Job: s.Job, Seq: 1 << 62}); err != nil {
		t.Fatal(err)
	}
	waitDropped(t, co, 1)
	big := strings.Repeat("x", 40<<10)
	a.send(s, start(0))
	const lines = 3 * protocol.DefaultWindow
	for range lines {
		a.send(s, line(big, 0))
	}
	a.finish(s, exit(0, 0))
	res := wait()
	if got := len(res.lines["n000"]); got != lines || res.states["n000"] != protocol.StateExited {
		t.Errorf("%d lines, state %s", got, res.states["n000"])
	}
}

func TestBatchBeyondWindowDropped(t *testing.T) {
	_, co, a, wait, s := agentJob(t, neverLost, protocol.JobSpec{ID: "victim", Nodes: nodes(1), Command: "x"})
	a.sendSeq(s, 1<<40, line("forged", 0))
	waitDropped(t, co, 1)
	a.send(s, start(0))
	a.finish(s, exit(0, 0))
	if res := wait(); len(res.lines["n000"]) != 0 {
		t.Errorf("lines %q", res.lines["n000"])
	}
}

func TestSubmitFieldLimits(t *testing.T) {
	srv, _ := startCoordinator(t, Config{})
	nc := srv.Connect(t, "csub")
	for _, c := range []struct {
		spec protocol.JobSpec
		want string
	}{
		{protocol.JobSpec{ID: "j1", Nodes: "n1", Command: strings.Repeat("x", protocol.MaxCommand+1)}, "field command: 131073 bytes, over the limit of 131072"},
		{protocol.JobSpec{ID: "j2", Nodes: "n1", Copy: &protocol.CopySpec{Source: strings.Repeat("/x", protocol.MaxPath), Dest: "/tmp"}}, "field copy.source"},
		{protocol.JobSpec{ID: "j3", Nodes: "n1", Command: "x", Info: map[string]string{"ssh_options": strings.Repeat("o", protocol.MaxInfoValue+1)}}, "field info[ssh_options]"},
	} {
		r := request[protocol.SubmitReply](t, nc, subj.Submit(testUser), protocol.TypeJobSpec, c.spec)
		if !strings.Contains(r.Error, c.want) || r.Code != protocol.CodeBadRequest {
			t.Errorf("%s: error %q (%s), want %q", c.spec.ID, r.Error, r.Code, c.want)
		}
	}
}

func TestStatusTruncatesCommand(t *testing.T) {
	srv, co := startCoordinator(t, Config{})
	cmd := strings.Repeat("c", protocol.MaxCommand)
	submit(t, srv, protocol.JobSpec{ID: "long", Nodes: "n1", Command: cmd})()
	j := co.job("long")
	j.mu.Lock()
	st := j.status(true)
	j.mu.Unlock()
	if len(st.Command) > protocol.MaxReplyField+32 || !strings.HasPrefix(st.Command, "cccc") || !strings.HasSuffix(st.Command, "(131072 bytes)") {
		t.Errorf("status command of %d bytes: %.40q...", len(st.Command), st.Command)
	}
}

func TestUserNodeCap(t *testing.T) {
	srv, co := startCoordinator(t, Config{MaxJobNodes: 100, MaxUserNodes: 150})
	nc := srv.Connect(t, "csub")
	req := func(spec protocol.JobSpec) protocol.SubmitReply {
		t.Helper()
		return request[protocol.SubmitReply](t, nc, subj.Submit(spec.User), protocol.TypeJobSpec, spec)
	}
	// A finished job (no agent: every node ends at once) gives its room
	// to the same user's next job.
	submitAs(t, srv, "u", protocol.JobSpec{ID: "done1", Nodes: "n[1-100]", Command: "x"})()
	a := newFakeAgent(t, srv, "a1")
	if r := req(protocol.JobSpec{ID: "run1", User: "u", Nodes: "n[1-100]", Command: "x"}); r.Error != "" {
		t.Fatalf("second job: %s", r.Error)
	}
	a.shard()
	if co.job("done1") != nil {
		t.Error("the finished job was kept: the user is over the limit")
	}
	// A running job holds its room: the next is refused, another user's
	// is not.
	r := req(protocol.JobSpec{ID: "run2", User: "u", Nodes: "n[1-100]", Command: "x"})
	if !strings.Contains(r.Error, "user u has 100 nodes in running jobs: a job of 100 more is over the coordinator's limit of 150 nodes per user") || r.Code != protocol.CodeTooManyNodes {
		t.Errorf("third job: %q (%s)", r.Error, r.Code)
	}
	if r := req(protocol.JobSpec{ID: "other", User: "v", Nodes: "n[1-100]", Command: "x"}); r.Error != "" {
		t.Errorf("another user's job: %s", r.Error)
	}
}

// TestForgedHeartbeatsDropped is issue 12's "heartbeats forged for a dead
// agent kept a job waiting on it": heartbeats for a1 sent on another
// agent's subject are dropped, a1 is lost when it falls silent, and its
// job ends.
func TestForgedHeartbeatsDropped(t *testing.T) {
	srv, co, a, wait, s := agentJob(t, Config{}, protocol.JobSpec{ID: "victim", Nodes: nodes(2), Command: "x"})
	a.send(s, start(0, 1))
	a.silence()
	forger := srv.Connect(t, "a2")
	stop := make(chan struct{})
	forged := make(chan struct{})
	go func() {
		defer close(forged)
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		hb := protocol.Heartbeat{Hello: protocol.Hello{Agent: "a1", Name: "a1", Local: true, Capacity: 10}, Shards: []string{s.Key()}}
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				_ = wire.PublishJSON(forger, subj.Heartbeat("a2"), protocol.TypeHeartbeat, hb)
			}
		}
	}()
	res := wait()
	close(stop)
	<-forged
	for _, n := range expand(t, nodes(2)) {
		if res.states[n] != protocol.StateLost {
			t.Errorf("%s: %s, want %s", n, res.states[n], protocol.StateLost)
		}
	}
	if co.Dropped() == 0 {
		t.Error("no forged heartbeat dropped")
	}
}
