// Package daemon assembles the fleet parts one process runs: a NATS
// server embedded in the process or a connection to an external one, a
// coordinator, an agent, or both; and it stops them in order. The
// coordinator and agent commands (cmd/coordinator, cmd/agent) and csub's
// in-process fleet (pkg/fleet/embedded) are this assembly with different
// settings, so a fleet behaves the same however it was started.
package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/fleetsh/fleetsh/pkg/fleet/agent"
	"github.com/fleetsh/fleetsh/pkg/fleet/audit"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/fleet/broker"
	"github.com/fleetsh/fleetsh/pkg/fleet/coordinator"
	"github.com/fleetsh/fleetsh/pkg/fleet/files"
	"github.com/fleetsh/fleetsh/pkg/fleet/store"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Config says which parts a process runs. At least one of Coordinator
// and Agent is set.
type Config struct {
	// NATS is the URL (or comma-separated URLs) of the NATS server to
	// join; "" embeds one in the process.
	NATS string
	// Listen is the host:port the embedded server accepts connections on
	// ("": in-process connections only). Unused with NATS.
	Listen string
	// Insecure lets Listen name an address beyond loopback without TLS
	// and identities (broker.Config.Insecure).
	Insecure bool
	// Identities are the credentials the embedded server accepts
	// (broker.Config.Identities; none: no authentication). The
	// process's own parts then connect in process with a key made for
	// this run: nothing to configure.
	Identities []auth.Identity
	// TLSCert, TLSKey and TLSCA are the embedded server's TLS files
	// (broker.Config).
	TLSCert, TLSKey, TLSCA string
	// Creds is what the process presents to the external server NATS
	// names: its nkey seed and the site CA (auth.Credentials). The
	// process acts as the coordinator when it runs one, else as the
	// agent Agent.ID names.
	Creds auth.Credentials
	// Name names the embedded server in its logs.
	Name string
	// Logger receives the logs of every part (nil: discarded).
	Logger *slog.Logger
	// Coordinator, when set, runs a coordinator with this configuration.
	// Its Policy decides what runs: csub's in-process fleet gives
	// policy.AllowAll (its one user owns the process), cmd/coordinator
	// its --policy file or policy.Default. Its Audit log is reopened on
	// SIGHUP (Serve).
	Coordinator *coordinator.Config
	// Store, with Coordinator, keeps the coordinator's registry and job
	// journals on JetStream (pkg/fleet/store): the embedded server runs
	// JetStream in Store.Dir, an external one must have it. nil keeps
	// them in memory only.
	Store *StoreConfig
	// Agent, when set, runs an agent with this configuration. Beside a
	// coordinator, the agent also trusts the coordinator's signing key
	// (made ephemeral when Coordinator sets none), and Start returns once
	// the agent has registered, so that a job submitted at once finds it.
	Agent *agent.Config
}

// StoreConfig says where and how the coordinator's state is kept.
type StoreConfig struct {
	// Dir is the embedded server's JetStream directory (made 0700 if
	// missing); "" with Memory: a temporary one, removed at Close.
	// Unused with an external server, which has its own.
	Dir string
	// Memory keeps the state in memory: it lives as long as the process
	// (csub's in-process fleet).
	Memory bool
	// Replicas, MaxBytes and MaxAge are store.Config's.
	Replicas int
	MaxBytes int64
	MaxAge   time.Duration
	// Files, when set, adds the store of copies through the fleet
	// (files.OpenStream; its Subjects, Memory and Replicas are the
	// Store's). csub's in-process fleet copies local paths and has none.
	Files *files.StreamConfig
}

// DefaultStoreDir is where a coordinator keeps its state unless told:
// $STATE_DIRECTORY (systemd's StateDirectory=), else
// $XDG_STATE_HOME/fleetsh, else ~/.local/state/fleetsh.
func DefaultStoreDir() (string, error) {
	if d := os.Getenv("STATE_DIRECTORY"); d != "" {
		first, _, _ := strings.Cut(d, ":") // systemd lists several
		return first, nil
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "fleetsh"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("state directory: %w (give one with --store)", err)
	}
	return filepath.Join(home, ".local", "state", "fleetsh"), nil
}

// ConfigError is a setting the coordinator or the agent refused: the
// commands exit 2 on it, as on a bad flag.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// startWait bounds the coordinator's start and the local agent's
// registration: both are in-process and take milliseconds.
const startWait = 10 * time.Second

// Fleet is the running parts.
type Fleet struct {
	log       *slog.Logger
	srv       *server.Server // nil when joining an external NATS
	url       string
	coord     *coordinator.Coordinator
	coordNC   *nats.Conn // the coordinator's connection
	agent     *agent.Agent
	agentNC   *nats.Conn // the agent's connection
	closing   atomic.Bool
	audit     *audit.Log    // the coordinator's, reopened on SIGHUP
	inProc    nkeys.KeyPair // the in-process parts' key (nil: no auth)
	identity  auth.Identity // who the process is on an external server
	creds     auth.Credentials
	subj      protocol.Subjects
	mu        sync.Mutex
	conns     []*nats.Conn
	errs      []error
	stopped   chan struct{} // closed when a part's Run returns (err says why)
	stopOnce  sync.Once
	cancel    func()
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
	stateDir  string // the embedded JetStream's directory
	tempState bool   // stateDir is temporary: removed at Close
}

// storeDir makes the embedded server's JetStream directory.
func (f *Fleet) storeDir(st *StoreConfig) (string, error) {
	dir := st.Dir
	if dir == "" {
		if !st.Memory {
			return "", &ConfigError{Err: errors.New("store: no directory")}
		}
		// JetStream keeps its account files in a directory even when
		// its streams are in memory.
		d, err := os.MkdirTemp("", "fleetsh-state-")
		if err != nil {
			return "", fmt.Errorf("store: %w", err)
		}
		f.stateDir, f.tempState = d, true
		return d, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", &ConfigError{Err: fmt.Errorf("store: %w", err)}
	}
	f.stateDir = dir
	return dir, nil
}

// Start starts the parts cfg names; ctx bounds the start only. On error
// nothing stays running.
func Start(ctx context.Context, cfg Config) (*Fleet, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	f := &Fleet{log: log, url: cfg.NATS, stopped: make(chan struct{}), cancel: func() {}, creds: cfg.Creds}
	fail := func(err error) (*Fleet, error) {
		_ = f.Close()
		return nil, err
	}
	switch {
	case cfg.Coordinator != nil:
		f.subj = cfg.Coordinator.Subjects
		f.identity = auth.Identity{Role: auth.Coordinator}
	case cfg.Agent != nil:
		f.subj = cfg.Agent.Subjects
		f.identity = auth.Identity{Role: auth.Agent, ID: cfg.Agent.ID}
		if cfg.Creds.Seed != "" && cfg.Agent.ID == "" {
			// The server lets a credential act under its own id only.
			return nil, &ConfigError{Err: errors.New("agent: a credential needs the agent id it was made for (--id)")}
		}
	}
	if cfg.NATS == "" {
		bc := broker.Config{Listen: cfg.Listen, Insecure: cfg.Insecure, Name: cfg.Name, Logger: log,
			Subjects: f.subj, Identities: cfg.Identities, TLSCert: cfg.TLSCert, TLSKey: cfg.TLSKey, TLSCA: cfg.TLSCA}
		if st := cfg.Store; st != nil && cfg.Coordinator != nil {
			dir, err := f.storeDir(st)
			if err != nil {
				return fail(err)
			}
			bc.JetStream, bc.StoreDir = true, dir
			if st.Memory {
				bc.MaxMemory = 2 * cmp.Or(st.MaxBytes, store.DefaultMemoryBytes)
			}
		}
		if len(cfg.Identities) > 0 {
			kp, err := nkeys.CreateUser()
			if err != nil {
				return nil, fmt.Errorf("in-process key: %w", err)
			}
			f.inProc = kp
			if bc.InProcessKey, err = kp.PublicKey(); err != nil {
				return nil, fmt.Errorf("in-process key: %w", err)
			}
		}
		srv, err := broker.Start(bc)
		if errors.Is(err, broker.ErrNotLoopback) || errors.Is(err, broker.ErrConfig) {
			return nil, &ConfigError{Err: fmt.Errorf("embedded nats: %w", err)}
		}
		if err != nil {
			return nil, fmt.Errorf("embedded nats: %w", err)
		}
		f.srv = srv
		if a := broker.Addr(srv); a != "" {
			scheme := "nats://"
			if cfg.TLSCert != "" {
				scheme = "tls://"
			}
			log.Info("nats listening", "url", scheme+a, "identities", len(cfg.Identities))
		}
	}
	var co *coordinator.Coordinator
	// Each part has its own connection, and logs with its role unless
	// its config names a logger.
	part := func(role string, logger **slog.Logger, build func(*nats.Conn) error) error {
		nc, err := f.Conn("fleetsh-" + role)
		if err != nil {
			return err
		}
		if role == "agent" {
			f.agentNC = nc
		} else {
			f.coordNC = nc
		}
		if *logger == nil {
			*logger = log.With("role", role)
		}
		if err := build(nc); err != nil {
			return &ConfigError{Err: fmt.Errorf("%s: %w", role, err)}
		}
		return nil
	}
	if cfg.Coordinator != nil {
		c := *cfg.Coordinator
		f.audit = c.Audit
		if err := part("coordinator", &c.Logger, func(nc *nats.Conn) (err error) {
			if st := cfg.Store; st != nil {
				sc := store.Config{Subjects: c.Subjects, Memory: st.Memory, Replicas: st.Replicas, MaxBytes: st.MaxBytes, MaxAge: st.MaxAge}
				if c.Store, err = store.Open(ctx, nc, sc); err != nil {
					return fmt.Errorf("store: %w", err)
				}
				c.Logger.Info("state stored on jetstream", "stream", c.Store.Names().Stream, "bucket", c.Store.Names().Bucket,
					"dir", f.stateDir, "memory", st.Memory, "replicas", c.Store.Config().Replicas)
				if st.Files != nil {
					fc := *st.Files
					fc.Subjects, fc.Memory, fc.Replicas = c.Subjects, st.Memory, st.Replicas
					js, err := jetstream.New(nc)
					if err != nil {
						return fmt.Errorf("file store: %w", err)
					}
					fs, err := files.OpenStream(ctx, js, fc)
					if err != nil {
						return fmt.Errorf("file store: %w", err)
					}
					c.Files = fs
					c.Logger.Info("file store on jetstream", "stream", fs.Name(), "max_bytes", fs.Config().MaxBytes, "max_age", fs.Config().MaxAge)
				}
			}
			co, err = coordinator.New(nc, c)
			f.coord = co
			return err
		}); err != nil {
			return fail(err)
		}
	}
	if cfg.Agent != nil {
		c := *cfg.Agent
		if co != nil {
			// The agent beside the coordinator trusts its key, ephemeral
			// or configured: nothing to set up in process.
			c.CoordinatorKeys = append(slices.Clone(c.CoordinatorKeys), co.PublicKey())
		}
		if err := part("agent", &c.Logger, func(nc *nats.Conn) (err error) {
			f.agent, err = agent.New(nc, c)
			return err
		}); err != nil {
			return fail(err)
		}
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
	f.coord = co
	if co != nil {
		f.run(func() error { return co.Run(coordCtx) })
		select { // the agent's first Hello then finds the coordinator listening
		case <-co.Ready():
		case <-f.stopped:
			close(agentDone)
			return fail(f.why("the coordinator stopped"))
		case <-time.After(startWait):
			close(agentDone)
			return fail(fmt.Errorf("the coordinator did not start within %v", startWait))
		}
	}
	if f.agent == nil {
		close(agentDone)
		return f, nil
	}
	f.run(func() error { defer close(agentDone); return f.agent.Run(agentCtx) })
	if co == nil {
		return f, nil
	}
	deadline := time.Now().Add(startWait)
	for len(co.Agents()) == 0 {
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("the local agent did not register within %v", startWait))
		}
		select {
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-f.stopped:
			return fail(f.why("the local agent stopped"))
		case <-time.After(time.Millisecond):
		}
	}
	return f, nil
}

// Addr returns the host:port the embedded NATS server listens on (""
// when it listens on none, or the process joined an external server).
func (f *Fleet) Addr() string {
	if f.srv == nil {
		return ""
	}
	return broker.Addr(f.srv)
}

// Coordinator returns the coordinator the process runs (nil: none).
func (f *Fleet) Coordinator() *coordinator.Coordinator { return f.coord }

// Agent returns the agent the process runs (nil: none).
func (f *Fleet) Agent() *agent.Agent { return f.agent }

// Ready returns nil when every part serves: the coordinator connected to
// NATS and listening (Coordinator.Ready), the agent connected and
// registered with a coordinator. Otherwise it says, in one line, why
// not: a part stopped, or the process stops, or a part is cut from NATS.
func (f *Fleet) Ready() error {
	select {
	case <-f.stopped:
		return f.why("stopped")
	default:
	}
	if f.closing.Load() {
		return errors.New("stopping")
	}
	if f.coord != nil {
		select {
		case <-f.coord.Ready():
		default:
			return errors.New("coordinator starting")
		}
		if !f.coordNC.IsConnected() {
			return fmt.Errorf("coordinator not connected to NATS (%s)", strings.ToLower(f.coordNC.Status().String()))
		}
	}
	if f.agent != nil {
		if !f.agentNC.IsConnected() {
			return fmt.Errorf("agent not connected to NATS (%s)", strings.ToLower(f.agentNC.Status().String()))
		}
		if !f.agent.Stats().Registered {
			return errors.New("agent not registered with a coordinator yet")
		}
	}
	return nil
}

// run runs a part, keeping its error.
func (f *Fleet) run(fn func() error) {
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer f.stopOnce.Do(func() { close(f.stopped) })
		if err := fn(); err != nil && !errors.Is(err, context.Canceled) {
			f.mu.Lock()
			f.errs = append(f.errs, err)
			f.mu.Unlock()
		}
	}()
}

// Conn opens a connection to the fleet's NATS server, closed by Close:
// in process to the embedded server (with the run's own key when it
// authenticates clients), else to Config.NATS with the fleet's
// connection policy (wire.Options: the server may come later) and the
// process's credentials.
func (f *Fleet) Conn(name string) (*nats.Conn, error) {
	opts := wire.Options(name, f.log)
	if f.srv != nil {
		opts = append(opts, nats.InProcessServer(f.srv))
		if f.inProc != nil {
			pub, err := f.inProc.PublicKey()
			if err != nil {
				return nil, fmt.Errorf("nats connection for %s: %w", name, err)
			}
			opts = append(opts, nats.Nkey(pub, f.inProc.Sign))
		}
	} else {
		co, err := auth.ClientOptions(f.subj, f.identity, name, f.creds)
		if err != nil {
			return nil, &ConfigError{Err: err}
		}
		opts = append(opts, co...)
	}
	nc, err := nats.Connect(f.url, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats connection for %s: %w", name, err)
	}
	f.mu.Lock()
	f.conns = append(f.conns, nc)
	f.mu.Unlock()
	return nc, nil
}

// err returns the errors the parts stopped with.
func (f *Fleet) err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return errors.Join(f.errs...)
}

// drain makes the agent take no new shard and returns once those it
// holds have ended and been acknowledged, or with ctx's error.
func (f *Fleet) drain(ctx context.Context) error {
	if f.agent == nil {
		return nil
	}
	return f.agent.Drain(ctx)
}

// Close stops the agent (cancelling the shards it still runs), then the
// coordinator, then closes the connections and the embedded server. It
// returns the errors the parts stopped with.
func (f *Fleet) Close() error {
	f.closing.Store(true)
	f.closeOnce.Do(func() {
		f.cancel()
		f.wg.Wait()
		f.mu.Lock()
		conns := f.conns
		f.mu.Unlock()
		for _, nc := range conns {
			if f.srv == nil {
				_ = nc.FlushTimeout(time.Second) // the last acks and heartbeat
			}
			nc.Close()
		}
		if f.srv != nil {
			f.srv.Shutdown()
			f.srv.WaitForShutdown()
		}
		if f.tempState {
			_ = os.RemoveAll(f.stateDir)
		}
		f.closeErr = f.err()
	})
	return f.closeErr
}

// Serve runs f until the first stopping signal on sigs, then stops it.
// With drain the agent first drains for at most timeout (a second signal
// cuts it short). SIGHUP does not stop: it reopens the coordinator's
// audit log (log rotation). Serve returns an error when a part stopped by
// itself, or the drain did not complete.
func (f *Fleet) Serve(sigs <-chan os.Signal, drain bool, timeout time.Duration) error {
	for stop := false; !stop; {
		select {
		case <-f.stopped:
			return f.stoppedErr("stopped")
		case sig := <-sigs:
			stop = !f.hangup(sig)
			if stop {
				f.closing.Store(true) // not ready any more (Ready)
				f.log.Info("stopping", "signal", sig.String())
			}
		}
	}
	var derr error
	if drain && f.agent != nil {
		f.log.Info("draining", "timeout", timeout)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		drained := make(chan error, 1)
		go func() { drained <- f.drain(ctx) }()
		for waiting := true; waiting; {
			select {
			case derr = <-drained:
				waiting = false
			case sig := <-sigs:
				if f.hangup(sig) {
					continue
				}
				cancel()
				<-drained // Drain returns with ctx
				derr = fmt.Errorf("second signal (%s): cancelling running shards", sig)
				waiting = false
			case <-f.stopped:
				cancel()
				<-drained
				return f.stoppedErr("stopped while draining")
			}
		}
		if derr != nil {
			derr = fmt.Errorf("drain incomplete: %w", derr)
		}
	}
	return errors.Join(derr, f.Close())
}

// hangup handles sig when it is SIGHUP, reopening the audit log, and
// reports whether it was.
func (f *Fleet) hangup(sig os.Signal) bool {
	if sig != syscall.SIGHUP {
		return false
	}
	if f.audit == nil {
		f.log.Info("SIGHUP: no audit log to reopen")
		return true
	}
	if err := f.audit.Reopen(); err != nil {
		f.log.Error("SIGHUP: audit log not reopened: still writing to the old file", "path", f.audit.Path(), "err", err)
		return true
	}
	f.log.Info("SIGHUP: audit log reopened", "path", f.audit.Path())
	return true
}

// stoppedErr closes a fleet whose part stopped by itself and says why.
func (f *Fleet) stoppedErr(what string) error {
	_ = f.Close()
	return f.why(what)
}

// why is what stopped, with the errors the parts stopped with.
func (f *Fleet) why(what string) error {
	if err := f.err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return errors.New(what)
}
