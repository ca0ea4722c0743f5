// Package embedded runs a whole fleet inside one process: a NATS server
// with no listening port, a coordinator and one local agent, all talking
// over in-process connections with the same protocol as a real fleet.
// csub uses it when no fleet is configured, so every csub run goes
// through the fleet path and a fresh machine needs nothing installed.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/fleet/agent"
	"github.com/fleetsh/fleetsh/pkg/fleet/broker"
	"github.com/fleetsh/fleetsh/pkg/fleet/coordinator"
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
	srv    *server.Server
	conns  []*nats.Conn
	client *nats.Conn
	subj   protocol.Subjects
	cancel context.CancelFunc
	wg     sync.WaitGroup
	errs   []error
	mu     sync.Mutex
	once   sync.Once
}

// Start starts the fleet and returns once its agent has registered, so a
// job submitted right away finds it.
func Start(ctx context.Context, opts Options) (*Fleet, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	subj := protocol.Subjects{Prefix: opts.Prefix}
	if err := protocol.ValidPrefix(opts.Prefix); err != nil {
		return nil, err
	}
	srv, err := broker.Start(broker.Config{Name: "fleetsh-embedded", Logger: log})
	if err != nil {
		return nil, err
	}
	f := &Fleet{srv: srv, subj: subj}
	connect := func(name string) (*nats.Conn, error) {
		nc, err := nats.Connect("", nats.InProcessServer(srv), nats.Name(name), nats.MaxReconnects(-1))
		if err != nil {
			return nil, fmt.Errorf("in-process nats connection for %s: %w", name, err)
		}
		f.conns = append(f.conns, nc)
		return nc, nil
	}
	fail := func(err error) (*Fleet, error) {
		f.Close()
		return nil, err
	}
	coordNC, err := connect("coordinator")
	if err != nil {
		return fail(err)
	}
	// The agent lives and dies with this process: however busy the
	// machine, the coordinator must not declare it lost for a late
	// heartbeat.
	co, err := coordinator.New(coordNC, coordinator.Config{Subjects: subj, Logger: log.With("role", "coordinator"),
		LostAfter: 24 * time.Hour, MaxJobNodes: opts.MaxJobNodes})
	if err != nil {
		return fail(err)
	}
	agentNC, err := connect("agent")
	if err != nil {
		return fail(err)
	}
	ag, err := agent.New(agentNC, agent.Config{Subjects: subj, Name: "local", Local: true,
		Capacity: opts.Fanout, Worker: opts.Worker, Info: opts.Info, Logger: log.With("role", "agent")})
	if err != nil {
		return fail(err)
	}
	if f.client, err = connect("csub"); err != nil {
		return fail(err)
	}
	// The agent stops first, while the coordinator can still ack its
	// last summaries; then the coordinator.
	coordCtx, stopCoord := context.WithCancel(context.Background())
	agentCtx, stopAgent := context.WithCancel(context.Background())
	agentDone := make(chan struct{})
	f.cancel = func() {
		stopAgent()
		<-agentDone
		stopCoord()
	}
	f.run(func() error { return co.Run(coordCtx) })
	select { // the agent's first Hello then finds the coordinator listening
	case <-co.Ready():
	case <-time.After(10 * time.Second):
		close(agentDone)
		return fail(errors.New("embedded fleet: the coordinator did not start within 10s"))
	}
	f.run(func() error { defer close(agentDone); return ag.Run(agentCtx) })
	deadline := time.Now().Add(10 * time.Second)
	for len(co.Agents()) == 0 {
		if time.Now().After(deadline) {
			return fail(errors.New("embedded fleet: the local agent did not register within 10s"))
		}
		select {
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
	return f, nil
}

func (f *Fleet) run(fn func() error) {
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		if err := fn(); err != nil && !errors.Is(err, context.Canceled) {
			f.mu.Lock()
			f.errs = append(f.errs, err)
			f.mu.Unlock()
		}
	}()
}

// Conn returns the submitter's in-process connection.
func (f *Fleet) Conn() *nats.Conn { return f.client }

// Subjects returns the fleet's subjects.
func (f *Fleet) Subjects() protocol.Subjects { return f.subj }

// Close stops the agent (cancelling what still runs), the coordinator and
// the server.
func (f *Fleet) Close() error {
	f.once.Do(func() {
		if f.cancel != nil {
			f.cancel()
		}
		f.wg.Wait()
		for _, nc := range f.conns {
			nc.Close()
		}
		f.srv.Shutdown()
		f.srv.WaitForShutdown()
	})
	f.mu.Lock()
	defer f.mu.Unlock()
	return errors.Join(f.errs...)
}
