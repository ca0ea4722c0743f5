// Package coordinator is the fleet's coordinator: it takes jobs from csub,
// splits each job's nodes per gateway group (topology.conf), sends the
// parts as shards to live agents of those groups, merges the event
// batches they stream back into one stream per job, and keeps the job
// registry.
//
// Guarantees, whatever fails: every node of a job ends in exactly one
// final state (protocol.State), and a job is complete only when every node
// has one. Batches are checked by per-shard sequence numbers: duplicates
// are dropped, gaps are repaired by retransmission (the agent keeps what
// is unacknowledged), and a shard's summary is accepted only when every
// batch up to its last arrived. An agent that stops heartbeating for
// LostAfter is lost: its nodes that never started go to another live
// agent of the same group; those that started end as "gateway lost"
// (or run again when the job says it is safe). A group with no live agent
// fails its nodes at once ("no agent"). Nothing waits forever.
//
// No message depends on the size of a job: shards carry folded node sets,
// cut into as many shards as max_payload needs (shardset.go); a JobSpec
// too large for one message arrives in parts (submit.go); a job over
// MaxJobNodes is refused before its set is expanded, and one user's jobs
// hold at most MaxUserNodes nodes together (users.go). No message costs
// more than its size and what its job holds (bounds.go).
//
// Flow control runs end to end: agents may have Window batches
// unacknowledged; the coordinator acks a shard's batches only while the
// job's output backlog to its submitter is under MaxBacklog, and the
// submitter acks the output stream the same way. A submitter that stops
// acking for DetachAfter is dropped and the job runs on. A job's standard
// input flows the other way at the pace of its slowest shard, in bounded
// memory (stdin.go).
package coordinator

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/fleetsh/fleetsh/pkg/fleet/audit"
	"github.com/fleetsh/fleetsh/pkg/fleet/files"
	"github.com/fleetsh/fleetsh/pkg/fleet/policy"
	"github.com/fleetsh/fleetsh/pkg/fleet/store"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Router decides which gateway group serves each node (see
// pkg/topology; FromTopology adapts a *topology.Router).
type Router interface {
	// Split partitions nodes per gateway group; local is the rest.
	Split(nodes *nodeset.NodeSet) (groups map[string]*nodeset.NodeSet, local *nodeset.NodeSet)
	// GroupsOfGateway names the groups a gateway serves.
	GroupsOfGateway(name string) []string
	// HasGroup reports whether group exists.
	HasGroup(group string) bool
}

// Config configures a Coordinator. The zero value works: no topology
// (every node local), the default subjects and timings.
type Config struct {
	Subjects protocol.Subjects
	// Router routes nodes to gateway groups (nil: every node is local).
	Router Router
	Logger *slog.Logger
	// Heartbeat is the interval agents are told to heartbeat at (1 s).
	Heartbeat time.Duration
	// LostAfter is how long an agent may be silent before it is lost
	// (3 heartbeats).
	LostAfter time.Duration
	// DispatchTimeout bounds one shard request (2 s; retried).
	DispatchTimeout time.Duration
	// Window, MaxBatch and FlushInterval shape the event streams
	// (protocol.DefaultWindow, protocol.DefaultMaxBatch, 50 ms).
	Window        int
	MaxBatch      int
	FlushInterval time.Duration
	// MaxBacklog is the output a job may queue for a slow submitter before
	// its agents are held back (8 MiB).
	MaxBacklog int
	// DetachAfter is how long a submitter may leave output unacked before
	// the job goes on without it (15 s).
	DetachAfter time.Duration
	// CancelGrace is how long agents have to confirm a cancel before the
	// coordinator ends the nodes itself (5 s).
	CancelGrace time.Duration
	// ProgressGrace is added to a job's connect and command timeouts to
	// make the progress deadline of its shards (30 s; see progress.go).
	ProgressGrace time.Duration
	// KeepJobs is how long finished jobs stay in the registry (1 h).
	KeepJobs time.Duration
	// MaxReplay bounds the output lines a job keeps for `csub attach`
	// (32 MiB); starts and final states are always kept.
	MaxReplay int
	// MaxReplayTotal bounds those lines over all jobs (512 MiB): past it,
	// finished jobs lose theirs, longest finished first (trimReplay).
	MaxReplayTotal int
	// MaxStdinKeep bounds the standard input a job keeps (16 MiB): all of
	// it for shards dispatched later while it is shorter (stdin.go).
	MaxStdinKeep int
	// StdinRetry is how long a shard's stdin sender waits for its agent
	// to answer before it sends the chunk again (2 s; the agent answers
	// when it has room).
	StdinRetry time.Duration
	// MaxJobNodes is the most nodes a job may have
	// (protocol.DefaultMaxJobNodes; at most protocol.MaxShardNodes).
	MaxJobNodes int
	// MaxUserNodes is the most nodes the jobs one user has in the
	// registry may hold together (MaxJobNodes by default, so
	// DefaultMaxUserNodes; at least MaxJobNodes): finished jobs of that
	// user are forgotten early to make room, and a job over it is
	// refused (users.go).
	MaxUserNodes int
	// Agents, when not nil, binds each agent id to what its credential
	// lets it serve: an agent it does not name cannot register. nil lets
	// any agent register (the in-process fleet, or --insecure).
	Agents map[string]AgentGrant
	// MaxCapacity caps the capacity an agent claims in its Hello
	// (DefaultMaxCapacity).
	MaxCapacity int
	// SigningKey signs every shard the coordinator dispatches (any nkey
	// with its seed; agents trust its public key). Nil: New makes an
	// ephemeral one and logs its public key, which agents then need.
	SigningKey nkeys.KeyPair
	// ShardTTL is how long a signed shard may wait to be accepted
	// (protocol.DefaultShardTTL; at most protocol.MaxShardTTL).
	ShardTTL time.Duration
	// Policy decides who may run what (policy.go); nil allows everything
	// (policy.AllowAll: csub's in-process fleet). cmd/coordinator gives
	// policy.Default when it has no policy file.
	Policy *policy.Policy
	// Audit, when set, receives a record of every job accepted, denied
	// and ended; a job whose accepted record cannot be written is refused.
	Audit *audit.Log
	// Store, when set, keeps the job registry and each job's journal on
	// NATS JetStream (journal.go): a coordinator restarted on the same
	// store resumes its running jobs and lists its finished ones
	// (resume.go). nil keeps them in memory only.
	Store *store.Store
	// Files, when set, is the chunk store of copies through the fleet
	// (pkg/fleet/files: a files.Stream on the Store's JetStream), which
	// the coordinator serves to users and agents (files.go). nil refuses
	// pushes of trees and reverse copies that collect.
	Files files.ChunkStore
	// ID names this coordinator as the owner of the jobs it runs in the
	// Store ("coordinator" when empty; cmd/coordinator gives the host
	// name): a coordinator resumes the running jobs its ID owns. It also
	// names it among the coordinators sharing the NATS system (peers.go),
	// which must each have their own.
	ID string
	// ObserveMerge, when not nil, receives for each event batch the time
	// from its arrival in the coordinator's handler to its records merged
	// into its job (a batch that waited for a missing one counts from
	// the arrival of the batch that let it through). It must return at
	// once.
	ObserveMerge func(time.Duration)
}

// DefaultMaxCapacity is Config.MaxCapacity's default: the most commands
// the coordinator believes one agent runs at once, whatever it claims.
const DefaultMaxCapacity = 4096

func (cfg *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Heartbeat, time.Second)
	def(&cfg.LostAfter, 3*cfg.Heartbeat)
	def(&cfg.DispatchTimeout, 2*time.Second)
	def(&cfg.FlushInterval, 50*time.Millisecond)
	def(&cfg.DetachAfter, 15*time.Second)
	def(&cfg.CancelGrace, 5*time.Second)
	def(&cfg.ProgressGrace, 30*time.Second)
	def(&cfg.KeepJobs, time.Hour)
	def(&cfg.StdinRetry, 2*time.Second)
	if cfg.MaxCapacity <= 0 {
		cfg.MaxCapacity = DefaultMaxCapacity
	}
	if cfg.Window <= 0 {
		cfg.Window = protocol.DefaultWindow
	}
	if cfg.MaxBatch <= 0 || cfg.MaxBatch > protocol.MaxPayload/2 {
		cfg.MaxBatch = protocol.DefaultMaxBatch
	}
	if cfg.MaxReplay <= 0 {
		cfg.MaxReplay = 32 << 20
	}
	if cfg.MaxReplayTotal <= 0 {
		cfg.MaxReplayTotal = 512 << 20
	}
	if cfg.MaxStdinKeep <= 0 {
		cfg.MaxStdinKeep = 16 << 20
	}
	if cfg.MaxBacklog <= 0 {
		cfg.MaxBacklog = 8 << 20
	}
	if cfg.MaxJobNodes <= 0 {
		cfg.MaxJobNodes = protocol.DefaultMaxJobNodes
	}
	cfg.MaxJobNodes = min(cfg.MaxJobNodes, protocol.MaxShardNodes)
	def(&cfg.ShardTTL, protocol.DefaultShardTTL)
	cfg.ShardTTL = min(cfg.ShardTTL, protocol.MaxShardTTL)
	if cfg.MaxUserNodes <= 0 {
		cfg.MaxUserNodes = cfg.MaxJobNodes
	}
	cfg.MaxUserNodes = max(cfg.MaxUserNodes, cfg.MaxJobNodes)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Policy == nil {
		cfg.Policy = policy.AllowAll()
	}
	if cfg.ID == "" {
		cfg.ID = "coordinator"
	}
}

// Coordinator is a running coordinator.
type Coordinator struct {
	cfg  Config
	pub  string // the public key of cfg.SigningKey
	nc   *nats.Conn
	subj protocol.Subjects
	log  *slog.Logger
	ctx  context.Context
	// files serves the file store (Config.Files) once Run started; a
	// scrape reads its counters (FileStats).
	files atomic.Pointer[files.Server]

	mu          sync.Mutex
	agents      map[string]*agent
	jobs        map[string]*job
	streams     map[string]*follower // attached output streams by id
	staged      map[string]*staged   // node set parts of jobs being submitted
	stagedBytes int
	reconnected time.Time
	reconnects  uint64  // the connection's reconnections, as reconnectedAt last saw them
	peers       peerSet // the other coordinators (peers.go)
	// finished are the finished jobs of the Store not loaded (resume.go):
	// listed from their record, loaded when attached.
	finished map[string]*store.Record
	// held are the shards of resumed jobs their agents took before the
	// restart, by agent, until its first heartbeat (resume.go).
	held map[string][]heldShard
	// runID tells this run's journal messages from an earlier run's (the
	// server dedupes message ids).
	runID string

	stats Stats
	ends  nodeEnds   // nodes ended per final state (metrics.go)
	drops wire.Drops // messages dropped (bounds.go)
	ready chan struct{}
	probe chan struct{} // Run's loop takes what Probe sends

	// Run waits for what the coordinator started (handlers, per-job
	// goroutines) before it returns: once stopping is set under
	// running's lock, nothing new starts.
	running  sync.Mutex
	stopping bool
	wg       sync.WaitGroup
}

// Stats counts what the coordinator merged (read with Stats()): event
// batches received (duplicates included), their bytes, the records
// merged, the duplicates dropped and the gaps seen (a batch arrived
// before one it follows, which the coordinator asked again).
type Stats struct {
	Batches, Bytes, Records, Duplicates, Gaps uint64
}

// New returns a coordinator that will serve on nc.
func New(nc *nats.Conn, cfg Config) (*Coordinator, error) {
	cfg.defaults()
	if err := protocol.ValidPrefix(cfg.Subjects.Prefix); err != nil {
		return nil, err
	}
	if err := protocol.ValidID(cfg.ID); err != nil {
		return nil, fmt.Errorf("coordinator id: %w", err)
	}
	pub, err := signingKey(&cfg)
	if err != nil {
		return nil, err
	}
	return &Coordinator{cfg: cfg, nc: nc, subj: cfg.Subjects, log: cfg.Logger, pub: pub,
		agents: make(map[string]*agent), jobs: make(map[string]*job), streams: make(map[string]*follower),
		staged: make(map[string]*staged), finished: make(map[string]*store.Record), held: make(map[string][]heldShard),
		runID: strconv.FormatInt(time.Now().UnixNano(), 36),
		ready: make(chan struct{}), probe: make(chan struct{})}, nil
}

// Run serves until ctx is done. When it returns, nothing the coordinator
// started runs any more: no handler, stream, dispatch or stdin relay.
func (c *Coordinator) Run(ctx context.Context) error {
	c.ctx = ctx
	defer c.stop()
	// Before any handler: an agent's summary for a job not yet loaded
	// would be refused, and the agent would drop it.
	resumed, err := c.load(ctx)
	if err != nil {
		return err
	}
	c.startPeers()
	// Submits and registry requests go to one coordinator of the queue
	// group, which forwards what another holds (route.go); the rest
	// reaches every coordinator, and only a job's owner acts on it.
	const queue = protocol.CoordinatorQueue
	subs := []struct {
		subject, queue string
		h              nats.MsgHandler
	}{
		{c.subj.AllSubmits(), queue, c.typed(c.routeSubmit, protocol.TypeJobSpec, protocol.TypeSubmitPart)},
		{c.subj.AllJobs(), queue, c.typed(c.routeJobs, protocol.TypeJobsRequest)},
		{c.subj.AllPresences(), "", c.typed(c.onPresence, protocol.TypePresence)},
		{c.subj.Forward(c.cfg.ID), "", c.onForward},
		{c.subj.AllRegisters(), "", c.typed(c.onRegister, protocol.TypeHello)},
		{c.subj.Heartbeats(), "", c.typed(c.onHeartbeat, protocol.TypeHeartbeat)},
		{c.subj.AllEvents(), "", c.typed(c.onEvents, protocol.TypeEventBatch)},
		{c.subj.AllDone(), "", c.typed(c.onDone, protocol.TypeShardSummary)},
		{c.subj.AllOutputAcks(), "", c.typed(c.onOutputAck, protocol.TypeControl)},
		{c.subj.AllStdin(), "", c.typed(c.onStdin, protocol.TypeStdinChunk)},
	}
	var opened []*nats.Subscription
	defer func() {
		for _, s := range opened {
			_ = s.Unsubscribe()
		}
	}()
	for _, s := range subs {
		sub, err := c.nc.QueueSubscribe(s.subject, s.queue, c.handle(s.h))
		if err != nil {
			return fmt.Errorf("subscribe %s: %w", s.subject, err)
		}
		// Never drop: the fleet's windows bound what can queue here.
		_ = sub.SetPendingLimits(-1, 512<<20)
		opened = append(opened, sub)
	}
	if c.cfg.Files != nil {
		srv := &files.Server{Conn: c.nc, Subjects: c.subj, Store: c.cfg.Files, Authorize: c.authorizeFile,
			Log: c.log.With("part", "files")}
		if err := srv.Start(); err != nil {
			return fmt.Errorf("file server: %w", err)
		}
		defer srv.Stop()
		c.files.Store(srv)
	}
	if err := c.nc.Flush(); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	prev := c.nc.Opts.ReconnectedCB
	c.nc.SetReconnectHandler(func(nc *nats.Conn) {
		c.mu.Lock()
		c.reconnected = time.Now()
		c.mu.Unlock()
		c.log.Info("coordinator reconnected to nats", "url", nc.ConnectedUrlRedacted())
		c.resync()
	})
	defer c.nc.SetReconnectHandler(prev)
	c.resume(resumed)
	c.log.Info("coordinator ready", "submit", c.subj.AllSubmits())
	close(c.ready)
	tick := time.NewTicker(c.cfg.Heartbeat / 2)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.peers.fenced:
			return ErrTakenOver // peers.go
		case <-c.probe: // Probe: the loop is alive
		case now := <-tick.C:
			c.checkLiveness(now)
			c.checkPeers(now)
			c.checkJobs(now)
		}
	}
}

// Ready is closed once Run listens on every subject.
func (c *Coordinator) Ready() <-chan struct{} { return c.ready }

// Probe returns once Run's loop, which checks agents, peers and jobs,
// has taken a probe: it is alive, not stuck. It waits for the loop (it
// waits while Run starts) or returns ctx's error. The systemd watchdog
// pings only after a probe (internal/cliconf).
func (c *Coordinator) Probe(ctx context.Context) error {
	select {
	case c.probe <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats returns the merge counters.
func (c *Coordinator) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// reconnectedAt is when peers' silence starts counting again after the
// coordinator's last reconnection to NATS (zero: never reconnected): the
// reconnection plus the longest pause between a client's reconnection
// attempts (wire.MaxReconnectWait), since agents and submitters cut off
// by the same outage may come back that much later. Call with c.mu held.
func (c *Coordinator) reconnectedAt() time.Time {
	// The reconnect handler runs asynchronously, after the connection
	// says it is up: a check that sees it up must see its reconnection
	// too, or it counts the whole outage as its peers' silence.
	if n := c.nc.Stats().Reconnects; n != c.reconnects {
		c.reconnects, c.reconnected = n, time.Now()
	}
	if c.reconnected.IsZero() {
		return c.reconnected
	}
	return c.reconnected.Add(wire.MaxReconnectWait)
}

// activeJobs lists the jobs in the registry. Call with c.mu held.
func (c *Coordinator) activeJobs() []*job {
	return slices.Collect(maps.Values(c.jobs))
}

func (c *Coordinator) job(id string) *job {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.jobs[id]
}

// A user (the identity token of the subject its request arrived on:
// protocol.Subjects.Sender) reads and controls its own jobs; another
// user's only as the policy's admin actions allow (Config.Policy:
// policy.SeeAll, CancelAny, AttachAny).

// jobFor returns job id for user's request, which needs action a on a job
// of another user. A job user may not see is answered as one that does
// not exist, so that others' job ids cannot be probed; one it may see but
// not act on is denied.
func (c *Coordinator) jobFor(user, id string, a policy.Action) (*job, error) {
	j := c.job(id)
	if j == nil && c.mayFinished(user, id, a) {
		j = c.loadFinished(id) // a finished job of the Store, not loaded yet
	}
	switch {
	case j != nil && user != "" && j.spec.User == user:
		return j, nil
	case j == nil || !c.may(user, policy.SeeAll) && !c.may(user, a):
		return nil, refusal(protocol.CodeUnknownJob, "no job %q", protocol.Truncate(id, protocol.MaxLogField))
	case !c.may(user, a):
		return nil, c.allowAction(user, a)
	}
	return j, nil
}

// mayFinished tells whether user may act (a) on the unloaded finished job
// id (checked before it is loaded: probing ids loads nothing).
func (c *Coordinator) mayFinished(user, id string, a policy.Action) bool {
	c.mu.Lock()
	r := c.finished[id]
	c.mu.Unlock()
	return r != nil && (user != "" && r.User == user || c.may(user, policy.SeeAll) || c.may(user, a))
}

// may reports whether user may take admin action a.
func (c *Coordinator) may(user string, a policy.Action) bool {
	return user != "" && c.cfg.Policy.Allow(user, a).Allowed
}

// onSubmit validates and starts a job.
func (c *Coordinator) onSubmit(m *nats.Msg) {
	refuse := func(job string, err error) {
		r := protocol.SubmitReply{Job: job}
		r.Error, r.Code = protocol.Failure(err)
		_ = wire.Respond(m, protocol.TypeSubmitReply, r)
	}
	if err := wire.Check(m); err != nil {
		refuse("", err) // in this side's version, which the peer can read
		return
	}
	if wire.Type(m) == protocol.TypeSubmitPart {
		c.onSubmitPart(m)
		return
	}
	var spec protocol.JobSpec
	if err := protocol.Unmarshal(m.Data, &spec); err != nil {
		refuse("", err)
		return
	}
	// The job belongs to whoever may publish on this subject, whatever
	// the spec says.
	spec.User = c.subj.Sender(m.Subject)
	if err := protocol.ValidID(spec.User); err != nil {
		refuse(spec.ID, fmt.Errorf("user: %w", err))
		return
	}
	if err := c.joinParts(&spec); err != nil {
		refuse(spec.ID, err)
		return
	}
	j, err := c.accept(spec)
	if err != nil {
		refuse(spec.ID, err)
		return
	}
	if err := c.checkTree(c.ctx, &j.spec); err != nil {
		c.forget(j)
		refuse(spec.ID, err)
		return
	}
	if err := c.auditAccepted(j); err != nil { // durable before anything runs
		c.forget(j)
		refuse(spec.ID, err)
		return
	}
	if err := c.storeAccepted(j); err != nil {
		c.forget(j)
		refuse(spec.ID, err)
		return
	}
	_ = wire.Respond(m, protocol.TypeSubmitReply, protocol.SubmitReply{Job: spec.ID, Nodes: len(j.nodes)})
	c.spawn(func() { j.primary.stream(c.ctx) })
	c.spawn(func() { c.plan(j) })
}

func (c *Coordinator) accept(spec protocol.JobSpec) (*job, error) {
	if err := protocol.ValidID(spec.ID); err != nil {
		return nil, fmt.Errorf("job id: %w", err)
	}
	if err := spec.CheckFields(); err != nil {
		c.log.Warn("job refused", "job", spec.ID, "user", protocol.Truncate(spec.User, protocol.MaxLogField), "err", err)
		return nil, refusal(protocol.CodeBadRequest, "job %s: %v", spec.ID, err)
	}
	// An empty command is valid: clush runs it (a remote login shell that
	// reads the forwarded stdin) when given none and stdin is not a tty.
	set, err := nodeset.Parse(spec.Nodes)
	if err != nil {
		return nil, fmt.Errorf("job nodes: %w", err)
	}
	// Count before expanding: "n[1-100000000]" is 14 bytes.
	if n := set.Len(); n > c.cfg.MaxJobNodes {
		return nil, &protocol.TooManyNodesError{Nodes: n, Limit: c.cfg.MaxJobNodes, Who: "the coordinator", How: "coordinator --max-nodes"}
	}
	decision, err := c.authorize(&spec, set)
	if err != nil {
		return nil, err
	}
	nodes := set.Nodes()
	if len(nodes) == 0 {
		return nil, errors.New("job has no node")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.jobs[spec.ID] != nil {
		return nil, refusal(protocol.CodeJobExists, "job %s exists already", spec.ID)
	}
	if err := c.makeRoom(spec.User, len(nodes)); err != nil {
		return nil, err
	}
	j := newJob(c, spec, nodes)
	j.set, j.rule = set, decision.Rule
	c.jobs[spec.ID] = j
	c.log.Info("job submitted", "job", spec.ID, "user", spec.User, "nodes", len(nodes),
		"command", protocol.Truncate(spec.Command, protocol.MaxLogField))
	return j, nil
}

// onJobs answers registry requests.
func (c *Coordinator) onJobs(m *nats.Msg) {
	var reply protocol.JobsReply
	var req protocol.JobsRequest
	if err := wire.Check(m); err != nil {
		reply.Error, reply.Code = protocol.Failure(err)
		_ = wire.Respond(m, protocol.TypeJobsReply, reply) // in this side's version, which the peer can read
		return
	}
	if err := protocol.Unmarshal(m.Data, &req); err != nil {
		reply.Error, reply.Code = protocol.Failure(err)
		_ = wire.Respond(m, protocol.TypeJobsReply, reply)
		return
	}
	user := c.subj.Sender(m.Subject)
	switch req.Kind {
	case protocol.JobsList:
		all := c.may(user, policy.SeeAll)
		c.mu.Lock()
		jobs := slices.DeleteFunc(c.activeJobs(), func(j *job) bool { return !all && (user == "" || j.spec.User != user) })
		c.mu.Unlock()
		for _, j := range jobs {
			j.mu.Lock()
			reply.Jobs = append(reply.Jobs, j.status(req.Brief))
			j.mu.Unlock()
		}
		reply.Jobs = append(reply.Jobs, c.finishedStatuses(user, all, req.Brief)...)
		slices.SortFunc(reply.Jobs, func(a, b protocol.JobStatus) int { return a.Submitted.Compare(b.Submitted) })
	case protocol.JobsAgents:
		if err := c.allowAction(user, policy.Agents); err != nil {
			reply.Error, reply.Code = protocol.Failure(err)
			break
		}
		reply.Agents = c.Agents()
	case protocol.JobsAttach:
		j, err := c.jobFor(user, req.Job, policy.AttachAny)
		if err != nil {
			reply.Error, reply.Code = protocol.Failure(err)
			break
		}
		if err := protocol.ValidID(req.Stream); err != nil {
			reply.Error, reply.Code = "attach stream: "+err.Error(), protocol.CodeBadRequest
			break
		}
		c.mu.Lock()
		taken := c.jobs[req.Stream] != nil || c.streams[req.Stream] != nil
		c.mu.Unlock()
		if taken {
			reply.Error, reply.Code = fmt.Sprintf("attach stream %q is in use", req.Stream), protocol.CodeBadRequest
			break
		}
		j.mu.Lock()
		f := j.attach(user, req.Stream, req.From)
		reply.Jobs = []protocol.JobStatus{j.status(false)}
		j.mu.Unlock()
		c.mu.Lock()
		c.streams[req.Stream] = f
		c.mu.Unlock()
		c.spawn(func() {
			f.stream(c.ctx)
			c.mu.Lock()
			delete(c.streams, req.Stream)
			c.mu.Unlock()
		})
		f.wake()
	case protocol.JobsStatus, protocol.JobsCancel:
		action := policy.SeeAll
		if req.Kind == protocol.JobsCancel {
			action = policy.CancelAny
		}
		j, err := c.jobFor(user, req.Job, action)
		if err != nil {
			reply.Error, reply.Code = protocol.Failure(err)
			break
		}
		if req.Kind == protocol.JobsCancel {
			c.cancel(j, user)
		}
		j.mu.Lock()
		reply.Jobs = []protocol.JobStatus{j.status(req.Brief)}
		j.mu.Unlock()
		if req.Stream != "" && req.Kind == protocol.JobsStatus {
			reply.Jobs[0].Stream = c.streamState(j, req.Stream)
		}
	default:
		reply.Error, reply.Code = fmt.Sprintf("unknown jobs request %q", protocol.Truncate(req.Kind, protocol.MaxLogField)), protocol.CodeBadRequest
	}
	c.fitReply(&reply)
	if err := wire.Respond(m, protocol.TypeJobsReply, reply); err != nil {
		c.log.Warn("jobs reply", "kind", req.Kind, "err", err)
	}
}

// fitReply leaves out the node sets of a registry reply, largest first,
// until it fits under max_payload: a job of a million badly folding
// names has a node set of megabytes.
func (c *Coordinator) fitReply(r *protocol.JobsReply) {
	limit := c.maxPayload() - headerRoom
	data, err := protocol.Marshal(r)
	if err != nil || len(data) <= limit {
		return
	}
	size := len(data)
	idx := make([]int, len(r.Jobs))
	for i := range idx {
		idx[i] = i
	}
	sets := func(st *protocol.JobStatus) int {
		n := len(st.Nodes) + len(st.Unfinished)
		for _, v := range st.States {
			n += len(v)
		}
		for _, v := range st.Codes {
			n += len(v)
		}
		return n
	}
	slices.SortFunc(idx, func(a, b int) int { return sets(&r.Jobs[b]) - sets(&r.Jobs[a]) })
	for _, i := range idx {
		if size <= limit {
			break
		}
		st := &r.Jobs[i]
		size -= sets(st)
		st.Nodes, st.Unfinished, st.States, st.Codes, st.Truncated = "", "", nil, nil, true
	}
	if size > limit && len(r.Jobs) > 1 {
		// Still too many jobs: keep the newest that fit.
		for len(r.Jobs) > 1 {
			r.Jobs = r.Jobs[1:]
			if data, err := protocol.Marshal(r); err == nil && len(data) <= limit {
				break
			}
		}
	}
}

// cancel stops a job on every agent that holds part of it; nodes not yet
// sent anywhere end as cancelled at once, the others when their agent
// confirms (or after CancelGrace).
func (c *Coordinator) cancel(j *job, by string) {
	j.mu.Lock()
	if j.cancelled || j.complete() {
		j.mu.Unlock()
		return
	}
	j.cancelled, j.cancelledBy = true, by
	j.cancelAt = time.Now().Add(c.cfg.CancelGrace)
	j.journal(func(e *store.Entry) { e.CancelledBy = cmp.Or(by, "-") })
	agents := map[string]bool{}
	for _, s := range j.shards {
		if !s.dead && !s.done {
			agents[s.agent] = true
		}
	}
	j.cancelUnstarted()
	j.mu.Unlock()
	c.log.Info("job cancelled", "job", j.spec.ID, "by", by)
	for a := range agents {
		c.control(a, protocol.Control{Kind: protocol.ControlCancel, Job: j.spec.ID})
	}
	c.checkDone(j)
}

// cancelReason is the message of the nodes the coordinator ends as
// cancelled: "job cancelled", naming who asked when known (csub tells its
// user from it), then detail. Call with j.mu held.
func (j *job) cancelReason(detail string) string {
	if j.cancelledBy == "" {
		return "job cancelled" + detail
	}
	return "job cancelled by " + j.cancelledBy + detail
}

// cancelUnstarted ends as cancelled the nodes of a cancelled job that no
// live shard holds. Call with j.mu held.
func (j *job) cancelUnstarted() {
	idx := slices.DeleteFunc(j.unended(), func(i uint32) bool {
		o := j.owners[i]
		return j.track.Phase(i) != protocol.PhasePending && o != nil && !o.dead
	})
	j.finishMany(idx, protocol.StateCancel, j.cancelReason(""))
}

// checkJobs ends overdue cancels, forgets old jobs and stale submit
// parts, and keeps the replay logs under MaxReplayTotal.
func (c *Coordinator) checkJobs(now time.Time) {
	c.mu.Lock()
	c.expireParts(now)
	jobs := c.activeJobs()
	reconnected := c.reconnectedAt()
	c.mu.Unlock()
	for _, j := range jobs {
		j.mu.Lock()
		if j.cancelled && !j.complete() && now.After(j.cancelAt) {
			j.finishMany(j.unended(), protocol.StateCancel, j.cancelReason(" (its agent did not confirm)"))
		}
		old := j.complete() && !j.ended.IsZero() && now.Sub(j.ended) > c.cfg.KeepJobs
		j.takeStdin() // a parked chunk: room from a shard that ended, or the job's end
		stuck := j.stuckShards(now, reconnected)
		j.mu.Unlock()
		for _, s := range stuck {
			c.shardStuck(j, s)
		}
		c.checkDone(j)
		if old {
			c.mu.Lock()
			c.dropJob(j)
			c.mu.Unlock()
		}
	}
	c.expireFinished(now)
	c.trimReplay(jobs)
}

// checkDone marks a job complete once every node has a final state.
func (c *Coordinator) checkDone(j *job) {
	j.mu.Lock()
	done := j.complete() && j.ended.IsZero()
	if done {
		j.ended = time.Now()
		c.log.Info("job complete", "job", j.spec.ID, "nodes", len(j.nodes), "took", j.ended.Sub(j.created).Round(time.Millisecond))
		j.journal(func(e *store.Entry) { e.Ended = j.ended })
		j.journalThen(func() { c.storeEnded(j) })
	}
	j.mu.Unlock()
	if done {
		c.auditEnded(j)
		j.mu.Lock()
		j.wakeAll()
		j.mu.Unlock()
	}
}
