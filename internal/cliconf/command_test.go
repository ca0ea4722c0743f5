package cliconf

import (
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/fleet/coordinator"
	"github.com/fleetsh/fleetsh/pkg/fleet/daemon"
)

// --http (or http: in the config file) beyond loopback is refused, exit
// 2, naming the address, before anything starts; with --http-insecure
// it passes that check, warned about, and an address no interface has
// then fails to listen (exit 1).
func TestHTTPBeyondLoopback(t *testing.T) {
	path := configFile(t, "http: 192.0.2.1:9470\n")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--config", path}, 2, `--http "192.0.2.1:9470": operator HTTP listener beyond loopback`},
		{[]string{"--http", "9470"}, 2, `--http "9470": want host:port`},
		{[]string{"--config", path, "--http-insecure"}, 1, "INSECURE"},
	} {
		var stderr testutil.SyncBuffer
		cmd := NewCommand("coordinator", &stderr, "")
		log, code := cmd.Parse(tc.args)
		if log == nil {
			t.Fatalf("%v: parse: %d %s", tc.args, code, stderr.String())
		}
		code = cmd.Serve(log, daemon.Config{Coordinator: &coordinator.Config{}}, nil, false, 0)
		if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, want %d and %q in:\n%s", tc.args, code, tc.code, tc.want, stderr.String())
		}
		if strings.Contains(stderr.String(), "coordinator ready") {
			t.Errorf("%v: the coordinator started", tc.args)
		}
	}
}
