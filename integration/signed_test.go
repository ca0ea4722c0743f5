package integration

import (
	"slices"
	"strings"
	"testing"
)

// Real processes: an agent given another coordinator key than the one
// its coordinator signs with runs none of the shards it is sent; csub
// still gets every node's end, with the agent's refusal as the reason,
// and exits non-zero. The same pair with the right key runs the job.
func TestAgentRunsOnlyShardsOfTrustedKey(t *testing.T) {
	skipShort(t)
	url := startNATS(t, 0)
	dir := t.TempDir()
	seedFile, _ := signingKey(t, dir)
	_, otherKey := signingKey(t, t.TempDir())
	startProc(t, dir, "coordinator", "coordinator", "--nats", url, "--local-agent=false", "--heartbeat", "500ms",
		"--signing-key", seedFile, "--policy", allowAllPolicy(t)) // waitAgent asks for the agents
	startProc(t, dir, "agent", "agent", "--nats", url, "--local", "--name", "local", "--worker", "exec",
		"--coordinator-key", otherKey)
	waitAgent(t, url)
	r := runCsubProc(t, []string{"FLEETSH_FLEET=" + url}, "-R", "exec", "-w", "n[1-2]", "echo ran")
	if r.status == 0 || strings.Contains(r.stdout, "ran") {
		t.Fatalf("status %d, stdout %q", r.status, r.stdout)
	}
	// csub folds the nodes that ended alike.
	if !strings.HasPrefix(r.stderr, "csub: n[1-2]: error: agent local: shard signed by key ") ||
		!strings.Contains(r.stderr, "which this agent does not trust") {
		t.Errorf("stderr %q", r.stderr)
	}

	ext := startSiteDaemons(t, 0)
	r = runCsubProc(t, ext.csubEnv("tester"), "-R", "exec", "-w", "n[1-2]", "echo ran")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	slices.Sort(lines)
	if r.status != 0 || strings.Join(lines, "|") != "n1: ran|n2: ran" {
		t.Fatalf("trusted: status %d, stdout %q, stderr %q", r.status, r.stdout, r.stderr)
	}
}
