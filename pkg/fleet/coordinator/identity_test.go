package coordinator

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/fleet/policy"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// The coordinator takes a sender's identity from the subject a message
// arrived on (on a fleet with credentials, the NATS server lets only that
// identity publish there: see pkg/fleet/auth). These tests check the
// coordinator's side: whatever a message says about its sender, it acts
// for the subject's identity only.

func jobsRequest(t *testing.T, nc *nats.Conn, user string, req protocol.JobsRequest) protocol.JobsReply {
	t.Helper()
	return request[protocol.JobsReply](t, nc, subj.Jobs(user), protocol.TypeJobsRequest, req)
}

// A user neither sees nor controls another user's job; an admin (of the
// built-in policy) does; the owner's job ends with its true results.
func TestJobsOfOthers(t *testing.T) {
	srv, _ := startCoordinator(t, Config{Policy: policy.Default([]string{"root"})})
	a := newFakeAgent(t, srv, "a1")
	wait := submitAs(t, srv, "alice", protocol.JobSpec{ID: "jal", User: "bob", Nodes: "n[1-2]", Command: "true"})
	s := a.shard()
	if s.Spec.User != "alice" {
		t.Errorf("the job belongs to %q, not to the submitter alice (the spec said bob)", s.Spec.User)
	}
	nc := srv.Connect(t, "bob")
	if r := jobsRequest(t, nc, "bob", protocol.JobsRequest{Kind: protocol.JobsList}); len(r.Jobs) != 0 {
		t.Errorf("bob lists %+v", r.Jobs)
	}
	for _, kind := range []string{protocol.JobsStatus, protocol.JobsCancel, protocol.JobsAttach} {
		r := jobsRequest(t, nc, "bob", protocol.JobsRequest{Kind: kind, Job: "jal", Stream: "bobstream"})
		if r.Code != protocol.CodeUnknownJob || len(r.Jobs) != 0 {
			t.Errorf("bob's %s of alice's job: %+v", kind, r)
		}
	}
	if r := jobsRequest(t, nc, "root", protocol.JobsRequest{Kind: protocol.JobsList}); len(r.Jobs) != 1 || r.Jobs[0].User != "alice" {
		t.Errorf("the admin lists %+v", r.Jobs)
	}
	if r := jobsRequest(t, nc, "root", protocol.JobsRequest{Kind: protocol.JobsStatus, Job: "jal"}); r.Error != "" {
		t.Errorf("the admin's status: %s", r.Error)
	}
	if r := jobsRequest(t, nc, "bob", protocol.JobsRequest{Kind: protocol.JobsAgents}); r.Code != protocol.CodeDenied || len(r.Agents) != 0 {
		t.Errorf("bob lists the agents: %+v", r)
	}
	if r := jobsRequest(t, nc, "root", protocol.JobsRequest{Kind: protocol.JobsAgents}); r.Error != "" || len(r.Agents) != 1 {
		t.Errorf("the admin lists the agents: %+v", r)
	}
	// Bob acks alice's stream and sends her standard input: ignored.
	_ = wire.PublishJSON(nc, subj.OutputAck("bob", "jal"), protocol.TypeControl, protocol.Control{Kind: protocol.ControlAck, Job: "jal", Seq: 1 << 40})
	ack, err := wire.SendStdin(context.Background(), nc, subj.Stdin("bob", "jal"), &protocol.StdinChunk{Job: "jal", Seq: 1, Data: []byte("x")}, time.Second, nil)
	if err == nil && ack.Error == "" {
		t.Errorf("bob fed alice's job: %+v", ack)
	}
	a.finish(s, start(0, 1), line("real", 0, 1), exit(0, 0, 1))
	res := wait()
	for _, n := range []string{"n1", "n2"} {
		if res.states[n] != protocol.StateExited || len(res.lines[n]) != 1 || res.lines[n][0] != "real" {
			t.Errorf("%s: %v %q", n, res.states[n], res.lines[n])
		}
	}
}

// Events, summaries and hellos sent on one agent's subjects for another
// agent are refused; the real agent's results stand.
func TestAgentImpersonation(t *testing.T) {
	srv, _, a, wait, s := agentJob(t, Config{}, protocol.JobSpec{ID: "jimp", Nodes: "n1", Command: "sleep 5"})
	forger := srv.Connect(t, "a2")

	var w protocol.Welcome
	hello := protocol.Hello{Agent: "a1", Name: "a1", Local: true, Capacity: 1000}
	if err := wire.Request(context.Background(), forger, subj.Register("a2"), protocol.TypeHello, hello, &w); err != nil || w.Code != protocol.CodeRefused {
		t.Errorf("a hello for a1 on a2's subject: %+v %v", w, err)
	}
	b := protocol.EventBatch{Job: s.Job, Shard: s.ID, Attempt: s.Attempt, Agent: "a1", Seq: 1,
		Events: []protocol.Event{start(0), line("forged", 0), exit(0, 0)}}
	data, err := b.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := forger.PublishMsg(wire.NewMsg(subj.Events("a2", s.Job), protocol.TypeEventBatch, data)); err != nil {
		t.Fatal(err)
	}
	var r protocol.DoneReply
	sum := protocol.ShardSummary{Job: s.Job, Shard: s.ID, Attempt: s.Attempt, Agent: "a1", LastSeq: 1}
	if err := wire.Request(context.Background(), forger, subj.Done("a2", s.Job), protocol.TypeShardSummary, sum, &r); err != nil || r.OK || r.Code != protocol.CodeRefused {
		t.Errorf("a summary for a1 on a2's subject: %+v %v", r, err)
	}
	a.finish(s, start(0), line("true output", 0), exit(3, 0))
	res := wait()
	if res.codes["n1"] != 3 || len(res.lines["n1"]) != 1 || res.lines["n1"][0] != "true output" {
		t.Errorf("n1: code %d, lines %q", res.codes["n1"], res.lines["n1"])
	}
}

// testRouter routes every node to group "g1", served by gateway "gw1".
type testRouter struct{}

func (testRouter) Split(nodes *nodeset.NodeSet) (map[string]*nodeset.NodeSet, *nodeset.NodeSet) {
	return map[string]*nodeset.NodeSet{"g1": nodes}, nodeset.New()
}
func (testRouter) GroupsOfGateway(name string) []string {
	if name == "gw1" {
		return []string{"g1", "g2"}
	}
	return nil
}
func (testRouter) HasGroup(g string) bool { return g == "g1" || g == "g2" }

// An agent registers only as its credential's grant says; its capacity
// claim is capped.
func TestAgentGrants(t *testing.T) {
	srv, co := startCoordinator(t, Config{Router: testRouter{}, MaxCapacity: 50, Agents: map[string]AgentGrant{
		"a1": {Name: "gw1", Groups: []string{"g1"}},
		"a3": {Local: true},
	}})
	nc := srv.Connect(t, "agents")
	hello := func(h protocol.Hello) protocol.Welcome {
		t.Helper()
		return request[protocol.Welcome](t, nc, subj.Register(h.Agent), protocol.TypeHello, h)
	}
	for _, h := range []protocol.Hello{
		{Agent: "a2", Name: "gw1"},                         // no grant
		{Agent: "a1", Name: "gw2"},                         // another gateway
		{Agent: "a1", Name: "gw1", Groups: []string{"g2"}}, // a group not granted
		{Agent: "a1", Name: "gw1", Local: true},            // local without the grant
	} {
		if w := hello(h); w.Code != protocol.CodeRefused {
			t.Errorf("%+v: %+v", h, w)
		}
	}
	if w := hello(protocol.Hello{Agent: "a1", Name: "gw1", Capacity: 1 << 30}); w.Error != "" || len(w.Groups) != 1 || w.Groups[0] != "g1" {
		t.Errorf("a1: %+v", w)
	}
	if w := hello(protocol.Hello{Agent: "a3", Name: "adm", Local: true, Capacity: 8}); w.Error != "" {
		t.Errorf("a3: %+v", w)
	}
	for _, st := range co.Agents() {
		if st.Agent == "a1" && st.Capacity != 50 {
			t.Errorf("a1's capacity %d, want the cap 50", st.Capacity)
		}
	}
}
