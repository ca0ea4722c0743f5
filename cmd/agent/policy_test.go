package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/internal/testutil"
)

// --policy (or policy: in the config file) loads the policy the agent
// re-checks shards against (the check itself: pkg/fleet/daemon's
// TestAgentPolicyRefusesShard and integration's TestFleetPolicy); a
// policy that cannot be read stops the agent before it starts.
func TestPolicyFlag(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t).pub
	var logs strings.Builder
	if c := run([]string{"--coordinator-key", key, "--policy", filepath.Join(dir, "missing.yaml")}, &logs, nil); c != 1 || !strings.Contains(logs.String(), "missing.yaml") {
		t.Errorf("missing policy: exit %d\n%s", c, logs.String())
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("rules: [{users: [u]}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	if c := run([]string{"--coordinator-key", key, "--policy", bad}, &logs, nil); c != 1 || !strings.Contains(logs.String(), "allows nothing") {
		t.Errorf("bad policy: exit %d\n%s", c, logs.String())
	}

	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, []byte(`rules: [{users: ["*"], commands: [true], nodes: "n1"}]`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(conf, []byte("policy: "+pol+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := natstest.Start(t, 0)
	sigs := make(chan os.Signal, 2)
	lines := make(testutil.LogLines, 10000)
	code := make(chan int, 1)
	go func() {
		code <- run([]string{"--config", conf, "--nats", srv.URL(), "--worker", "exec", "--coordinator-key", key}, lines, sigs)
	}()
	lines.Await(t, "policy="+pol+" rules=1")
	sigs <- syscall.SIGTERM
	sigs <- syscall.SIGTERM
	select {
	case c := <-code:
		_ = c // never registered: the drain's outcome is not this test's
	case <-time.After(time.Minute):
		t.Fatal("no exit after SIGTERM")
	}
}
