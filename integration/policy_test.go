package integration

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/testutil"
)

// The coordinator's policy lets anyone run echo, true and id on n[1-5]
// with the agent's default worker; the agent's own policy forgets id:
// a coordinator misconfigured to allow more than an agent does.
const (
	coordPolicy = `groups:
  testers: [alice, bob]
rules:
  - name: fleet
    users: ["@testers"]
    commands: ["echo *", "true", "id"]
    nodes: "n[1-5]"
`
	agentPolicy = `rules:
  - name: gateway
    users: ["*"]
    commands: ["echo *", "true"]
    nodes: "n[1-5]"
    workers: [exec]
`
)

// allowAllPolicy writes a policy that allows everything, for tests that
// run -R exec on a fleet of real processes (the coordinator's built-in
// default keeps exec for admins).
func allowAllPolicy(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "allow-all.yaml")
	const all = `rules: [{name: tests, users: ["*"], commands: ["**"], nodes: "*", workers: ["*"], info: ["*"],
  copy: true, reverse_copy: true, actions: [see_all, cancel_any, attach_any, agents]}]`
	if err := os.WriteFile(p, []byte(all), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// csub runs the csub binary against url and returns its exit status,
// stdout and stderr.
func csub(t *testing.T, url string, args ...string) (int, string, string) {
	t.Helper()
	return csubAs(t, "alice", url, args...)
}

// csubAs is csub run by user (its $USER: a fleet without credentials
// takes the submitter's word for it).
func csubAs(t *testing.T, user, url string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binaries(t), "csub"), append([]string{"--fleet", url}, args...)...)
	cmd.Env = append(os.Environ(), "USER="+user, "LOGNAME="+user)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), stdout.String(), stderr.String()
	case err != nil:
		t.Fatal(err)
	}
	return 0, stdout.String(), stderr.String()
}

// awaitFile waits until the file at path holds s n times.
func awaitFile(t *testing.T, path, s string, n int) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if data, _ := os.ReadFile(path); strings.Count(string(data), s) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %q", path, s)
		}
	}
}

// A real coordinator and agent with policies and an audit log, and the
// csub binary: a forbidden command and a forbidden node set are one line
// and exit 1; a command the coordinator allows but the agent's policy
// does not fails on every node; each job leaves JSON audit records; a
// rename and SIGHUP rotate the log.
func TestFleetPolicy(t *testing.T) {
	skipShort(t)
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	auditPath := filepath.Join(dir, "audit.log")
	url := fmt.Sprintf("nats://127.0.0.1:%d", freePort(t))
	seed, pub := signingKey(t, dir)
	coord := startProc(t, dir, "coordinator", "coordinator", "--listen", strings.TrimPrefix(url, "nats://"), "--signing-key", seed,
		"--local-agent=false", "--heartbeat", "200ms", "--policy", write("coord-policy.yaml", coordPolicy), "--audit-log", auditPath)
	startProc(t, dir, "agent", "agent", "--nats", url, "--name", "local", "--local", "--worker", "exec", "--coordinator-key", pub,
		"--policy", write("agent-policy.yaml", agentPolicy))
	awaitFile(t, filepath.Join(dir, "coordinator.log"), "agent registered", 1)

	rc, out, errOut := csub(t, url, "-w", "n[1-2]", "echo hi")
	if rc != 0 || out != "n1: hi\nn2: hi\n" && out != "n2: hi\nn1: hi\n" || errOut != "" {
		t.Fatalf("allowed job: rc %d stdout %q stderr %q", rc, out, errOut)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-w", "n1", "echo hi; touch " + filepath.Join(dir, "pwned")}, `csub: denied by policy: user "`},
		{[]string{"-w", "n[4-7]", "echo hi"}, `rule "fleet" allows the command but not on "n[6-7]" (its nodes: "n[1-5]")`},
	} {
		rc, out, errOut := csub(t, url, c.args...)
		if rc != 1 || out != "" || !strings.HasPrefix(errOut, "csub: denied by policy: ") || !strings.Contains(errOut, c.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%q: rc %d stdout %q stderr %q, want one line with %q", c.args, rc, out, errOut, c.want)
		}
	}
	rc, out, errOut = csubAs(t, "mallory", url, "-w", "n1", "echo hi")
	if want := "csub: denied by policy: user \"mallory\": no rule names this user\n"; rc != 1 || out != "" || errOut != want {
		t.Errorf("mallory: rc %d stdout %q stderr %q, want %q", rc, out, errOut, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Fatal("the denied command ran")
	}
	// Allowed by the coordinator, refused by the agent's own policy.
	rc, out, errOut = csub(t, url, "-w", "n3", "id")
	if rc == 0 || out != "" || !strings.Contains(errOut, `denied by policy: user "`) || !strings.Contains(errOut, `rule "gateway" does not allow the command "id"`) {
		t.Errorf("id: rc %d stdout %q stderr %q", rc, out, errOut)
	}
	awaitFile(t, auditPath, `"event":"ended"`, 2) // echo's and id's

	recs := testutil.AuditRecords(t, auditPath)
	var events []string
	for _, r := range recs {
		events = append(events, r.Event+" "+r.Decision)
		if r.Time.IsZero() || r.Job == "" || r.User != "alice" && r.User != "mallory" || r.Nodes == "" {
			t.Errorf("record %+v", r)
		}
	}
	// Each job's records in order; the ended ones may follow later jobs.
	if got := strings.Join(events, ","); strings.Count(got, "accepted allow") != 2 || strings.Count(got, "denied deny") != 3 ||
		strings.Count(got, "ended ") != 2 || !strings.HasPrefix(got, "accepted allow") {
		t.Errorf("audit events %s", got)
	}
	if r := recs[len(recs)-1]; r.Event != "ended" || r.Command != "id" || r.Finals["error"] != 1 || r.Count != 1 {
		t.Errorf("last record %+v", r)
	}
	if r := recs[0]; r.Command != "echo hi" || r.Nodes != "n[1-2]" || r.Count != 2 || r.Rule != "fleet" {
		t.Errorf("first record %+v", r)
	}

	// Rotation: rename, SIGHUP, and the next job's records go to a new file.
	if err := os.Rename(auditPath, auditPath+".1"); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(coord.cmd.Process.Pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	awaitFile(t, filepath.Join(dir, "coordinator.log"), "audit log reopened", 1)
	if rc, _, errOut := csub(t, url, "-w", "n5", "true"); rc != 0 {
		t.Fatalf("after SIGHUP: rc %d %s", rc, errOut)
	}
	awaitFile(t, auditPath, `"event":"ended"`, 1)
	if recs := testutil.AuditRecords(t, auditPath); len(recs) != 2 || recs[0].Event != "accepted" || recs[0].Command != "true" {
		t.Errorf("new file: %+v", recs)
	}
	if n := len(testutil.AuditRecords(t, auditPath+".1")); n != len(recs) {
		t.Errorf("rotated file: %d records, want %d", n, len(recs))
	}
	coord.kill(syscall.SIGTERM)
	if coord.err != nil {
		t.Errorf("coordinator: %v", coord.err)
	}
}
