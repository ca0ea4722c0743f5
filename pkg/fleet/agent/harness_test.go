package agent

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// coord plays the coordinator by hand: it welcomes agents, receives event
// batches (in order, acking cumulatively), answers summaries, and can be
// told to lose batches or acks.
type coord struct {
	t    testing.TB
	nc   *nats.Conn
	subj protocol.Subjects

	ack atomic.Bool // send acks
	// ackOnDup turns acks on when a batch arrives twice.
	ackOnDup atomic.Bool
	// ackStarts acks, with acks off, the batches up to the last one that
	// holds only starts: the commands may start (startGate) while the
	// output stays unacknowledged.
	ackStarts atomic.Bool
	// askRetransmit makes it ask for the first missing batch on a gap.
	askRetransmit atomic.Bool
	// drop, when set, is asked about every arrival (n counts the arrivals
	// of that seq, from 1); true loses it.
	drop func(b *protocol.EventBatch, n int) bool
	// done, when set, answers summaries instead of the default (missing
	// batches, else OK).
	done func(sum protocol.ShardSummary, r *recv, n int) protocol.DoneReply

	bytes atomic.Int64 // event payload bytes received (duplicates too)
	hbs   chan protocol.Heartbeat

	mu     sync.Mutex
	shards map[string]*recv
}

// recv is what the coordinator received of one shard attempt.
type recv struct {
	reorder  protocol.Reorder[*protocol.EventBatch]
	batches  []*protocol.EventBatch // delivered, in order
	arrivals map[uint64]int
	dones    int
	summary  *protocol.ShardSummary
	done     chan struct{}
	records  int
}

func newCoord(t testing.TB, srv *natstest.Server, subj protocol.Subjects) *coord {
	return newCoordOn(t, srv.Connect(t, "coordinator"), subj)
}

// newCoordOn plays the coordinator on connection nc.
func newCoordOn(t testing.TB, nc *nats.Conn, subj protocol.Subjects) *coord {
	c := &coord{t: t, nc: nc, subj: subj, shards: map[string]*recv{},
		hbs: make(chan protocol.Heartbeat, 1024)}
	c.ack.Store(true)
	sub := func(subject string, f nats.MsgHandler) {
		s, err := c.nc.Subscribe(subject, f)
		if err != nil {
			t.Fatal(err)
		}
		_ = s.SetPendingLimits(-1, -1)
	}
	sub(subj.AllEvents(), c.onEvents)
	sub(subj.AllDone(), c.onDone)
	sub(subj.Heartbeats(), func(m *nats.Msg) {
		var hb protocol.Heartbeat
		if protocol.Unmarshal(m.Data, &hb) == nil {
			select {
			case c.hbs <- hb:
			default:
			}
		}
	})
	if err := c.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	c.nc.SetReconnectHandler(func(*nats.Conn) { c.resync() })
	return c
}

// resync does what the coordinator does at its reconnection to NATS: it
// acks again what each unfinished shard delivered and asks for what
// follows (an agent that reconnected first resent its batches while
// nobody listened).
func (c *coord) resync() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.shards {
		if r.summary != nil || len(r.batches) == 0 {
			continue
		}
		b := r.batches[0]
		d := r.reorder.Delivered()
		if c.ack.Load() {
			c.control(b.Agent, protocol.Control{Kind: protocol.ControlAck, Job: b.Job, Shard: b.Shard, Attempt: b.Attempt, Seq: d})
		}
		c.control(b.Agent, protocol.Control{Kind: protocol.ControlRetransmit, Job: b.Job, Shard: b.Shard, Attempt: b.Attempt, Seq: d + 1})
	}
}

// welcome answers registrations.
func (c *coord) welcome(w protocol.Welcome) {
	s, err := c.nc.Subscribe(c.subj.AllRegisters(), func(m *nats.Msg) {
		_ = wire.Respond(m, protocol.TypeWelcome, w)
	})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = s.Unsubscribe() })
	_ = c.nc.Flush()
}

func (c *coord) recv(key string) *recv {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.shards[key]
	if r == nil {
		r = &recv{arrivals: map[uint64]int{}, done: make(chan struct{})}
		c.shards[key] = r
	}
	return r
}

func (c *coord) onEvents(m *nats.Msg) {
	if err := wire.Check(m); err != nil || wire.Type(m) != protocol.TypeEventBatch {
		c.t.Errorf("bad event message: %v %q", err, wire.Type(m))
		return
	}
	c.bytes.Add(int64(len(m.Data)))
	b := new(protocol.EventBatch)
	if err := b.UnmarshalBinary(m.Data); err != nil {
		c.t.Errorf("decode batch: %v", err)
		return
	}
	if len(m.Data) > protocol.MaxPayload {
		c.t.Errorf("batch of %d bytes, over %d", len(m.Data), protocol.MaxPayload)
	}
	r := c.recv(protocol.ShardKey(b.Job, b.Shard, b.Attempt))
	c.mu.Lock()
	r.arrivals[b.Seq]++
	n := r.arrivals[b.Seq]
	if c.drop != nil && c.drop(b, n) {
		c.mu.Unlock()
		return
	}
	if n > 1 && c.ackOnDup.Load() {
		c.ack.Store(true)
	}
	ready, _ := r.reorder.Push(b.Seq, b)
	r.batches = append(r.batches, ready...)
	for _, x := range ready {
		r.records += len(x.Events)
	}
	delivered := r.reorder.Delivered()
	missing := r.reorder.Missing(0)
	ack := c.ack.Load()
	if !ack && c.ackStarts.Load() && delivered == b.Seq && onlyStarts(b) {
		ack = true
	}
	c.mu.Unlock()
	if len(missing) > 0 && c.askRetransmit.Load() {
		c.control(b.Agent, protocol.Control{Kind: protocol.ControlRetransmit, Job: b.Job, Shard: b.Shard,
			Attempt: b.Attempt, Seq: missing[0]})
	}
	// Acked on every arrival, duplicates too: a duplicate means the agent
	// did not get the last ack.
	if ack && delivered > 0 {
		c.control(b.Agent, protocol.Control{Kind: protocol.ControlAck, Job: b.Job, Shard: b.Shard,
			Attempt: b.Attempt, Seq: delivered})
	}
}

func onlyStarts(b *protocol.EventBatch) bool {
	for _, e := range b.Events {
		if e.Kind != protocol.KindStart {
			return false
		}
	}
	return true
}

func (c *coord) control(agent string, ctl protocol.Control) {
	if err := wire.PublishJSON(c.nc, c.subj.Control(agent), protocol.TypeControl, ctl); err != nil {
		c.t.Logf("control: %v", err)
	}
}

// ackAll acks what every shard delivered so far (after acks were off).
func (c *coord) ackAll(agent string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, r := range c.shards {
		parts := strings.Split(key, "/")
		var att int
		fmt.Sscan(parts[2], &att)
		c.control(agent, protocol.Control{Kind: protocol.ControlAck, Job: parts[0], Shard: parts[1],
			Attempt: att, Seq: r.reorder.Delivered()})
	}
}

func (c *coord) onDone(m *nats.Msg) {
	var sum protocol.ShardSummary
	if err := protocol.Unmarshal(m.Data, &sum); err != nil {
		c.t.Errorf("summary: %v", err)
		return
	}
	r := c.recv(protocol.ShardKey(sum.Job, sum.Shard, sum.Attempt))
	c.mu.Lock()
	r.dones++
	var rep protocol.DoneReply
	if c.done != nil {
		rep = c.done(sum, r, r.dones)
	} else if missing := r.reorder.Missing(sum.LastSeq); len(missing) > 0 {
		rep.Missing = missing
	} else {
		rep.OK = true
	}
	if rep.OK && r.summary == nil {
		r.summary = &sum
		close(r.done)
	}
	c.mu.Unlock()
	_ = wire.Respond(m, protocol.TypeDoneReply, rep)
}

// wait waits for shard key's acknowledged summary.
// summaryBound only catches a shard that never ends: how long a shard
// takes on a loaded machine is no test's business.
const summaryBound = 2 * time.Minute

func (c *coord) wait(key string) *recv {
	c.t.Helper()
	r := c.recv(key)
	select {
	case <-r.done:
	case <-time.After(summaryBound):
		c.t.Fatalf("shard %s: no summary after %v", key, summaryBound)
	}
	return r
}

// node is what the stream said about one node.
type node struct {
	starts         int
	stdout, stderr []string
	ends           []protocol.Event
	partial        [2]*string // pending partial line per stream
	writtenIn      int        // KindWritten records naming it
}

// writtenTotal is the standard input all the commands of r's shard took:
// a KindWritten record counts the bytes of all its nodes together, and
// how they group depends on when each command read.
func (r *recv) writtenTotal() uint64 {
	var n uint64
	for _, b := range r.batches {
		for _, rec := range b.Events {
			n += rec.Written()
		}
	}
	return n
}

// nodes replays r's batches into per-node views, checking sequence numbers
// and record order on the way.
func (r *recv) nodes(t testing.TB, count int) []*node {
	t.Helper()
	out := make([]*node, count)
	for i := range out {
		out[i] = &node{}
	}
	for i, b := range r.batches {
		if b.Seq != uint64(i+1) {
			t.Fatalf("batch %d has seq %d", i, b.Seq)
		}
		for _, rec := range b.Events {
			if len(rec.Nodes) == 0 {
				t.Fatalf("seq %d: record without nodes", b.Seq)
			}
			for _, ix := range rec.Nodes {
				if int(ix) >= count {
					t.Fatalf("seq %d: node index %d out of %d", b.Seq, ix, count)
				}
				n := out[ix]
				if len(n.ends) > 0 {
					t.Fatalf("seq %d: node %d: %s record after its end", b.Seq, ix, rec.Kind)
				}
				switch rec.Kind {
				case protocol.KindStart:
					n.starts++
				case protocol.KindEnd:
					n.ends = append(n.ends, rec)
				case protocol.KindStdout:
					n.stdout = n.addLines(0, n.stdout, rec)
				case protocol.KindStderr:
					n.stderr = n.addLines(1, n.stderr, rec)
				case protocol.KindWritten:
					// The count is for all its nodes together (see
					// writtenTotal); each node is only named.
					n.writtenIn++
				}
			}
		}
	}
	if r.summary != nil && r.summary.LastSeq != uint64(len(r.batches)) {
		t.Fatalf("summary LastSeq %d, %d batches delivered", r.summary.LastSeq, len(r.batches))
	}
	return out
}

func (n *node) addLines(s int, lines []string, rec protocol.Event) []string {
	parts := strings.Split(string(rec.Data), "\n")
	if p := n.partial[s]; p != nil {
		parts[0] = *p + parts[0]
		n.partial[s] = nil
	}
	if rec.Partial {
		last := parts[len(parts)-1]
		n.partial[s] = &last
		parts = parts[:len(parts)-1]
	}
	return append(lines, parts...)
}

// testKey is the coordinator key of the tests: coord.submit signs with
// it, and testAgent's agents trust it unless told otherwise.
var testKey = func() nkeys.KeyPair {
	kp, err := nkeys.CreateUser()
	if err != nil {
		panic(err)
	}
	return kp
}()

func publicKey(t testing.TB, kp nkeys.KeyPair) string {
	t.Helper()
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// testAgent starts an agent with the exec driver on srv, trusting
// testKey unless cfg names keys.
func testAgent(t testing.TB, srv *natstest.Server, cfg Config) (*Agent, context.CancelFunc, chan error) {
	t.Helper()
	if cfg.CoordinatorKeys == nil {
		cfg.CoordinatorKeys = []string{publicKey(t, testKey)}
	}
	if cfg.Name == "" {
		cfg.Name = "gw1"
	}
	if cfg.Worker == "" {
		cfg.Worker = "exec"
	}
	if cfg.Logger == nil {
		cfg.Logger = natstest.Logger(t)
	}
	nc, err := nats.Connect(srv.URL(), wire.Options("agent-"+cfg.Name, cfg.Logger)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	a, err := New(nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		errc <- a.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			t.Errorf("agent did not stop")
		}
	})
	return a, cancel, errc
}

// fleet is a server, a coordinator and a registered agent.
func fleet(t testing.TB, cfg Config) (*natstest.Server, *coord, *Agent) {
	t.Helper()
	srv := natstest.Start(t, 0)
	c := newCoord(t, srv, cfg.Subjects)
	c.welcome(protocol.Welcome{Heartbeat: 200 * time.Millisecond})
	a, _, _ := testAgent(t, srv, cfg)
	waitRegistered(t, c, a)
	return srv, c, a
}

func waitRegistered(t testing.TB, c *coord, a *Agent) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case hb := <-c.hbs:
			if hb.Agent == a.ID() {
				return
			}
		case <-deadline:
			t.Fatal("agent did not heartbeat")
		}
	}
}

// shardOf returns a shard of job over nodes, which must be in NodeSet
// order (shard node i is nodes[i]).
func shardOf(job string, nodes []string, spec protocol.JobSpec) *protocol.Shard {
	set := nodeset.New()
	for _, n := range nodes {
		if err := set.AddNode(n); err != nil {
			panic(err)
		}
	}
	return &protocol.Shard{Job: job, ID: "s1", Attempt: 1, Group: "gw", Nodes: set.String(), Spec: spec}
}

// submit signs sh for agent a with testKey, sends it and returns its
// reply.
func (c *coord) submit(a *Agent, sh *protocol.Shard) protocol.ShardReply {
	c.t.Helper()
	data, err := protocol.SignShard(testKey, a.ID(), sh, time.Now(), protocol.DefaultShardTTL)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.send(a, data)
}

// send sends a shard message of body data to agent a and returns its
// reply.
func (c *coord) send(a *Agent, data []byte) protocol.ShardReply {
	c.t.Helper()
	var rep protocol.ShardReply
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := wire.RequestData(ctx, c.nc, c.subj.Agent(a.ID()), protocol.TypeShard, data, &rep); err != nil {
		c.t.Fatalf("shard request: %v", err)
	}
	return rep
}

// sendStdin sends chunks of standard input to shard sh, the last with
// EOF, each once the agent took the previous one.
func (c *coord) sendStdin(a *Agent, sh *protocol.Shard, chunks ...string) {
	c.t.Helper()
	for i, data := range chunks {
		ch := protocol.StdinChunk{Job: sh.Job, Shard: sh.ID, Attempt: sh.Attempt, Seq: uint64(i + 1),
			EOF: i == len(chunks)-1, Data: []byte(data)}
		if _, err := wire.SendStdin(context.Background(), c.nc, c.subj.AgentStdin(a.ID()), &ch, time.Second, nil); err != nil {
			c.t.Fatalf("stdin chunk %d: %v", i+1, err)
		}
	}
}

// accept submits sh to a, which must accept it, and returns its stream
// (at once: see run and await to wait for it).
func (c *coord) accept(a *Agent, sh *protocol.Shard) *recv {
	c.t.Helper()
	if rep := c.submit(a, sh); !rep.Accepted {
		c.t.Fatalf("shard refused: %s", rep.Error)
	}
	return c.recv(sh.Key())
}

// run submits sh to a, which must accept it, and returns its stream once
// its summary came.
func (c *coord) run(a *Agent, sh *protocol.Shard) *recv {
	c.t.Helper()
	c.accept(a, sh)
	return c.wait(sh.Key())
}

// await waits up to d for cond, which reads what the streams received:
// it runs under c's lock.
func (c *coord) await(d time.Duration, cond func() bool) {
	c.t.Helper()
	waitFor(c.t, d, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return cond()
	})
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

// oneEnd checks that every node got exactly one end and returns them.
func oneEnd(t testing.TB, nodes []*node) []protocol.Event {
	t.Helper()
	ends := make([]protocol.Event, len(nodes))
	for i, n := range nodes {
		if len(n.ends) != 1 {
			t.Fatalf("node %d: %d ends", i, len(n.ends))
		}
		ends[i] = n.ends[0]
	}
	return ends
}

func sumFinals(f map[protocol.State]int) int {
	n := 0
	for _, v := range f {
		n += v
	}
	return n
}

func newServer(t testing.TB) *natstest.Server { return natstest.Start(t, 0) }
