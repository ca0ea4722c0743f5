package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/fleet/agent"
	"github.com/fleetsh/fleetsh/pkg/fleet/client"
	"github.com/fleetsh/fleetsh/pkg/fleet/coordinator"
	"github.com/fleetsh/fleetsh/pkg/fleet/policy"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// run submits spec and returns each node's end event.
func run(t *testing.T, f *Fleet, spec protocol.JobSpec) map[string]protocol.Event {
	t.Helper()
	nc, err := f.Conn("csub")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	job, err := (&client.Client{Conn: nc, User: spec.User}).Submit(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	ends := map[string]protocol.Event{}
	if err := testutil.ReadJob(ctx, job, func(node string, r protocol.Event) {
		if r.Kind == protocol.KindEnd {
			ends[node] = r
		}
	}); err != nil {
		t.Fatal(err)
	}
	return ends
}

// The agent checks each shard again with its own policy: a job the
// coordinator was (mis)configured to allow does not run on it.
func TestAgentPolicyRefusesShard(t *testing.T) {
	p, err := policy.Parse([]byte(`rules: [{name: echo, users: ["*"], commands: ["echo *"], nodes: "n[1-2]", workers: [exec]}]`), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := Start(context.Background(), Config{Logger: natstest.Logger(t),
		Coordinator: &coordinator.Config{Policy: policy.AllowAll()},
		Agent:       &agent.Config{Local: true, Worker: "exec", Policy: p}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	marker := filepath.Join(t.TempDir(), "ran")
	for _, c := range []struct {
		spec protocol.JobSpec
		want string
	}{
		{protocol.JobSpec{Nodes: "n[1-2]", Command: "touch " + marker}, `does not allow the command "touch `},
		{protocol.JobSpec{Nodes: "n[1-3]", Command: "echo hi"}, `not on "n3"`},
		{protocol.JobSpec{Nodes: "n1", Command: "echo hi", Worker: "ssh"}, `not the worker "ssh"`},
	} {
		ends := run(t, f, c.spec)
		for n, e := range ends {
			// The coordinator's end of a node it could not run says why
			// in the event's data.
			if why := string(e.Data); e.State != protocol.StateError || !strings.Contains(why, "denied by policy") || !strings.Contains(why, c.want) {
				t.Errorf("%s on %s: %s %q, want a denial with %q", c.spec.Command, n, e.State, why, c.want)
			}
		}
	}
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the denied command ran: %v", err)
	}
	// No worker named: checked as the agent's default, exec, which the
	// rule allows.
	for n, e := range run(t, f, protocol.JobSpec{Nodes: "n[1-2]", Command: "echo hi"}) {
		if e.State != protocol.StateExited || e.Code != 0 {
			t.Errorf("allowed job on %s: %s %d %q", n, e.State, e.Code, e.Reason)
		}
	}
}

func auditEvents(t *testing.T, path string) []string {
	t.Helper()
	var evs []string
	for _, r := range testutil.AuditRecords(t, path) {
		evs = append(evs, r.Event+" "+r.Job)
	}
	return evs
}

// SIGHUP reopens the coordinator's audit log: after a rename, the next
// records go to a new file at the old name; the fleet keeps serving.
func TestSIGHUPReopensAuditLog(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	log := testutil.AuditLog(t, path)
	f, err := Start(context.Background(), Config{Logger: natstest.Logger(t),
		Coordinator: &coordinator.Config{Audit: log}, Agent: &agent.Config{Local: true, Worker: "exec"}})
	if err != nil {
		t.Fatal(err)
	}
	sigs := make(chan os.Signal) // unbuffered: a send returns once Serve took it
	served := make(chan error, 1)
	go func() { served <- f.Serve(sigs, false, time.Minute) }()
	run(t, f, protocol.JobSpec{ID: "before", Nodes: "n1", Command: "true"})
	// The ended record follows the job's last output: rotate after it.
	for deadline := time.Now().Add(time.Minute); !slices.Contains(auditEvents(t, path), "ended before"); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no ended record")
		}
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	// The second SIGHUP is taken only once the first one's reopen is done.
	sigs <- syscall.SIGHUP
	sigs <- syscall.SIGHUP
	run(t, f, protocol.JobSpec{ID: "after", Nodes: "n1", Command: "true"})
	for deadline := time.Now().Add(time.Minute); !slices.Contains(auditEvents(t, path), "ended after"); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no ended record")
		}
	}
	sigs <- syscall.SIGTERM
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	old, cur := auditEvents(t, path+".1"), auditEvents(t, path)
	if !slices.Equal(old, []string{"accepted before", "ended before"}) {
		t.Errorf("rotated file: %q", old)
	}
	if !slices.Equal(cur, []string{"accepted after", "ended after"}) {
		t.Errorf("new file: %q", cur)
	}
}
