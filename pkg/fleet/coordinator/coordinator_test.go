package coordinator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// The tests here play agents and submitters by hand over a real NATS
// server, to drive the coordinator through exact sequences (gaps,
// duplicates, an agent that falls silent mid-shard). The real agent is
// exercised in pkg/fleet/embedded and integration/.

var subj = protocol.Subjects{}

// testUser submits the tests' jobs.
const testUser = "tester"

func startCoordinator(t *testing.T, cfg Config) (*natstest.Server, *Coordinator) {
	t.Helper()
	srv := natstest.Start(t, 0)
	return srv, runCoordinator(t, srv, cfg)
}

// natsServer is a test's NATS server, or cluster.
type natsServer interface {
	Connect(t testing.TB, name string) *nats.Conn
}

// runCoordinator runs a coordinator on srv until the test ends.
func runCoordinator(t *testing.T, srv natsServer, cfg Config) *Coordinator {
	t.Helper()
	cfg.Logger = natstest.Logger(t)
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 100 * time.Millisecond
	}
	if cfg.DispatchTimeout == 0 {
		cfg.DispatchTimeout = 300 * time.Millisecond
	}
	co, err := New(srv.Connect(t, "coordinator"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = co.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	// wait until subscribed
	nc := srv.Connect(t, "probe")
	for {
		var r protocol.JobsReply
		if wire.Request(context.Background(), nc, subj.Jobs(testUser), protocol.TypeJobsRequest, protocol.JobsRequest{Kind: protocol.JobsList}, &r) == nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	return co
}

// fakeAgent is a scripted agent: it registers, heartbeats while alive,
// and hands every shard it gets to the test.
type fakeAgent struct {
	t      *testing.T
	nc     *nats.Conn
	id     string
	shards chan protocol.Shard
	ctl    chan protocol.Control
	stop   chan struct{}
	once   sync.Once
	seqMu  sync.Mutex // send runs from one goroutine per shard
	seq    map[string]uint64
	refuse atomic.Pointer[protocol.ShardReply] // set: refuse shards so
	// ignore is how many shard requests to leave unanswered (the reply
	// lost: the coordinator retries).
	ignore atomic.Int32
	// holds are the shards it took and whose summary was not acked, which
	// its heartbeats list (as a real agent's do).
	holdMu sync.Mutex
	holds  map[string]bool
}

func newFakeAgent(t *testing.T, srv natsServer, id string) *fakeAgent {
	a := &fakeAgent{t: t, nc: srv.Connect(t, id), id: id, shards: make(chan protocol.Shard, 10),
		ctl: make(chan protocol.Control, 1000), stop: make(chan struct{}), seq: map[string]uint64{}, holds: map[string]bool{}}
	_, err := a.nc.Subscribe(subj.Agent(id), func(m *nats.Msg) {
		if a.ignore.Add(-1) >= 0 {
			return
		}
		s := signedShard(t, m.Data, id)
		if r := a.refuse.Load(); r != nil {
			_ = wire.Respond(m, protocol.TypeShardReply, *r)
			return
		}
		_ = wire.Respond(m, protocol.TypeShardReply, protocol.ShardReply{Accepted: true})
		a.holdMu.Lock()
		a.holds[s.Key()] = true
		a.holdMu.Unlock()
		a.shards <- s
	})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = a.nc.Subscribe(subj.Control(id), func(m *nats.Msg) {
		var c protocol.Control
		_ = protocol.Unmarshal(m.Data, &c)
		a.ctl <- c
	})
	hello := protocol.Hello{Agent: id, Name: id, Local: true, Capacity: 10}
	var w protocol.Welcome
	// On a cluster, the coordinator's subscription reaches this agent's
	// server a moment after the coordinator started: a real agent retries
	// its hello until somebody answers, and so does this one (for a while).
	err = wire.Request(context.Background(), a.nc, subj.Register(id), protocol.TypeHello, hello, &w)
	for deadline := time.Now().Add(10 * time.Second); errors.Is(err, wire.ErrNoCoordinator) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		err = wire.Request(context.Background(), a.nc, subj.Register(id), protocol.TypeHello, hello, &w)
	}
	if err != nil || w.Error != "" {
		t.Fatalf("register %s: %v %s", id, err, w.Error)
	}
	go func() {
		tk := time.NewTicker(50 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-a.stop:
				return
			case <-tk.C:
				hb := protocol.Heartbeat{Hello: hello}
				a.holdMu.Lock()
				for k := range a.holds {
					hb.Shards = append(hb.Shards, k)
				}
				a.holdMu.Unlock()
				_ = wire.PublishJSON(a.nc, subj.Heartbeat(id), protocol.TypeHeartbeat, hb)
			}
		}
	}()
	t.Cleanup(a.silence)
	return a
}

// agentJob starts a coordinator with cfg and a fake agent a1, submits
// spec and returns them with the job's wait and the shard a1 took.
func agentJob(t *testing.T, cfg Config, spec protocol.JobSpec) (*natstest.Server, *Coordinator, *fakeAgent, func() result, protocol.Shard) {
	t.Helper()
	srv, co := startCoordinator(t, cfg)
	a := newFakeAgent(t, srv, "a1")
	wait := submit(t, srv, spec)
	return srv, co, a, wait, a.shard()
}

// signedShard decodes a shard the coordinator signed for agent, checking
// the grant names it (the signature is the real agent's business: see
// pkg/fleet/agent).
func signedShard(t testing.TB, data []byte, agent string) protocol.Shard {
	env, err := protocol.DecodeSignedShard(data)
	if err != nil {
		t.Error(err)
		return protocol.Shard{}
	}
	var g protocol.ShardGrant
	if err := protocol.Unmarshal(env.Payload, &g); err != nil {
		t.Error(err)
	}
	if g.Agent != agent || g.Nonce == "" || !g.Expires.After(g.Issued) {
		t.Errorf("grant for %q, nonce %q, valid %v to %v: want one for %q", g.Agent, g.Nonce, g.Issued, g.Expires, agent)
	}
	return g.Shard
}

func (a *fakeAgent) silence() { a.once.Do(func() { close(a.stop) }) }

func (a *fakeAgent) shard() protocol.Shard {
	select {
	case s := <-a.shards:
		return s
	case <-time.After(5 * time.Second):
		a.t.Fatalf("%s: no shard", a.id)
	}
	return protocol.Shard{}
}

// send publishes a batch with an explicit sequence number.
func (a *fakeAgent) sendSeq(s protocol.Shard, seq uint64, recs ...protocol.Event) {
	b := protocol.EventBatch{Job: s.Job, Shard: s.ID, Attempt: s.Attempt, Agent: a.id, Seq: seq, Events: recs}
	data, err := b.MarshalBinary()
	if err != nil {
		a.t.Fatal(err)
	}
	if err := a.nc.PublishMsg(wire.NewMsg(subj.Events(a.id, s.Job), protocol.TypeEventBatch, data)); err != nil {
		a.t.Fatal(err)
	}
}

func (a *fakeAgent) send(s protocol.Shard, recs ...protocol.Event) uint64 {
	a.seqMu.Lock()
	a.seq[s.Key()]++
	seq := a.seq[s.Key()]
	a.seqMu.Unlock()
	a.sendSeq(s, seq, recs...)
	return seq
}

func (a *fakeAgent) done(s protocol.Shard, last uint64) protocol.DoneReply {
	sum := protocol.ShardSummary{Job: s.Job, Shard: s.ID, Attempt: s.Attempt, Agent: a.id, LastSeq: last}
	r := request[protocol.DoneReply](a.t, a.nc, subj.Done(a.id, s.Job), protocol.TypeShardSummary, sum)
	if r.OK || r.Error != "" {
		a.holdMu.Lock()
		delete(a.holds, s.Key())
		a.holdMu.Unlock()
	}
	return r
}

// doneEventually retries the summary as a real agent does: batches and
// summaries travel on different subjects, so the summary may be handled
// first.
func (a *fakeAgent) doneEventually(s protocol.Shard, last uint64) protocol.DoneReply {
	var r protocol.DoneReply
	for range 50 {
		if r = a.done(s, last); r.OK || r.Error != "" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return r
}

// doneOK is doneEventually for a summary the coordinator must take:
// the test fails unless it answers OK.
func (a *fakeAgent) doneOK(s protocol.Shard, last uint64) {
	a.t.Helper()
	if r := a.doneEventually(s, last); !r.OK {
		a.t.Fatalf("%s: summary of shard %s up to %d: %+v", a.id, s.ID, last, r)
	}
}

// finish sends recs as the shard's next batch, then its summary, which
// the coordinator must take (doneOK).
func (a *fakeAgent) finish(s protocol.Shard, recs ...protocol.Event) {
	a.t.Helper()
	a.doneOK(s, a.send(s, recs...))
}

// request sends req on subject (as a message of type typ) and returns
// the reply, failing the test if none comes.
func request[R any](t testing.TB, nc *nats.Conn, subject, typ string, req any) R {
	t.Helper()
	var r R
	if err := wire.Request(context.Background(), nc, subject, typ, req, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func start(nodes ...uint32) protocol.Event {
	return protocol.Event{Kind: protocol.KindStart, Nodes: nodes, At: time.Now()}
}

func line(text string, nodes ...uint32) protocol.Event {
	return protocol.Event{Kind: protocol.KindStdout, Nodes: nodes, Data: []byte(text)}
}

func exit(code int, nodes ...uint32) protocol.Event {
	return protocol.Event{Kind: protocol.KindEnd, Nodes: nodes, State: protocol.StateExited, Code: code, At: time.Now()}
}

// result is what a submitter saw of a job, per node name.
type result struct {
	lines  map[string][]string
	states map[string]protocol.State
	codes  map[string]int
	ends   int
	debug  []string // KindDebug lines, in stream order
}

// submit submits a job and returns a function that reads its stream to
// the end (acking it) and returns what arrived.
func submit(t *testing.T, srv natsServer, spec protocol.JobSpec) func() result {
	t.Helper()
	return submitAs(t, srv, testUser, spec)
}

// submitAs is submit by user.
func submitAs(t *testing.T, srv natsServer, user string, spec protocol.JobSpec) func() result {
	t.Helper()
	nc := srv.Connect(t, "csub-"+user)
	msgs := make(chan *nats.Msg, 10000)
	sub, err := nc.ChanSubscribe(subj.Output(user, spec.ID), msgs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	reply := request[protocol.SubmitReply](t, nc, subj.Submit(user), protocol.TypeJobSpec, spec)
	if reply.Error != "" {
		t.Fatalf("submit refused: %s", reply.Error)
	}
	return func() result {
		t.Helper()
		return readStream(t, nc, msgs, user, spec.ID, spec.Nodes)
	}
}

// readStream reads output stream id of user (job nodes ns) to its end,
// acking it, and returns what arrived.
func readStream(t *testing.T, nc *nats.Conn, msgs chan *nats.Msg, user, id, ns string) result {
	t.Helper()
	nodes := expand(t, ns)
	res := result{lines: map[string][]string{}, states: map[string]protocol.State{}, codes: map[string]int{}}
	var ro protocol.Reorder[*protocol.EventBatch]
	timeout := time.After(20 * time.Second)
	for {
		select {
		case m := <-msgs:
			for _, rb := range ackBatch(t, nc, &ro, m, user, id, id) {
				for _, r := range rb.Events {
					if r.Kind == protocol.KindDebug {
						res.debug = append(res.debug, string(r.Data))
					}
					for _, n := range r.Nodes {
						name := nodes[n]
						switch r.Kind {
						case protocol.KindStdout:
							res.lines[name] = append(res.lines[name], strings.Split(string(r.Data), "\n")...)
						case protocol.KindEnd:
							if _, ok := res.states[name]; ok {
								t.Errorf("%s ended twice", name)
							}
							res.states[name], res.codes[name] = r.State, r.Code
							res.ends++
						}
					}
				}
				if rb.Last {
					return res
				}
			}
		case <-timeout:
			t.Fatalf("stream %s: did not end; got %d ends", id, res.ends)
		}
	}
}

func expand(t *testing.T, ns string) []string {
	set, err := nodeset.Parse(ns)
	if err != nil {
		t.Fatal(err)
	}
	return set.Nodes()
}

func nodes(n int) string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("n%03d", i)
	}
	return strings.Join(names, ",")
}
