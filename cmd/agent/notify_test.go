package main

import (
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/internal/sdnotify/sdnotifytest"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Started by sdnotifytest.StartMain, the test binary is the agent.
func TestMain(m *testing.M) {
	sdnotifytest.RunMain(main)
	m.Run()
}

// The agent process, started as a Type=notify unit starts it, says
// READY=1 once it runs, before any coordinator answers (it retries its
// Hello for as long as it runs), then says in STATUS= when one welcomed
// it; it pings the watchdog, and says STOPPING=1 at SIGTERM before a
// clean exit.
func TestSystemdNotify(t *testing.T) {
	srv := natstest.Start(t, 0)
	sock := sdnotifytest.Listen(t)
	d := sock.StartMain(t, []string{"WATCHDOG_USEC=200000"},
		"--nats", srv.URL(), "--prefix", "sd", "--name", "gw7", "--worker", "exec", "--coordinator-key", newKey(t).pub,
		"--spill-dir", t.TempDir())
	ready := sock.Await(t, "READY=1")
	if want := "STATUS=agent gw7: waiting for a coordinator to welcome it on " + srv.URL(); !slices.Contains(ready, want) {
		t.Errorf("READY=1 with %q, want %q", ready, want)
	}
	sock.Await(t, "WATCHDOG=1") // its Hello loop answers probes

	// A coordinator, played here, welcomes it.
	nc := srv.Connect(t, "coordinator")
	subj := protocol.Subjects{Prefix: "sd"}
	if _, err := nc.Subscribe(subj.AllRegisters(), func(m *nats.Msg) {
		_ = wire.Respond(m, protocol.TypeWelcome, protocol.Welcome{Heartbeat: 100 * time.Millisecond})
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := sock.AwaitPrefix(t, "STATUS=agent gw7: registered"), "STATUS=agent gw7: registered with a coordinator on "+srv.URL(); got != want {
		t.Errorf("%q, want %q", got, want)
	}
	sock.Await(t, "WATCHDOG=1") // its heartbeat loop answers probes
	if code := d.Stop(t); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
	stop := sock.Await(t, "STOPPING=1")
	if !slices.Contains(stop, "STATUS=stopping: terminated") {
		t.Errorf("STOPPING=1 with %q", stop)
	}
}
