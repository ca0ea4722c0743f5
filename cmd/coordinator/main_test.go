package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/fleetsh/fleetsh/internal/testutil"
)

// The coordinator's normal life (serving agents and csub) is exercised by
// integration/fleet_test.go with the built binary; these cover the
// command line.
func TestBadSettings(t *testing.T) {
	dir := t.TempDir()
	badConf := filepath.Join(dir, "bad.yaml")
	badTopo := filepath.Join(dir, "topology.conf")
	kp, pub := testutil.UserKey(t)
	seed, _ := kp.Seed()
	open := filepath.Join(dir, "open.nk") // a good seed others can read
	notSeed := filepath.Join(dir, "pub.nk")
	for path, data := range map[string]string{badConf: "lisen: 127.0.0.1:1\n", badTopo: "[routes]\na: b\nb: a\n",
		open: string(seed), notSeed: pub} {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(open, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"--config", badConf}, 2},
		{[]string{"--log-level", "loud"}, 2},
		{[]string{"--info", "novalue"}, 2},
		{[]string{"extra"}, 2},
		{[]string{"--topology", badTopo}, 1},
		{[]string{"--topology", filepath.Join(dir, "missing.conf")}, 1},
		{[]string{"--listen", ":4222"}, 1}, // every interface, by accident
		// Beyond loopback without --insecure: a setting refused. With it,
		// 192.0.2.1 (TEST-NET-1, no address of this machine) fails to bind.
		{[]string{"--listen", "0.0.0.0:4222"}, 2},
		{[]string{"--listen", "192.0.2.1:0", "--insecure"}, 1},
		{[]string{"--prefix", "a..b", "--listen", ""}, 2},
		{[]string{"--signing-key", filepath.Join(dir, "missing.nk"), "--listen", ""}, 2},
		{[]string{"--signing-key", open, "--listen", ""}, 2},
		{[]string{"--signing-key", notSeed, "--listen", ""}, 2},
		{[]string{"--shard-ttl", "2h", "--listen", ""}, 2},
		{[]string{"--shard-ttl", "0s", "--listen", ""}, 2},
		{[]string{"--max-user-nodes", "10", "--max-nodes", "100", "--listen", ""}, 2}, // under one job's limit
		{[]string{"--policy", filepath.Join(dir, "missing.yaml"), "--listen", ""}, 1},
		{[]string{"--policy", badConf, "--listen", ""}, 1}, // not a policy
		{[]string{"--audit-log", filepath.Join(dir, "no", "dir", "audit.log"), "--listen", ""}, 1},
	} {
		if got := run(c.args, io.Discard, nil); got != c.want {
			t.Errorf("%q: exit %d, want %d", c.args, got, c.want)
		}
	}
}
