package ssh

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/sshtest"
	"github.com/fleetsh/fleetsh/pkg/engine"
)

// snapshotDriver is testDriver with Snapshot set: an agent's shard.
func snapshotDriver(t testing.TB, e *sshtest.Env) *Driver {
	d := testDriver(t, e)
	d.Snapshot = true
	return d
}

// TestSnapshotBetweenShards: a Snapshot driver keeps the files as it
// first read them (config, an Include it matched, known_hosts, the
// identity file), while a new one (the next shard) reads them as they
// are now, and a driver without Snapshot sees every change at once.
func TestSnapshotBetweenShards(t *testing.T) {
	_, e := sshtest.StartNodes(t, sshtest.Config{}, "node1", "node2")
	incDir := t.TempDir()
	if err := e.AddConfig("Include " + filepath.Join(incDir, "*.conf")); err != nil {
		t.Fatal(err)
	}
	shard1, plain := snapshotDriver(t, e), testDriver(t, e)
	for _, d := range []*Driver{shard1, plain} {
		jr := newJob("node1", "true")
		wantCode(t, jr, jr.run(t, d), 0)
	}

	// An included file appears that sends node1 to a refusing port.
	refused := closedPort(t)
	inc := fmt.Sprintf("Host node1\n    Port %d\n", refused)
	if err := os.WriteFile(filepath.Join(incDir, "a.conf"), []byte(inc), 0o600); err != nil {
		t.Fatal(err)
	}
	jr := newJob("node1", "true")
	wantCode(t, jr, jr.run(t, shard1), 0)
	refusedLine := fmt.Sprintf("ssh: connect to host 127.0.0.1 port %d: Connection refused", refused)
	jr = newJob("node1", "true")
	wantFailure(t, jr, jr.run(t, plain), engine.ReasonConnectRefused, refusedLine)
	shard2 := snapshotDriver(t, e)
	jr = newJob("node1", "true")
	wantFailure(t, jr, jr.run(t, shard2), engine.ReasonConnectRefused, refusedLine)
	if err := os.Remove(filepath.Join(incDir, "a.conf")); err != nil {
		t.Fatal(err)
	}

	// The config itself changes: node2 goes to the refusing port.
	if err := e.AddConfig("Host node2", fmt.Sprintf("    Port %d", refused)); err != nil {
		t.Fatal(err)
	}
	jr = newJob("node2", "true")
	wantCode(t, jr, jr.run(t, shard1), 0)
	jr = newJob("node2", "true")
	wantFailure(t, jr, jr.run(t, snapshotDriver(t, e)), engine.ReasonConnectRefused, refusedLine)

	// known_hosts loses the key: node1 is unknown to the next shard.
	known, err := os.ReadFile(e.KnownHostsPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.KnownHostsPath, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	jr = newJob("node1", "true")
	wantCode(t, jr, jr.run(t, shard1), 0)
	jr = newJob("node1", "true")
	wantFailure(t, jr, jr.run(t, snapshotDriver(t, e)), engine.ReasonHostKeyUnknown)
	jr = newJob("node1", "true")
	wantFailure(t, jr, jr.run(t, plain), engine.ReasonHostKeyUnknown)
	if err := os.WriteFile(e.KnownHostsPath, known, 0o600); err != nil {
		t.Fatal(err)
	}

	// The identity file goes: the next shard has no key to offer.
	if err := os.Rename(e.KeyPath, e.KeyPath+".gone"); err != nil {
		t.Fatal(err)
	}
	jr = newJob("node1", "true")
	wantCode(t, jr, jr.run(t, shard1), 0)
	jr = newJob("node1", "true")
	wantFailure(t, jr, jr.run(t, snapshotDriver(t, e)), engine.ReasonAuth)
	if err := os.Rename(e.KeyPath+".gone", e.KeyPath); err != nil {
		t.Fatal(err)
	}
	jr = newJob("node1", "true")
	wantCode(t, jr, jr.run(t, snapshotDriver(t, e)), 0)
}

// TestSnapshotAcceptNew: under Snapshot, a key the driver adds to
// known_hosts is added once and then known to its later jobs, and the
// next shard reads it from the file.
func TestSnapshotAcceptNew(t *testing.T) {
	names := sshtest.NodeNames("node", 16)
	s, e := sshtest.StartNodes(t, sshtest.Config{}, names...)
	if err := os.WriteFile(e.KnownHostsPath, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	acceptNewOnce(t, s, e, snapshotDriver(t, e), names)
	jr := newJob("node2", "true")
	wantCode(t, jr, jr.run(t, snapshotDriver(t, e)), 0)
	if strings.TrimSpace(jr.stderr.String()) != "" {
		t.Fatalf("next shard: stderr %q", jr.stderr)
	}
}
