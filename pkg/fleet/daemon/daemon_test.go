package daemon

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/pkg/fleet/agent"
	"github.com/fleetsh/fleetsh/pkg/fleet/client"
	"github.com/fleetsh/fleetsh/pkg/fleet/coordinator"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// A part that stops by itself ends Serve with its error: here an agent
// whose coordinator refuses its protocol version.
func TestServeReportsAPartThatStopped(t *testing.T) {
	srv := natstest.Start(t, 0)
	nc := srv.Connect(t, "coordinator")
	if _, err := nc.Subscribe(protocol.Subjects{}.AllRegisters(), func(m *nats.Msg) {
		_ = wire.Respond(m, protocol.TypeWelcome, protocol.Welcome{Error: "fleetsh protocol version 9 is not supported", Code: protocol.CodeVersion})
	}); err != nil {
		t.Fatal(err)
	}
	f, err := Start(context.Background(), Config{NATS: srv.URL(), Logger: natstest.Logger(t),
		Agent: &agent.Config{Name: "gw1", Worker: "exec", CoordinatorKeys: []string{testPublicKey(t)}}})
	if err != nil {
		t.Fatal(err)
	}
	err = f.Serve(make(chan os.Signal), true, time.Minute)
	if err == nil || !strings.Contains(err.Error(), "registration refused") {
		t.Fatalf("Serve: %v", err)
	}
}

// A setting the coordinator or the agent refuses is a *ConfigError, and
// nothing stays running.
func TestStartRefusesBadSettings(t *testing.T) {
	for _, cfg := range []Config{
		{Coordinator: &coordinator.Config{Subjects: protocol.Subjects{Prefix: "a..b"}}},
		{Coordinator: &coordinator.Config{}, Agent: &agent.Config{Local: true, Worker: "nope"}},
	} {
		var ce *ConfigError
		if _, err := Start(context.Background(), cfg); !errors.As(err, &ce) {
			t.Errorf("%+v: %v, want a *ConfigError", cfg, err)
		}
	}
}

// A signal stops the fleet, the agent draining first: idle, it is
// drained at once; with a job running, a second signal cuts the drain
// short and Serve says so.
func TestServeDrainsThenStops(t *testing.T) {
	for _, busy := range []bool{false, true} {
		f, err := Start(context.Background(), Config{Logger: natstest.Logger(t),
			Coordinator: &coordinator.Config{}, Agent: &agent.Config{Local: true, Worker: "exec"}})
		if err != nil {
			t.Fatal(err)
		}
		sigs := make(chan os.Signal, 2)
		if busy {
			nc, err := f.Conn("csub")
			if err != nil {
				t.Fatal(err)
			}
			c := &client.Client{Conn: nc}
			job, err := c.Submit(context.Background(), protocol.JobSpec{Nodes: "n1", Worker: "exec", Command: "sleep 60"})
			if err != nil {
				t.Fatal(err)
			}
			// Output came (the node's start): the agent holds the shard,
			// so the drain has something to wait for.
			if _, err := job.Next(context.Background()); err != nil {
				t.Fatal(err)
			}
			sigs <- syscall.SIGTERM
		}
		sigs <- syscall.SIGTERM
		err = f.Serve(sigs, true, time.Minute)
		switch {
		case !busy && err != nil:
			t.Fatalf("idle: Serve: %v", err)
		case busy && (err == nil || !strings.Contains(err.Error(), "second signal")):
			t.Fatalf("busy: Serve: %v", err)
		}
	}
}
