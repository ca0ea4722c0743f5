package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/fleet/files"
	"github.com/fleetsh/fleetsh/pkg/fleet/policy"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
	_ "github.com/fleetsh/fleetsh/pkg/workers" // registers the drivers shards name
)

// Config configures an agent. Zero fields take the defaults documented
// on each.
type Config struct {
	Subjects protocol.Subjects
	// ID identifies the agent on the wire (protocol.ValidID); default: the
	// name followed by a random suffix, new at every start.
	ID string
	// Name is the agent's gateway name as topology.conf knows it; default:
	// the short host name.
	Name string
	// Local marks the agent serving nodes under no gateway.
	Local bool
	// Groups restricts the gateway groups served (empty: all of Name's).
	Groups []string
	// Capacity is the agent's fanout, and the most any shard may ask for
	// (default 64).
	Capacity int
	// Worker is the driver of shards that name none (default "ssh").
	Worker string
	// Info holds task info defaults for the shards' engines (ssh_options,
	// ssh_user, connect_timeout in seconds ...); a job's own keys win.
	Info map[string]string
	// Logger receives the agent's logs (default slog.Default()).
	Logger *slog.Logger
	// Heartbeat is the heartbeat interval until a Welcome sets one
	// (default 1 s).
	Heartbeat time.Duration
	// MaxBuffered is how many bytes of event batches the agent keeps in
	// memory, over all its shards, until the coordinator acknowledges
	// them (default 64 MiB); past it a shard's oldest batches are
	// spilled to files in SpillDir (spool.go).
	MaxBuffered int
	// MaxSpill bounds the bytes of spill files (default 1 GiB); past it
	// too, the shards' engines are held back until acks make room.
	MaxSpill int64
	// SpillDir is where the agent makes its private spill directory
	// (mode 0700, removed when the agent stops) at the first spill:
	// default $STATE_DIRECTORY (its first entry) when set, else
	// os.TempDir().
	SpillDir string
	// ResendAfter is how long a batch may go unacknowledged before the
	// agent publishes it again (default 2 s).
	ResendAfter time.Duration
	// CoordinatorKeys are the public nkeys whose signed shards the agent
	// runs (at least one; several while a key is rotated): see
	// protocol.SignShard. A shard signed by no other key runs.
	CoordinatorKeys []string
	// ClockSkew is how far the coordinator's clock may be from this
	// agent's when it checks a shard's validity
	// (protocol.DefaultClockSkew).
	ClockSkew time.Duration
	// Policy, when set, is checked again on every shard before it runs
	// (policy.go); nil trusts the coordinator's decision.
	Policy *policy.Policy
	// MaxOutput is the agent's ceiling on a node's output, standard
	// output and error together: a job's own cap (JobSpec.MaxOutput) is
	// lowered to it (default DefaultMaxOutput, at most
	// protocol.MaxOutputLimit; outcap.go).
	MaxOutput int64
	// Release is the fleetsh release the agent reports in its Hello, which
	// `csub agents` shows (default: the binary's build info, see
	// BuildRelease).
	Release string
	// LoadAverage gives the gateway's 1-minute load average for each
	// heartbeat (default: read from /proc/loadavg); an error leaves the
	// heartbeat without one.
	LoadAverage func() (float64, error)
	// Observe, when not nil, receives the durations of the stages the
	// shards' drivers measure (engine.Job.Observe: ssh connect and
	// authentication, a local process's spawn), with the driver's name.
	// It runs on the drivers' goroutines and must return at once.
	Observe func(driver string, stage engine.Stage, d time.Duration)
	// FileCache is where the agent keeps the trees pushed through the
	// fleet that it copies to its nodes, and spools its nodes' reverse
	// copies (pkg/fleet/files; files.go). Its Dir defaults to
	// $CACHE_DIRECTORY/files (systemd's CacheDirectory=), else
	// os.UserCacheDir()/fleetsh/files; it is made at the first copy.
	FileCache files.CacheConfig
}

// Defaults.
const (
	DefaultCapacity    = 64
	DefaultWorker      = "ssh"
	DefaultHeartbeat   = time.Second
	DefaultMaxBuffered = 64 << 20
	DefaultMaxSpill    = 1 << 30
	DefaultResendAfter = 2 * time.Second
)

// Timings of the protocol.
const (
	flushEvery     = 50 * time.Millisecond
	staleEvery     = time.Second // at most; ResendAfter/2 when shorter
	registerWait   = time.Second
	stopGrace      = 2 * time.Second
	doneBackoffMin = 200 * time.Millisecond // first pause between summary retries
	doneBackoffMax = 5 * time.Second        // the pause doubles up to this
	requestWait    = 2 * time.Second
	ackGrace       = 250 * time.Millisecond
)

// seenKeys is how many accepted shard keys an agent remembers to answer
// repeated requests without running them again.
const seenKeys = 4096

func (c *Config) fill() error {
	if c.Name == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("agent name: %w", err)
		}
		c.Name, _, _ = strings.Cut(h, ".")
	}
	if c.ID == "" {
		c.ID = randomID(c.Name)
	}
	if err := protocol.ValidID(c.ID); err != nil {
		return fmt.Errorf("agent id: %w", err)
	}
	if err := protocol.ValidPrefix(c.Subjects.Prefix); err != nil {
		return err
	}
	if c.Capacity <= 0 {
		c.Capacity = DefaultCapacity
	}
	if c.Worker == "" {
		c.Worker = DefaultWorker
	}
	if _, err := engine.NewDriver(c.Worker); err != nil {
		return fmt.Errorf("agent worker: %w", err)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.MaxBuffered <= 0 {
		c.MaxBuffered = DefaultMaxBuffered
	}
	if c.MaxSpill <= 0 {
		c.MaxSpill = DefaultMaxSpill
	}
	if c.SpillDir == "" {
		c.SpillDir = defaultSpillDir()
	}
	if c.ResendAfter <= 0 {
		c.ResendAfter = DefaultResendAfter
	}
	if c.ClockSkew <= 0 {
		c.ClockSkew = protocol.DefaultClockSkew
	}
	c.fillMaxOutput()
	if c.Release == "" {
		c.Release = BuildRelease()
	}
	if c.LoadAverage == nil {
		c.LoadAverage = procLoadAverage
	}
	return nil
}

// defaultSpillDir is systemd's StateDirectory= when the agent runs
// under one (a list separated by colons: the first), else os.TempDir().
func defaultSpillDir() string {
	if d, _, _ := strings.Cut(os.Getenv("STATE_DIRECTORY"), ":"); d != "" {
		return d
	}
	return os.TempDir()
}

// randomID is name made a valid id, with a random suffix: readable in
// logs, unique across restarts (a restarted agent must not be taken for
// the one that held the old shards).
func randomID(name string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	clean := []byte(name)
	for i, c := range clean {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			clean[i] = '_'
		}
	}
	if len(clean) > 48 {
		clean = clean[:48]
	}
	if len(clean) == 0 {
		return "agent-" + hex.EncodeToString(b[:])
	}
	return string(clean) + "-" + hex.EncodeToString(b[:])
}

// Agent is a running gateway agent. Create it with New, run it with Run.
type Agent struct {
	nc    *nats.Conn
	cfg   Config
	log   *slog.Logger
	subj  protocol.Subjects
	hello protocol.Hello

	started atomic.Bool
	count   counters // batches and heartbeats sent (stats.go)
	hbKick  chan struct{}
	hbEvery atomic.Int64 // time.Duration

	registered chan struct{} // closed when a coordinator welcomes the agent
	probe      chan struct{} // Run's loop takes what Probe sends

	mu       sync.Mutex
	shards   map[string]*shard
	seen     recent
	verify   *protocol.Verifier
	replay   *replayCache // signed shards received, until they expire
	draining bool
	stopping bool
	closed   bool            // Run is returning: handlers do nothing more
	hard     context.Context // shards' context: cancelled when Run gives up on them
	changed  chan struct{}   // closed and replaced when a shard leaves
	resumed  chan struct{}   // closed and replaced at each NATS reconnection
	keep     *budget         // what the shards' spools may keep
	wg       sync.WaitGroup
	drops    wire.Drops // control messages ignored (onControl)

	cacheMu    sync.Mutex
	cache      *files.Cache // opened at the first copy through the fleet
	collectDir string       // where reverse copies spool, beside the cache
}

// New returns an agent that will speak on nc with cfg (defaults filled).
func New(nc *nats.Conn, cfg Config) (*Agent, error) {
	if nc == nil {
		return nil, errors.New("agent: nil NATS connection")
	}
	cfg.Groups = slices.Clone(cfg.Groups)
	cfg.CoordinatorKeys = slices.Clone(cfg.CoordinatorKeys)
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	verify, err := newVerifier(&cfg)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	a := &Agent{
		nc: nc, cfg: cfg, subj: cfg.Subjects,
		log:     cfg.Logger.With("agent", cfg.ID),
		hbKick:  make(chan struct{}, 1),
		shards:  make(map[string]*shard),
		seen:    newRecent(seenKeys),
		verify:  verify,
		replay:  newReplayCache(maxReplayKeys),
		changed: make(chan struct{}),
		resumed: make(chan struct{}),
		keep:    newBudget(int64(cfg.MaxBuffered), cfg.MaxSpill, cfg.SpillDir, "fleetsh-spill-"+cfg.ID+"."),
	}
	a.registered, a.probe = make(chan struct{}), make(chan struct{})
	a.hbEvery.Store(int64(cfg.Heartbeat))
	a.hello = protocol.Hello{Agent: cfg.ID, Name: cfg.Name, Local: cfg.Local, Groups: cfg.Groups,
		Capacity: cfg.Capacity, Release: cfg.Release}
	return a, nil
}

// ID returns the agent's id.
func (a *Agent) ID() string { return a.cfg.ID }

// Run is New then Agent.Run.
func Run(ctx context.Context, nc *nats.Conn, cfg Config) error {
	a, err := New(nc, cfg)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// Run serves shards until ctx is cancelled, then cancels the shards still
// running, gives their summaries about two seconds to be acknowledged and
// returns nil, once nothing it started runs any more. It returns an error at once when the agent cannot
// subscribe, or when the coordinator refuses its protocol version.
func (a *Agent) Run(ctx context.Context) error {
	if !a.started.CompareAndSwap(false, true) {
		return errors.New("agent: Run called twice")
	}
	hard, hardStop := context.WithCancel(context.WithoutCancel(ctx))
	defer hardStop()
	a.mu.Lock()
	a.hard = hard
	a.mu.Unlock()

	// Subscribed before the Hello: a coordinator may send shards as soon
	// as it has welcomed us.
	ctlSub, err := a.nc.Subscribe(a.subj.Control(a.cfg.ID), a.handle(a.onControl))
	if err != nil {
		return fmt.Errorf("agent: subscribe control: %w", err)
	}
	defer ctlSub.Unsubscribe()
	shardSub, err := a.nc.Subscribe(a.subj.Agent(a.cfg.ID), a.handle(a.onShard))
	if err != nil {
		return fmt.Errorf("agent: subscribe shards: %w", err)
	}
	defer shardSub.Unsubscribe()
	stdinSub, err := a.nc.Subscribe(a.subj.AgentStdin(a.cfg.ID), a.handle(a.onStdin))
	if err != nil {
		return fmt.Errorf("agent: subscribe stdin: %w", err)
	}
	defer stdinSub.Unsubscribe()
	_ = a.nc.FlushTimeout(time.Second) // best effort: the server may be down yet

	status := a.nc.StatusChanged(nats.CONNECTED)
	defer a.nc.RemoveStatusListener(status)
	a.wg.Add(2)
	go a.staleLoop(hard)
	go a.watchConn(hard, status)

	a.log.Info("agent starting", "name", a.cfg.Name, "capacity", a.cfg.Capacity, "worker", a.cfg.Worker)
	if old := a.keep.clean(); len(old) > 0 {
		a.log.Warn("removed the spill files a previous run of this agent left", "dirs", old)
	}
	err = a.register(ctx)
	if err == nil {
		a.heartbeatLoop(ctx)
	}
	_ = shardSub.Unsubscribe()
	a.shutdown(hardStop)
	if err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// handle runs h for each message until Run returns, which waits for the
// calls in progress.
func (a *Agent) handle(h nats.MsgHandler) nats.MsgHandler {
	return func(m *nats.Msg) {
		a.mu.Lock()
		if a.closed {
			a.mu.Unlock()
			return
		}
		a.wg.Add(1)
		a.mu.Unlock()
		defer a.wg.Done()
		h(m)
	}
}

// register says Hello until a coordinator welcomes the agent.
func (a *Agent) register(ctx context.Context) error {
	warned := false
	// Retry soon at first (a coordinator starting beside us subscribes
	// within milliseconds), then every registerWait.
	pause := 20 * time.Millisecond
	for {
		var w protocol.Welcome
		rctx, cancel := context.WithTimeout(ctx, registerWait)
		err := wire.Request(rctx, a.nc, a.subj.Register(a.cfg.ID), protocol.TypeHello, a.hello, &w)
		cancel()
		var verr *protocol.VersionError
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &verr):
			return fmt.Errorf("agent: registration refused: %w", err)
		case err == nil && w.Error == "":
			if w.Heartbeat > 0 {
				a.hbEvery.Store(int64(w.Heartbeat))
			}
			a.log.Info("agent registered", "groups", w.Groups, "heartbeat", time.Duration(a.hbEvery.Load()))
			close(a.registered)
			return nil
		case err == nil && w.Code == protocol.CodeVersion: // no retry will cure it
			return fmt.Errorf("agent: registration refused: %s", w.Error)
		case err == nil:
			a.log.Warn("registration refused, retrying", "err", w.Error)
		case !warned && pause >= registerWait:
			a.log.Warn("no coordinator answers yet, retrying every second", "err", err)
			warned = true
		default:
			a.log.Debug("registration", "err", err)
		}
		if !a.sleep(ctx, pause) {
			return ctx.Err()
		}
		pause = min(2*pause, registerWait)
	}
}

func (a *Agent) heartbeatLoop(ctx context.Context) {
	every := time.Duration(a.hbEvery.Load())
	tick := time.NewTicker(every)
	defer tick.Stop()
	a.heartbeat()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.probe: // Probe: the loop is alive
			continue
		case <-tick.C:
		case <-a.hbKick:
		}
		a.heartbeat()
	}
}

func (a *Agent) heartbeat() {
	hb := protocol.Heartbeat{Hello: a.hello}
	a.mu.Lock()
	hb.Draining = a.draining || a.stopping
	for k, s := range a.shards {
		hb.Shards = append(hb.Shards, k)
		hb.Running += int(s.running.Load())
	}
	a.mu.Unlock()
	slices.Sort(hb.Shards)
	hb.Load = a.load()
	if err := wire.PublishJSON(a.nc, a.subj.Heartbeat(a.cfg.ID), protocol.TypeHeartbeat, hb); err != nil {
		a.log.Debug("heartbeat", "err", err)
		return
	}
	a.count.heartbeats.Add(1)
}

func (a *Agent) kickHeartbeat() {
	select {
	case a.hbKick <- struct{}{}:
	default:
	}
}

// staleLoop republishes batches whose ack is overdue: the batch or its
// ack was lost (core NATS is at most once, and a server restart loses
// what was in flight), and a coordinator that never saw a batch cannot
// ask for it unless a later one shows the gap.
func (a *Agent) staleLoop(ctx context.Context) {
	defer a.wg.Done()
	tick := time.NewTicker(min(staleEvery, a.cfg.ResendAfter/2))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if !a.nc.IsConnected() {
			continue // the reconnection sends them all again
		}
		for _, s := range a.list() {
			if stale, err := s.spool.stale(a.cfg.ResendAfter); len(stale) > 0 || err != nil {
				s.log.Debug("republishing unacknowledged batches", "count", len(stale))
				s.resend(stale, err)
			}
		}
	}
}

// watchConn resumes every stream when the NATS connection comes back: an
// agent cut off keeps its shards running and their batches in its
// spools, and whatever it had in flight may have been lost with the old
// connection. Each shard sends its unacknowledged batches again at once
// (not when their ack is overdue) and its flusher goes on with the
// rest, summaries waiting for an answer are asked again, and a
// heartbeat goes out.
func (a *Agent) watchConn(ctx context.Context, status chan nats.Status) {
	defer a.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-status:
			if !ok {
				return
			}
		}
		if !a.nc.IsConnected() {
			continue
		}
		shards := a.list()
		resent := 0
		for _, s := range shards {
			again, err := s.spool.inFlight()
			s.resend(again, err)
			resent += len(again)
			s.spool.kick()
		}
		a.mu.Lock()
		close(a.resumed)
		a.resumed = make(chan struct{})
		a.mu.Unlock()
		a.kickHeartbeat()
		if len(shards) > 0 {
			a.log.Info("nats connected: streams resumed", "shards", len(shards), "resent", resent)
		}
	}
}

// pauseResult says how a pause ended.
type pauseResult int

const (
	pauseWaited  pauseResult = iota // d passed
	pauseResumed                    // the NATS connection came back
	pauseStopped                    // ctx is done
)

// pause waits d, or less when the NATS connection comes back meanwhile,
// or ctx ends.
func (a *Agent) pause(ctx context.Context, d time.Duration) pauseResult {
	a.mu.Lock()
	resumed := a.resumed
	a.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return pauseWaited
	case <-resumed:
		return pauseResumed
	case <-ctx.Done():
		return pauseStopped
	}
}

// shutdown cancels the shards still held, waits up to stopGrace for their
// summaries, then stops them for good.
func (a *Agent) shutdown(hardStop context.CancelFunc) {
	a.mu.Lock()
	a.stopping = true
	a.mu.Unlock()
	a.heartbeat() // says Draining: send nothing more here
	shards := a.list()
	for _, s := range shards {
		s.cancel("agent stopping")
	}
	if len(shards) > 0 {
		a.log.Info("stopping: cancelled shards", "shards", len(shards))
		ctx, cancel := context.WithTimeout(context.Background(), stopGrace)
		if err := a.waitIdle(ctx); err != nil {
			a.log.Warn("stopping: shards not acknowledged in time", "shards", len(a.list()))
		}
		cancel()
	}
	hardStop()
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	a.wg.Wait()
	a.closeFileCache()
	if err := a.keep.close(); err != nil {
		a.log.Warn("spill directory not removed", "err", err)
	}
	if spilled, peak := a.keep.stats(); spilled > 0 {
		a.log.Info("events spilled to disk while running", "spilled_bytes", spilled, "peak_bytes", peak)
	}
	a.log.Info("agent stopped")
}

// Drain stops taking shards (new requests are refused, heartbeats say
// Draining) and returns once every shard the agent holds has ended and
// its summary was acknowledged, or with ctx's error.
func (a *Agent) Drain(ctx context.Context) error {
	a.mu.Lock()
	a.draining = true
	n := len(a.shards)
	a.mu.Unlock()
	a.kickHeartbeat()
	a.log.Info("draining", "shards", n)
	if err := a.waitIdle(ctx); err != nil {
		return err
	}
	a.log.Info("drained")
	return nil
}

func (a *Agent) waitIdle(ctx context.Context) error {
	for {
		a.mu.Lock()
		n, ch := len(a.shards), a.changed
		a.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (a *Agent) list() []*shard {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Collect(maps.Values(a.shards))
}

func (a *Agent) lookup(key string) *shard {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.shards[key]
}

// remove forgets s once its summary was acknowledged (or dropped); its
// key stays in a.seen so that a late repeat of its request is not re-run.
func (a *Agent) remove(s *shard) {
	a.mu.Lock()
	delete(a.shards, s.key)
	close(a.changed)
	a.changed = make(chan struct{})
	a.mu.Unlock()
	a.kickHeartbeat()
}

// onShard answers a shard request: refused, or accepted and started.
// Nothing runs unless the shard's signature, addressee, validity and
// novelty pass (open).
func (a *Agent) onShard(m *nats.Msg) {
	refuse := func(err error) {
		// The reply inbox is the requester's: it names who sent it.
		a.log.Warn("shard refused", "code", protocol.CodeOf(err), "err", err, "reply", m.Reply)
		r := protocol.ShardReply{Busy: protocol.CodeOf(err) == protocol.CodeBusy}
		r.Error, r.Code = protocol.Failure(err) // in this side's version, which the peer can read
		_ = wire.Respond(m, protocol.TypeShardReply, r)
	}
	if err := wire.Check(m); err != nil {
		refuse(err)
		return
	}
	if t := wire.Type(m); t != protocol.TypeShard {
		refuse(fmt.Errorf("agent %s: expected a %s message, got %q", a.cfg.Name, protocol.TypeShard, t))
		return
	}
	sh, err := a.open(m)
	if err != nil {
		refuse(err)
		return
	}
	if err := a.authorize(sh); err != nil {
		refuse(err)
		return
	}
	draining := &protocol.CodedError{Code: protocol.CodeBusy, Err: fmt.Errorf("agent %s is draining", a.cfg.Name)}
	key := sh.Key()
	a.mu.Lock()
	switch {
	case a.shards[key] != nil || a.seen.has(key):
		a.mu.Unlock()
		a.log.Info("shard request repeated: accepted, not run again", "shard", key)
		_ = wire.Respond(m, protocol.TypeShardReply, protocol.ShardReply{Accepted: true})
		return
	case a.draining || a.stopping || a.hard == nil:
		a.mu.Unlock()
		refuse(draining) // Busy: the coordinator gives these nodes to another agent
		return
	}
	a.mu.Unlock()

	s, err := newShard(a, sh)
	if err != nil {
		refuse(&protocol.CodedError{Code: refusedCode(err), Err: fmt.Errorf("agent %s: shard %s: %w", a.cfg.Name, key, err)})
		return
	}
	a.mu.Lock()
	if a.shards[key] != nil || a.seen.has(key) { // raced with a repeat
		a.mu.Unlock()
		_ = wire.Respond(m, protocol.TypeShardReply, protocol.ShardReply{Accepted: true})
		return
	}
	if a.draining || a.stopping {
		a.mu.Unlock()
		refuse(draining)
		return
	}
	a.shards[key] = s
	a.seen.add(key)
	a.wg.Add(1)
	hard := a.hard
	a.mu.Unlock()
	_ = wire.Respond(m, protocol.TypeShardReply, protocol.ShardReply{Accepted: true})
	s.log.Info("shard accepted", "nodes", len(s.names), "worker", s.driver.Name(), "fanout", s.fanout)
	go func() {
		defer a.wg.Done()
		s.run(hard)
	}()
	a.kickHeartbeat()
}

// refusedCode is the code of a shard newShard would not take: over the
// node limit, or a job this agent cannot run.
func refusedCode(err error) protocol.ErrorCode {
	if c := protocol.CodeOf(err); c == protocol.CodeTooManyNodes {
		return c
	}
	return protocol.CodeRefused
}

// onControl applies acks, retransmit requests and cancels. A message of
// another type, malformed, or an ack beyond the last batch sent is
// dropped and logged (rate-limited): taken, such an ack would stall the
// shard's stream.
func (a *Agent) onControl(m *nats.Msg) {
	err := wire.Check(m)
	if err == nil {
		err = wire.Expect(m, protocol.TypeControl)
	}
	var c protocol.Control
	if err == nil {
		err = protocol.Unmarshal(m.Data, &c)
	}
	if err != nil {
		a.drops.Drop(a.log, m, err)
		return
	}
	switch c.Kind {
	case protocol.ControlAck:
		if s := a.lookup(protocol.ShardKey(c.Job, c.Shard, c.Attempt)); s != nil {
			if !s.spool.ack(c.Seq) {
				a.drops.Drop(a.log, m, fmt.Errorf("ack %d beyond the last batch sent of shard %s", c.Seq, s.key))
			} else if s.gate != nil {
				s.gate.acked(c.Seq)
			}
		}
	case protocol.ControlRetransmit:
		// From gives nothing for a sequence number beyond what was sent.
		if s := a.lookup(protocol.ShardKey(c.Job, c.Shard, c.Attempt)); s != nil {
			s.log.Debug("retransmit requested", "from", c.Seq)
			s.resend(s.spool.from(c.Seq))
		}
	case protocol.ControlCancel:
		// The job's shards held here, or one shard; Attempt 0 means every
		// attempt (attempts count from 1), so that cancelling a stale
		// attempt spares a newer one on this agent.
		for _, s := range a.list() {
			if s.sh.Job == c.Job && (c.Shard == "" || s.sh.ID == c.Shard) && (c.Attempt == 0 || s.sh.Attempt == c.Attempt) {
				if again := s.cancel("cancelled by the coordinator"); again {
					s.giveUp()
				}
			}
		}
	default:
		a.log.Warn("unknown control message ignored", "kind", c.Kind)
	}
}

// recent remembers the last n keys added.
type recent struct {
	set  map[string]struct{}
	ring []string
	next int
}

func newRecent(n int) recent {
	return recent{set: make(map[string]struct{}, n), ring: make([]string, n)}
}

func (r *recent) has(k string) bool { _, ok := r.set[k]; return ok }

func (r *recent) add(k string) {
	if old := r.ring[r.next]; old != "" {
		delete(r.set, old)
	}
	r.ring[r.next] = k
	r.set[k] = struct{}{}
	r.next = (r.next + 1) % len(r.ring)
}

// Registered is closed once a coordinator has welcomed the agent (Run
// says Hello until one does).
func (a *Agent) Registered() <-chan struct{} { return a.registered }

// Probe returns once Run's loop (saying Hello until registered, then
// heartbeating) has taken a probe: it is alive, not stuck. It waits for
// the loop (a Hello takes up to a second) or returns ctx's error. The
// systemd watchdog pings only after a probe (internal/cliconf).
func (a *Agent) Probe(ctx context.Context) error {
	select {
	case a.probe <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sleep is the package's sleep, answering probes meanwhile.
func (a *Agent) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return true
		case <-a.probe:
		case <-ctx.Done():
			return false
		}
	}
}

// sleep waits d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
