package coordinator

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/fleet/audit"
	"github.com/fleetsh/fleetsh/pkg/fleet/policy"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

const testPolicy = `
groups: {hpc: [alice]}
rules:
  - name: hpc
    users: ["@hpc"]
    commands: ["echo *", true]
    nodes: "n[000-009]"
  - name: ops
    users: [carol]
    actions: [cancel_any]
`

func startWithPolicy(t *testing.T) (string, func(protocol.JobSpec) protocol.SubmitReply, *fakeAgent) {
	t.Helper()
	p, err := policy.Parse([]byte(testPolicy), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "audit.log")
	srv, _ := startCoordinator(t, Config{Policy: p, Audit: testutil.AuditLog(t, path)})
	a := newFakeAgent(t, srv, "a1")
	nc := srv.Connect(t, "csub")
	return path, func(spec protocol.JobSpec) protocol.SubmitReply {
		t.Helper()
		var r protocol.SubmitReply
		// The user is the subject's (the spec's User is overwritten).
		user := spec.User
		spec.User = ""
		if err := wire.Request(context.Background(), nc, subj.Submit(user), protocol.TypeJobSpec, spec, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}, a
}

// A command or node set the policy forbids is refused at submit with
// CodeDenied and one line naming the rule, and audited; nothing is
// dispatched.
func TestPolicyDeniesAtSubmit(t *testing.T) {
	path, submitSpec, a := startWithPolicy(t)
	for _, c := range []struct {
		spec protocol.JobSpec
		want string
	}{
		{protocol.JobSpec{ID: "cmd", User: "alice", Nodes: "n000", Command: "echo hi; rm -rf /"}, `rule "hpc" does not allow the command "echo hi; rm -rf /"`},
		{protocol.JobSpec{ID: "nodes", User: "alice", Nodes: "n[008-011]", Command: "echo hi"}, `not on "n[010-011]"`},
		{protocol.JobSpec{ID: "exec", User: "alice", Nodes: "n000", Command: "echo hi", Worker: "exec"}, `not the worker "exec"`},
		{protocol.JobSpec{ID: "who", User: "mallory", Nodes: "n000", Command: "true"}, "no rule names this user"},
		// Denied before the set is expanded: a policy check costs nothing.
		{protocol.JobSpec{ID: "huge", User: "alice", Nodes: "n[1-999999]", Command: "true"}, "not on"},
	} {
		r := submitSpec(c.spec)
		if r.Code != protocol.CodeDenied || !strings.Contains(r.Error, c.want) || strings.Contains(r.Error, "\n") {
			t.Errorf("%s: %q (%s), want one line with %q", c.spec.ID, r.Error, r.Code, c.want)
		}
	}
	select {
	case s := <-a.shards:
		t.Fatalf("a denied job was dispatched: %+v", s)
	default:
	}
	recs := testutil.AuditRecords(t, path)
	if len(recs) != 5 {
		t.Fatalf("%d audit records: %+v", len(recs), recs)
	}
	for _, r := range recs {
		if r.Event != audit.Denied || r.Decision != "deny" || r.User == "" || r.Reason == "" || r.Time.IsZero() {
			t.Errorf("record %+v", r)
		}
	}
	if recs[1].Nodes != "n[008-011]" || recs[1].Count != 4 || recs[0].Command != "echo hi; rm -rf /" {
		t.Errorf("records %+v", recs[:2])
	}
}

// An allowed job's accepted record is in the file before its first
// shard leaves the coordinator, and its ended record follows with the
// final states.
func TestAuditAcceptedBeforeDispatch(t *testing.T) {
	path, submitSpec, a := startWithPolicy(t)
	if r := submitSpec(protocol.JobSpec{ID: "ok", User: "alice", Nodes: "n[000-001]", Command: "echo hi"}); r.Error != "" {
		t.Fatal(r.Error)
	}
	s := a.shard() // the dispatch: the record must be durable already
	recs := testutil.AuditRecords(t, path)
	if len(recs) != 1 || recs[0].Event != audit.Accepted || recs[0].Rule != "hpc" || recs[0].Job != "ok" || recs[0].Count != 2 {
		t.Fatalf("at dispatch: %+v", recs)
	}
	last := a.send(s, start(0, 1), exit(0, 0), exit(3, 1))
	a.doneEventually(s, last)
	var end *audit.Record
	for deadline := time.Now().Add(20 * time.Second); end == nil; {
		for _, r := range testutil.AuditRecords(t, path) {
			if r.Event == audit.Ended {
				end = &r
			}
		}
		if end == nil && time.Now().After(deadline) {
			t.Fatal("no ended record")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if end.Finals[protocol.StateExited] != 2 || end.Job != "ok" || end.User != "alice" || end.DurationMS < 0 {
		t.Errorf("ended record %+v", end)
	}
}

// A job whose accepted record cannot be written is refused, and not
// kept: the same id may be submitted again.
func TestAuditFailureRefusesJob(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	log := testutil.AuditLog(t, path)
	_ = log.Close() // every write fails now
	srv, co := startCoordinator(t, Config{Audit: log})
	a := newFakeAgent(t, srv, "a1")
	nc := srv.Connect(t, "csub")
	var r protocol.SubmitReply
	if err := wire.Request(context.Background(), nc, subj.Submit(testUser), protocol.TypeJobSpec, protocol.JobSpec{ID: "j", Nodes: "n1", Command: "true"}, &r); err != nil {
		t.Fatal(err)
	}
	if r.Code != protocol.CodeRefused || !strings.Contains(r.Error, "audit log") {
		t.Fatalf("reply %+v", r)
	}
	if co.job("j") != nil {
		t.Error("the refused job stays in the registry")
	}
	select {
	case s := <-a.shards:
		t.Fatalf("dispatched: %+v", s)
	default:
	}
}

// Admin actions go through the policy; without one everything is
// allowed (the in-process fleet).
func TestAllowAction(t *testing.T) {
	p, err := policy.Parse([]byte(testPolicy), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	co, err := New(nil, Config{Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	if err := co.allowAction("carol", policy.CancelAny); err != nil {
		t.Error(err)
	}
	if err := co.allowAction("alice", policy.CancelAny); protocol.CodeOf(err) != protocol.CodeDenied {
		t.Errorf("alice: %v", err)
	}
	open, _ := New(nil, Config{})
	if err := open.allowAction("anyone", policy.Agents); err != nil {
		t.Error(err)
	}
}
