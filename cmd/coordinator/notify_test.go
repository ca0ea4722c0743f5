package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/internal/sdnotify/sdnotifytest"
)

// The coordinator process, started as a Type=notify unit starts it,
// says READY=1 once it serves, pings the watchdog, and says STOPPING=1
// at SIGTERM before a clean exit.
func TestSystemdNotify(t *testing.T) {
	sock := sdnotifytest.Listen(t)
	addr := fmt.Sprintf("127.0.0.1:%d", natstest.FreePort(t))
	d := sock.StartMain(t, []string{"WATCHDOG_USEC=200000"},
		"--listen", addr, "--store", filepath.Join(t.TempDir(), "state"), "--topology", "../../deploy/topology.conf", "--root", "admin")
	ready := sock.Await(t, "READY=1")
	if want := "STATUS=coordinator serving, NATS " + addr; !slices.Contains(ready, want) {
		t.Errorf("READY=1 with %q, want %q", ready, want)
	}
	sock.Await(t, "WATCHDOG=1") // after READY=1: its loops answered
	if code := d.Stop(t); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
	stop := sock.Await(t, "STOPPING=1")
	if !slices.Contains(stop, "STATUS=stopping: terminated") {
		t.Errorf("STOPPING=1 with %q", stop)
	}
}
