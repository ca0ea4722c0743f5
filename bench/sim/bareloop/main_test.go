package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/fleetsh/fleetsh/internal/nodesim"
)

// TestRun makes connections to a simulator's ok server: every command
// counts, -kex picks the key exchange, a command that fails counts as a
// failure with its error, a wrong key fails the handshake.
func TestRun(t *testing.T) {
	sim := nodesim.Start(t, nodesim.Config{})
	addr := sim.Servers[nodesim.OK].Addr()
	for _, c := range []struct {
		name, cmd, kex, wantKex string
		ok, failed              int64
		wantErr                 string
	}{
		{name: "default", cmd: "true", wantKex: ssh.KeyExchangeMLKEM768X25519, ok: 7},
		{name: "kex", cmd: "true", kex: ssh.KeyExchangeCurve25519, wantKex: ssh.KeyExchangeCurve25519, ok: 7},
		{name: "exit 3", cmd: "exit 3", wantKex: ssh.KeyExchangeMLKEM768X25519, failed: 7, wantErr: "command did not exit 0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := clientConfig(sim.Env.KeyPath, sim.Env.KnownHostsPath, "bench", c.kex)
			if err != nil {
				t.Fatal(err)
			}
			res := run(cfg, addr, c.cmd, 7, 3, 10*time.Second)
			if res.OK != c.ok || res.Failed != c.failed || res.Kex != c.wantKex || res.HostKey != ssh.KeyAlgoED25519 ||
				!strings.Contains(res.FirstError, c.wantErr) || (c.wantErr == "") != (res.FirstError == "") {
				t.Errorf("%+v", res)
			}
		})
	}
	// A client key the server does not know.
	other := nodesim.Start(t, nodesim.Config{})
	cfg, err := clientConfig(other.Env.KeyPath, sim.Env.KnownHostsPath, "bench", "")
	if err != nil {
		t.Fatal(err)
	}
	if res := run(cfg, addr, "true", 2, 2, 10*time.Second); res.OK != 0 || res.Failed != 2 || !strings.Contains(res.FirstError, "handshake") {
		t.Errorf("unknown key: %+v", res)
	}
}

// TestCPUProfile checks -cpuprofile's file: a profile pprof can read,
// complete once stop returns; an unwritable path is an error naming it.
func TestCPUProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bare.pprof")
	stop, err := startCPUProfile(path)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	// A profile is a gzipped protocol buffer.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
		t.Fatalf("profile of %d bytes is not gzip data", len(data))
	}
	bad := filepath.Join(t.TempDir(), "missing", "x.pprof")
	if _, err := startCPUProfile(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("err %v, want one naming %s", err, bad)
	}
}
