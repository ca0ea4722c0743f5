// Package embedded runs a whole fleet inside one process: a NATS server
// with no listening port, a coordinator and one local agent, all talking
// over in-process connections with the same protocol as a real fleet
// (the assembly of pkg/fleet/daemon). csub uses it when no fleet is
// configured, so every csub run goes through the fleet path and a fresh
// machine needs nothing installed.
package embedded

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/fleet/agent"
	"github.com/fleetsh/fleetsh/pkg/fleet/coordinator"
	"github.com/fleetsh/fleetsh/pkg/fleet/daemon"
	"github.com/fleetsh/fleetsh/pkg/fleet/policy"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Options configures the in-process fleet. The zero value works.
type Options struct {
	// Prefix is the subject prefix (default protocol.DefaultPrefix).
	Prefix string
	// Logger receives the fleet's logs (nil: discarded).
	Logger *slog.Logger
	// Fanout is the local agent's capacity (default 64; a job's own
	// fanout is capped by it).
	Fanout int
	// Worker is the default distant worker of the local agent ("ssh").
	Worker string
	// Info holds task info defaults for the local agent's engines.
	Info map[string]string
	// MaxJobNodes is the most nodes a job may have (default
	// protocol.DefaultMaxJobNodes).
	MaxJobNodes int
}

// Fleet is a running in-process fleet.
type Fleet struct {
	parts  *daemon.Fleet
	client *nats.Conn
	subj   protocol.Subjects
}

// Start starts the fleet and returns once its agent has registered, so a
// job submitted right away finds it.
func Start(ctx context.Context, opts Options) (*Fleet, error) {
	subj := protocol.Subjects{Prefix: opts.Prefix}
	if err := protocol.ValidPrefix(opts.Prefix); err != nil {
		return nil, err
	}
	f, err := daemon.Start(ctx, daemon.Config{
		Name:   "fleetsh-embedded",
		Logger: opts.Logger,
		// The agent lives and dies with this process: however busy the
		// machine, the coordinator must not declare it lost for a late
		// heartbeat.
		// Its one user owns the process and everything it could run:
		// every job is allowed, -R exec included.
		Coordinator: &coordinator.Config{Subjects: subj, LostAfter: 24 * time.Hour, MaxJobNodes: opts.MaxJobNodes,
			Policy: policy.AllowAll()},
		// Its state in memory: it dies with csub, and attaching a job of
		// this process from another is not possible anyway.
		Store: &daemon.StoreConfig{Memory: true},
		Agent: &agent.Config{Subjects: subj, Name: "local", Local: true,
			Capacity: opts.Fanout, Worker: opts.Worker, Info: opts.Info},
	})
	if err != nil {
		return nil, err
	}
	nc, err := f.Conn("csub")
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return &Fleet{parts: f, client: nc, subj: subj}, nil
}

// Conn returns the submitter's in-process connection.
func (f *Fleet) Conn() *nats.Conn { return f.client }

// Subjects returns the fleet's subjects.
func (f *Fleet) Subjects() protocol.Subjects { return f.subj }

// Close stops the agent (cancelling what still runs), the coordinator and
// the server.
func (f *Fleet) Close() error { return f.parts.Close() }
