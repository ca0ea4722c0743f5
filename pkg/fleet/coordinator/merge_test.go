package coordinator

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

func TestNoAgentFailsAtOnce(t *testing.T) {
	srv, _ := startCoordinator(t, Config{})
	began := time.Now()
	res := submit(t, srv, protocol.JobSpec{ID: "j1", Nodes: nodes(5), Command: "true"})()
	if res.ends != 5 {
		t.Fatalf("ends %d", res.ends)
	}
	for n, st := range res.states {
		if st != protocol.StateNoAgent {
			t.Errorf("%s: %s", n, st)
		}
	}
	if d := time.Since(began); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestMergeInOrderDropsDuplicatesAndRepairsGaps(t *testing.T) {
	_, co, a, wait, s := agentJob(t, Config{}, protocol.JobSpec{ID: "j2", Nodes: nodes(3), Command: "x"})
	if s.Nodes != "n[000-002]" || s.Spec.Command != "x" || s.Window != protocol.DefaultWindow {
		t.Fatalf("shard %+v", s)
	}
	a.sendSeq(s, 1, start(0, 1, 2), line("one", 0))
	a.sendSeq(s, 3, line("three", 0), exit(0, 0, 1))
	a.sendSeq(s, 1, line("dup", 0)) // duplicate: dropped
	// The gap at 2 makes the coordinator ask for it again.
	deadline := time.After(5 * time.Second)
	for retrans := false; !retrans; {
		select {
		case c := <-a.ctl:
			retrans = c.Kind == protocol.ControlRetransmit && c.Seq == 2
		case <-deadline:
			t.Fatal("no retransmit request for seq 2")
		}
	}
	if r := a.done(s, 4); len(r.Missing) != 2 || r.Missing[0] != 2 || r.Missing[1] != 4 {
		t.Fatalf("done before seq 2 and 4: %+v", r)
	}
	a.sendSeq(s, 2, line("two", 0))
	a.sendSeq(s, 4, exit(3, 2))
	a.doneOK(s, 4)
	res := wait()
	if got := strings.Join(res.lines["n000"], " "); got != "one two three" {
		t.Errorf("n000 lines %q", got)
	}
	if res.codes["n002"] != 3 || res.states["n001"] != protocol.StateExited || res.ends != 3 {
		t.Errorf("result %+v", res)
	}
	st := co.Stats()
	if st.Duplicates != 1 || st.Gaps == 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestLostAgentRedispatchesUnstartedAndLosesStarted(t *testing.T) {
	srv, _, a, wait, s := agentJob(t, Config{}, protocol.JobSpec{ID: "j3", Nodes: nodes(6), Command: "x"})
	b := newFakeAgent(t, srv, "b1") // joins after the split
	a.send(s, start(0, 1, 2), exit(0, 0))
	time.Sleep(100 * time.Millisecond)
	a.silence() // kill -9: no more heartbeats, no summary
	s2 := b.shard()
	if s2.Nodes != "n[003-005]" || s2.Attempt != 1 {
		t.Fatalf("re-dispatched shard %+v", s2)
	}
	b.finish(s2, start(0, 1, 2), line("hi", 0, 1, 2), exit(0, 0, 1, 2))
	res := wait()
	want := map[string]protocol.State{"n000": protocol.StateExited, "n001": protocol.StateLost, "n002": protocol.StateLost,
		"n003": protocol.StateExited, "n004": protocol.StateExited, "n005": protocol.StateExited}
	for n, st := range want {
		if res.states[n] != st {
			t.Errorf("%s: %q, want %q", n, res.states[n], st)
		}
	}
	// The lost agent's late summary is refused.
	if r := a.done(s, 1); r.OK || !strings.Contains(r.Error, "lost") {
		t.Errorf("late summary: %+v", r)
	}
}

func TestCancelReachesAgentsAndEndsNodes(t *testing.T) {
	srv, _, a, wait, s := agentJob(t, Config{CancelGrace: 300 * time.Millisecond}, protocol.JobSpec{ID: "j4", Nodes: nodes(4), Command: "sleep 100"})
	a.send(s, start(0, 1, 2, 3))
	nc := srv.Connect(t, "canceller")
	var r protocol.JobsReply
	if err := wire.Request(context.Background(), nc, subj.Jobs(testUser), protocol.TypeJobsRequest, protocol.JobsRequest{Kind: protocol.JobsCancel, Job: "j4"}, &r); err != nil || r.Error != "" {
		t.Fatal(err, r.Error)
	}
	for c := range a.ctl {
		if c.Kind == protocol.ControlCancel && c.Job == "j4" {
			break
		}
	}
	// The agent confirms two nodes; the coordinator ends the rest after
	// the grace period.
	a.send(s, protocol.Event{Kind: protocol.KindEnd, Nodes: []uint32{0, 1}, State: protocol.StateCancel})
	res := wait()
	for _, n := range []string{"n000", "n001", "n002", "n003"} {
		if res.states[n] != protocol.StateCancel {
			t.Errorf("%s: %q", n, res.states[n])
		}
	}
}

func TestSubmitRefusals(t *testing.T) {
	srv, _ := startCoordinator(t, Config{})
	nc := srv.Connect(t, "csub")
	cases := []struct {
		spec protocol.JobSpec
		want string
	}{
		{protocol.JobSpec{ID: "a.b", Nodes: "n1", Command: "x"}, "job id"},
		{protocol.JobSpec{ID: "j", Nodes: "n[1-", Command: "x"}, "job nodes"},
		{protocol.JobSpec{ID: "j", Nodes: "", Command: "x"}, "no node"},
	}
	for _, c := range cases {
		var r protocol.SubmitReply
		if err := wire.Request(context.Background(), nc, subj.Submit(testUser), protocol.TypeJobSpec, c.spec, &r); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(r.Error, c.want) {
			t.Errorf("%+v: error %q, want %q", c.spec, r.Error, c.want)
		}
	}
	// An unknown protocol version is refused with both versions named.
	m := wire.NewMsg(subj.Submit(testUser), protocol.TypeJobSpec, []byte(`{}`))
	m.Header.Set(protocol.HeaderVersion, "7")
	reply, err := nc.RequestMsg(m, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var r protocol.SubmitReply
	_ = protocol.Unmarshal(reply.Data, &r)
	if !strings.Contains(r.Error, "version 7 is not supported (this side speaks version "+protocol.VersionHeader+")") {
		t.Errorf("version refusal %q", r.Error)
	}
	_ = nats.ErrTimeout
}

func TestLostAgentRerunsStartedWhenAllowed(t *testing.T) {
	srv, _, a, wait, s := agentJob(t, Config{}, protocol.JobSpec{ID: "j5", Nodes: nodes(3), Command: "x", RerunOnLoss: true})
	b := newFakeAgent(t, srv, "b1")
	a.send(s, start(0, 1, 2), exit(0, 0))
	time.Sleep(100 * time.Millisecond)
	a.silence()
	s2 := b.shard()
	if s2.Nodes != "n[001-002]" {
		t.Fatalf("re-run shard %v", s2.Nodes)
	}
	b.finish(s2, start(0, 1), exit(0, 0, 1))
	res := wait()
	for _, n := range []string{"n000", "n001", "n002"} {
		if res.states[n] != protocol.StateExited {
			t.Errorf("%s: %q", n, res.states[n])
		}
	}
}

func TestRefusedShard(t *testing.T) {
	srv, _ := startCoordinator(t, Config{})
	a := newFakeAgent(t, srv, "a1")
	b := newFakeAgent(t, srv, "b1")
	// A busy (draining) agent's nodes go to another agent; a refusal of
	// the job itself ends the nodes with the agent's reason.
	a.refuse.Store(&protocol.ShardReply{Error: "agent a1 is draining", Busy: true})
	b.refuse.Store(&protocol.ShardReply{Error: `agent b1: unknown worker "nope"`})
	res := submit(t, srv, protocol.JobSpec{ID: "j6", Nodes: nodes(4), Command: "x", Worker: "nope"})()
	for n, st := range res.states {
		if st != protocol.StateError {
			t.Errorf("%s: %q", n, st)
		}
	}
	if res.ends != 4 {
		t.Errorf("%d ends", res.ends)
	}
}
