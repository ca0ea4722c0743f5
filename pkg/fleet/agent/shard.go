package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
	"github.com/fleetsh/fleetsh/pkg/workers/ssh"
)

// minBatch keeps a coordinator's tiny MaxBatch from making one message
// per line fragment.
const minBatch = 1 << 10

// maxReplay bounds the bytes of the batches a shard has in flight (its
// window); the rest wait in its spool, in memory or spilled.
const maxReplay = 64 << 20

// stageBatches is how many batches of records a shard's buffer holds
// before its engine loop waits for the flusher to move them to the
// spool: the flusher takes them at once unless the agent's memory and
// disk bounds are both reached.
const stageBatches = 4

// shard is one accepted shard attempt, from its engine run to the
// acknowledgement of its summary.
type shard struct {
	engine.Handler
	a       *Agent
	sh      *protocol.Shard
	key     string
	log     *slog.Logger
	subject string
	spool   *spool // batches made and not acknowledged
	buf     *buffer
	stdin   *stdinFeed // the job's standard input (nil: none)
	// gate holds each command until the coordinator acknowledged its
	// start (startgate.go); nil for a GroupDriver, which starts every
	// node in one process. startKick asks the flusher to send the
	// pending starts now rather than at its next tick.
	gate      *startGate
	startKick chan struct{}

	driver engine.Driver
	fanout int
	// maxOutput caps each node's output; outputByAgent says it is the
	// agent's ceiling, lower than the job asked (outcap.go).
	maxOutput     int64
	outputByAgent bool
	nodes         *nodeset.NodeSet
	names         []string // the expansion of nodes: shard node i is names[i]
	// keys maps each engine job key to the node indexes it stands for:
	// a node name to itself, and the single key of a driver that runs one
	// job for all nodes (exec with %hosts) to every node.
	keys map[string][]uint32

	running atomic.Int64 // nodes started and not ended (heartbeats)
	// engineDone is set when every node has ended. abandon stops the
	// flusher waiting for window room: see giveUp.
	engineDone atomic.Bool
	flushDone  atomic.Bool
	abandon    context.CancelFunc

	mu        sync.Mutex
	task      *engine.Task
	cancelled string // why, once cancelled

	// track follows each node's start and end, under trackMu: the engine
	// loop (s.run's goroutine) and a reverse copy's collectors, which end
	// nodes once their copies are sent back, update it.
	trackMu sync.Mutex
	track   *protocol.Tracker
	// collect sends the nodes' copies back through the fleet (a reverse
	// copy with Collect); nil otherwise.
	collect *collector
}

// newShard validates sh and prepares its run.
func newShard(a *Agent, sh *protocol.Shard) (*shard, error) {
	if err := protocol.ValidID(sh.Job); err != nil {
		return nil, fmt.Errorf("job id: %w", err)
	}
	if err := protocol.ValidID(sh.ID); err != nil {
		return nil, fmt.Errorf("shard id: %w", err)
	}
	if sh.Attempt < 0 {
		return nil, fmt.Errorf("negative attempt %d", sh.Attempt)
	}
	// Count before expanding: a few bytes of folded set can name
	// billions of nodes.
	set, err := nodeset.Parse(sh.Nodes)
	if err != nil {
		return nil, fmt.Errorf("nodes: %w", err)
	}
	switch n := set.Len(); {
	case n == 0:
		return nil, errors.New("no nodes")
	case n > protocol.MaxShardNodes:
		return nil, fmt.Errorf("%d nodes: more than the %d a shard may have", n, protocol.MaxShardNodes)
	}
	names := set.Nodes()
	if cp := sh.Spec.Copy; cp != nil && (cp.Tree != nil && cp.Reverse || cp.Collect && !cp.Reverse) {
		return nil, errors.New("copy: a tree goes with a push, collecting with a reverse copy")
	}
	// An empty command is clush's "no command, stdin not a tty": the
	// node's shell reads the forwarded stdin.
	spec := &sh.Spec
	name := spec.Worker
	if name == "" {
		name = a.cfg.Worker
	}
	d, err := engine.NewDriver(name)
	if err != nil {
		return nil, err
	}
	if sd, ok := d.(*ssh.Driver); ok {
		// The driver is the shard's own and ends with it: its files
		// (ssh_config, known_hosts, keys) are looked at once per shard,
		// not once per node; the next shard sees what changed.
		sd.Snapshot = true
	}
	s := &shard{a: a, sh: sh, key: sh.Key(), driver: d, subject: a.subj.Events(a.cfg.ID, sh.Job),
		log:   a.log.With("shard", sh.Key()),
		nodes: set, names: names,
		keys: make(map[string][]uint32, len(names)), track: protocol.NewTracker(len(names))}
	s.fanout = a.cfg.Capacity
	s.maxOutput, s.outputByAgent = spec.OutputLimit(a.cfg.MaxOutput)
	if spec.Fanout > 0 {
		s.fanout = min(spec.Fanout, a.cfg.Capacity)
	}
	// Node i of the shard is the i-th name of the expansion, which is
	// also how the engine names them.
	for i, n := range names {
		s.keys[n] = []uint32{uint32(i)}
	}
	if k, ok := d.(engine.Keyer); ok && spec.Copy == nil {
		all := make([]uint32, len(names))
		for i := range all {
			all[i] = uint32(i)
		}
		for _, key := range k.Keys(names, spec.Command) {
			if _, ok := s.keys[key]; !ok {
				s.keys[key] = all
			}
		}
	}
	if _, group := d.(engine.GroupDriver); !group {
		s.gate = newStartGate()
		s.driver = s.gate.gated(d)
		s.startKick = make(chan struct{}, 1)
	}
	maxBatch := sh.MaxBatch
	if maxBatch <= 0 {
		maxBatch = protocol.DefaultMaxBatch
	}
	maxBatch = min(max(maxBatch, minBatch), protocol.MaxPayload)
	s.buf = newBuffer(maxBatch, stageBatches*maxBatch, spec.Gather)
	s.buf.maxRefs = protocol.MaxNodeRefs(0, len(names))
	// Whatever a coordinator asks for, at most maxReplay bytes are in
	// flight. A smaller window than asked only sends less at once.
	window := sh.Window
	if window <= 0 {
		window = protocol.DefaultWindow
	}
	// A batch's encoding adds its header to maxBatch bytes of records.
	s.spool = newSpool(a.keep, s.key, min(window, max(1, maxReplay/maxBatch)), protocol.MaxPayload)
	if spec.Stdin && spec.Copy == nil {
		s.stdin = newStdinFeed()
	}
	return s, nil
}

// run runs the shard to its end: engine, last batches, summary.
func (s *shard) run(ctx context.Context) {
	// The window is never closed: Window.Ack panics after Close, and a
	// late ack may still arrive; nothing waits on it once the flusher
	// is done.
	defer s.a.remove(s)
	defer s.spool.close() // acknowledged, or dropped: its files go
	fctx, abandon := context.WithCancel(ctx)
	fed := make(chan struct{}) // the stdin feed returned
	defer func() { abandon(); <-fed }()
	s.mu.Lock()
	s.abandon = abandon
	s.mu.Unlock()
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		s.flusher(fctx)
		s.flushDone.Store(true)
	}()
	start := time.Now()
	if s.stdin != nil {
		go func() { defer close(fed); s.feedStdin(fctx) }()
	} else {
		close(fed)
	}
	s.runEngine(ctx)
	s.endStdin()
	s.engineDone.Store(true)
	s.buf.close()
	<-flushed
	s.log.Info("shard ended", "finals", s.finals(), "batches", s.spool.last(), "took", time.Since(start).Round(time.Millisecond))
	if n := s.spool.spilledBytes(); n > 0 {
		s.log.Info("events spilled to disk", "spilled_bytes", n)
	}
	s.summarize(ctx)
}

// runEngine runs the shard's task and returns when every node has ended.
func (s *shard) runEngine(ctx context.Context) {
	spec := &s.sh.Spec
	t := engine.New()
	// The task must not keep every line for gathering as ClusterShell's
	// task does: the agent sends output on and gathers itself.
	_ = t.SetDefault(engine.DefaultStdoutMsgTree, false)
	_ = t.SetDefault(engine.DefaultStderrMsgTree, false)
	for k, v := range s.a.cfg.Info {
		if _, set := spec.Info[k]; !set {
			t.SetInfo(k, infoValue(k, v))
		}
	}
	for k, v := range spec.Info {
		t.SetInfo(k, infoValue(k, v))
	}
	if v, _ := t.Info(engine.InfoDebug); v == true {
		// The workers' debug lines go to the submitter in the stream
		// (clush -d prints them), in their order with the output.
		t.SetInfo(engine.InfoPrintDebug, func(_ *engine.Task, line string) {
			s.log.Debug(line)
			s.buf.debug(line)
		})
	}
	t.SetInfo(engine.InfoFanout, s.fanout)
	if spec.ConnectTimeout > 0 {
		t.SetInfo(engine.InfoConnectTimeout, spec.ConnectTimeout)
	}
	if spec.CommandTimeout > 0 {
		t.SetInfo(engine.InfoCommandTimeout, spec.CommandTimeout)
	}
	opts := engine.Options{Nodes: s.nodes, Handler: s, Stderr: spec.Stderr, Driver: s.driver, MaxOutput: s.maxOutput,
		Observe: s.a.observer(s.driver.Name())}
	if s.stdin != nil {
		opts.Stdin = s.stdin.r
	}
	var err error
	switch cp := spec.Copy; {
	case cp == nil:
		_, err = t.Shell(spec.Command, opts)
	case cp.Reverse && cp.Collect:
		if s.collect, err = s.newCollector(ctx, cp); err == nil {
			defer s.collect.wait()
			_, err = t.Rcopy(cp.Source, s.collect.dir, cp.Preserve, opts)
		}
	case cp.Reverse:
		_, err = t.Rcopy(cp.Source, cp.Dest, cp.Preserve, opts)
	case cp.Tree != nil:
		var root string
		var release func()
		if root, release, err = s.fetchTree(ctx, cp); err == nil {
			defer release()
			_, err = t.Copy(root, cp.Dest, cp.Preserve, opts)
		}
	default:
		_, err = t.Copy(cp.Source, cp.Dest, cp.Preserve, opts)
	}
	if err != nil {
		s.endRest(protocol.StateError, err.Error())
		return
	}
	s.mu.Lock()
	s.task = t
	why := s.cancelled
	s.mu.Unlock()
	if why != "" { // cancelled before the task existed
		t.Abort()
	}
	rerr := t.ResumeContext(ctx, 0)
	if s.collect != nil {
		// The nodes whose copies are being sent back end when sent.
		s.collect.wg.Wait()
	}
	// The loop is over: no handler runs any more. An aborted worker gets
	// no more events, so the nodes it left without an end end here.
	s.mu.Lock()
	why = s.cancelled
	s.mu.Unlock()
	switch {
	case why != "":
		s.endRest(protocol.StateCancel, why)
	case rerr != nil:
		s.endRest(protocol.StateCancel, "agent stopped: "+rerr.Error())
	default:
		s.endRest(protocol.StateError, "the engine reported no end for this node")
	}
}

// infoValue converts a task info value given as text to the type the
// engine reads for the keys it knows.
func infoValue(key, v string) any {
	switch key {
	case engine.InfoFanout:
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	case engine.InfoConnectTimeout, engine.InfoCommandTimeout:
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return time.Duration(f * float64(time.Second))
		}
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	case engine.InfoDebug:
		if b, err := strconv.ParseBool(v); err == nil {
			return b
		}
	}
	return v
}

// cancel aborts the shard's commands; nodes without an end end as
// cancelled. It reports whether the shard was cancelled before.
func (s *shard) cancel(why string) (again bool) {
	s.mu.Lock()
	again = s.cancelled != ""
	if !again {
		s.cancelled = why
	}
	t := s.task
	s.mu.Unlock()
	if again {
		return true
	}
	s.log.Info("shard cancelled", "why", why)
	if s.gate != nil {
		s.gate.stop() // before the abort: nothing starts meanwhile
	}
	s.buf.stop() // a loop held back by a full buffer must reach the abort
	if t != nil {
		t.Abort()
	}
	return false
}

// giveUp handles a cancel repeated after every node ended. The
// coordinator repeats cancels for attempts it gave up on (on their
// heartbeats and batches) and acks none of their batches, so a flusher
// waiting for window room would hold the shard for ever: it stops
// waiting, and the summary of what was sent goes out (the coordinator's
// reply then drops the shard).
func (s *shard) giveUp() {
	s.mu.Lock()
	abandon := s.abandon
	s.mu.Unlock()
	if s.engineDone.Load() && !s.flushDone.Load() && abandon != nil {
		s.log.Warn("cancelled again while waiting for acks: unsent batches abandoned")
		abandon()
	}
}

// endRest ends the nodes that have no end yet.
func (s *shard) endRest(state protocol.State, msg string) {
	var rest []int
	s.trackMu.Lock()
	for i := range s.names {
		if s.track.Phase(uint32(i)) != protocol.PhaseEnded {
			rest = append(rest, i)
		}
	}
	s.trackMu.Unlock()
	for _, i := range rest {
		s.end(s.names[i], []uint32{uint32(i)}, protocol.Event{State: state, Code: 255, Data: []byte(msg)})
	}
}

// end records the end of nodes idx (engine key key), once per node: e's
// State, Reason, Code and Data (the message).
func (s *shard) end(key string, idx []uint32, e protocol.Event) {
	fresh := idx[:0:0]
	stopped := 0
	s.trackMu.Lock()
	for _, i := range idx {
		wasRunning := s.track.Phase(i) == protocol.PhaseRunning
		if s.track.End(i, e.State, e.Code) {
			fresh = append(fresh, i)
			if wasRunning {
				stopped++
			}
		}
	}
	s.trackMu.Unlock()
	if len(fresh) == 0 {
		return
	}
	s.running.Add(-int64(stopped))
	s.buf.end(key, fresh, e)
}

// finals counts the nodes per final state.
func (s *shard) finals() map[protocol.State]int {
	s.trackMu.Lock()
	defer s.trackMu.Unlock()
	return s.track.Finals()
}

func (s *shard) nodesOf(key string) []uint32 {
	idx, ok := s.keys[key]
	if !ok {
		s.log.Warn("event for an unknown node ignored", "node", key)
	}
	return idx
}

// OnPickup records a node's start.
func (s *shard) OnPickup(_ *engine.Worker, key string) {
	if idx := s.nodesOf(key); len(idx) > 0 {
		started := 0
		s.trackMu.Lock()
		for _, i := range idx {
			if s.track.Start(i) {
				started++
			}
		}
		s.trackMu.Unlock()
		s.running.Add(int64(started))
		s.buf.start(idx)
		if s.gate != nil {
			s.gate.pick(key)
			select {
			case s.startKick <- struct{}{}:
			default:
			}
		}
	}
}

// OnRead records an output line.
func (s *shard) OnRead(_ *engine.Worker, key string, stream engine.Stream, line []byte) {
	kind := protocol.KindStdout
	if stream == engine.Stderr {
		kind = protocol.KindStderr
	}
	if idx := s.nodesOf(key); len(idx) > 0 {
		s.buf.line(key, idx, kind, line)
	}
}

// OnHup records a node's end.
func (s *shard) OnHup(_ *engine.Worker, key string, rc int, err error) {
	idx := s.nodesOf(key)
	if len(idx) == 0 {
		return
	}
	if err == nil {
		if s.collect != nil && rc == 0 {
			s.collect.done(key, idx) // ends the nodes once their copy is sent
			return
		}
		s.end(key, idx, protocol.Event{State: protocol.StateExited, Code: rc})
		return
	}
	var ne *engine.NodeError
	if !errors.As(err, &ne) {
		s.end(key, idx, protocol.Event{State: protocol.StateError, Code: rc, Data: []byte(err.Error())})
		return
	}
	// The message leaves out the node name, which the event carries.
	msg := string(ne.Reason)
	if ne.Err != nil {
		msg += ": " + ne.Err.Error()
	}
	s.end(key, idx, protocol.Event{State: stateOf(ne.Reason), Reason: string(ne.Reason), Code: rc, Data: []byte(msg)})
}

// OnTimeout records a node killed at the command timeout, with what the
// driver knows of the command on the node (engine.RemoteStop).
func (s *shard) OnTimeout(w *engine.Worker, key string) {
	if idx := s.nodesOf(key); len(idx) > 0 {
		msg := string(engine.ReasonCommandTimeout)
		var stop *engine.RemoteStop
		if errors.As(w.NodeFailure(key), &stop) {
			msg += ": " + stop.Error()
		}
		s.end(key, idx, protocol.Event{State: protocol.StateTimeout, Reason: string(engine.ReasonCommandTimeout), Code: 255, Data: []byte(msg)})
	}
}

// stateOf maps an engine failure reason to a final state.
func stateOf(r engine.Reason) protocol.State {
	switch r {
	case engine.ReasonConnectRefused, engine.ReasonDNS, engine.ReasonConnectTimeout, engine.ReasonConnect:
		return protocol.StateConnect
	case engine.ReasonAuth:
		return protocol.StateAuth
	case engine.ReasonHostKeyUnknown, engine.ReasonHostKeyChanged:
		return protocol.StateHostKey
	case engine.ReasonCommandTimeout:
		return protocol.StateTimeout
	case engine.ReasonAborted:
		return protocol.StateCancel
	}
	return protocol.StateError
}

// flusher moves the buffer's records to the spool in batches (full
// batches as soon as they are, the rest every flushEvery while nothing
// waits to be sent, all of it once the shard ended) and sends them as the
// window allows. It returns once every batch was sent at least once.
// While the agent has no room left for batches (its memory and disk
// bounds) it takes nothing, and the engine waits.
func (s *shard) flusher(ctx context.Context) {
	defer s.buf.stop() // nothing will drain the buffer any more
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
	// held: starts were picked while others were in flight; they go in
	// one batch when the gate opens for those (or at the tick).
	ended, all, held := false, false, false
	for {
		room := s.a.keep.wait() // before the check: no release is missed
		var opening <-chan struct{}
		if s.gate != nil {
			opening = s.gate.opening() // before the check, as room
			if held && !s.gate.inFlight() {
				all, held = true, false
			}
		}
		full := false
		for !ended {
			if !s.a.keep.room(s.buf.maxBatch) {
				full = true
				break
			}
			var picked uint64
			if s.gate != nil {
				picked = s.gate.picked()
			}
			// A partial batch is cut only when it would go at once: a
			// backlog waits for full ones.
			cut := all && s.spool.unsent() == 0
			recs, done := s.buf.take(cut)
			if len(recs) > 0 {
				if err := s.keep(recs); err != nil {
					s.log.Error("batch not made", "err", err)
					return // summarised with what was made
				}
			}
			// take puts every pending start in the first batch it
			// returns, and returns one whenever cut is set and anything
			// waits: the starts picked before it are in batches up to
			// the last one made.
			if s.gate != nil && (len(recs) > 0 || cut) {
				s.gate.sent(picked, s.spool.last())
			}
			ended = done
			if len(recs) == 0 {
				break
			}
		}
		s.pump()
		if ended && s.spool.unsent() == 0 {
			return
		}
		if !full {
			room = nil
		}
		all = false
		select {
		case <-ctx.Done():
			return
		case <-s.buf.kick:
		case <-s.startKick: // nil without a gate
			// A start goes at once unless starts are in flight: then
			// it waits for their ack, with those picked meanwhile, so
			// that a shard sends about one start batch per round trip
			// to the coordinator, not one per node (each costs the
			// coordinator a journal write and an ack).
			if s.gate.inFlight() {
				held = true
			} else {
				all = true
			}
		case <-opening: // nil without a gate; held starts may go now
		case <-tick.C:
			all, held = true, false
		case <-s.spool.wait():
		case <-room:
		}
	}
}

// keep numbers one batch and adds it to the spool.
func (s *shard) keep(recs []protocol.Event) error {
	_, err := s.spool.add(func(seq uint64) ([]byte, error) {
		b := protocol.EventBatch{Job: s.sh.Job, Shard: s.sh.ID, Attempt: s.sh.Attempt,
			Agent: s.a.cfg.ID, Seq: seq, Events: recs}
		return b.MarshalBinary()
	})
	return err
}

// pump publishes the batches the window has room for. Cut from NATS, it
// sends nothing: the reconnection sends what is in flight again and
// wakes the flusher.
func (s *shard) pump() {
	if !s.a.nc.IsConnected() {
		return
	}
	batches, err := s.spool.pending()
	if err != nil {
		s.log.Error("spilled batches unreadable", "err", err)
	}
	s.publish(batches, false)
}

// resend publishes again batches read from the spool; a batch that
// could not be read back (a damaged spill file) is logged.
func (s *shard) resend(batches [][]byte, err error) {
	if err != nil {
		s.log.Error("spilled batches unreadable", "err", err)
	}
	s.publish(batches, true)
}

// publish sends batches as they are. A publish that fails (disconnected
// with a full reconnect buffer) is not retried here: the batch stays in
// the spool and goes again when its ack is overdue or on reconnection.
// Those published are counted (Stats), as resent or not.
func (s *shard) publish(batches [][]byte, resent bool) {
	for _, data := range batches {
		if err := s.a.nc.PublishMsg(wire.NewMsg(s.subject, protocol.TypeEventBatch, data)); err != nil {
			s.log.Debug("publish batch", "err", err)
			continue
		}
		s.a.count.sent(len(data), resent)
	}
}

// summarize sends the shard's summary until the coordinator acknowledges
// it, republishing what it says is missing.
func (s *shard) summarize(ctx context.Context) {
	sum := protocol.ShardSummary{Job: s.sh.Job, Shard: s.sh.ID, Attempt: s.sh.Attempt,
		Agent: s.a.cfg.ID, LastSeq: s.spool.last(), Finals: s.finals()}
	// Give the acks of the last batches a moment: a summary that overtakes
	// them would only be answered with a spurious Missing list.
	for t := time.Now(); s.spool.unacked() > 0 && time.Since(t) < ackGrace; {
		if !sleep(ctx, 5*time.Millisecond) {
			return
		}
	}
	wait := doneBackoffMin
	for attempt := 1; ; attempt++ {
		var rep protocol.DoneReply
		rctx, cancel := context.WithTimeout(ctx, requestWait)
		err := wire.Request(rctx, s.a.nc, s.a.subj.Done(s.a.cfg.ID, s.sh.Job), protocol.TypeShardSummary, sum, &rep)
		cancel()
		var verr *protocol.VersionError
		switch {
		case ctx.Err() != nil:
			s.log.Warn("shard summary not acknowledged: agent stopping")
			return
		case errors.As(err, &verr):
			s.log.Error("shard summary refused, shard dropped", "err", err)
			return
		case err != nil:
			lvl := slog.LevelDebug
			if attempt%5 == 0 {
				lvl = slog.LevelWarn
			}
			s.log.Log(ctx, lvl, "shard summary not acknowledged yet", "attempt", attempt, "err", err)
		case rep.OK:
			s.log.Debug("shard summary acknowledged")
			return
		case rep.Error != "":
			s.log.Warn("shard summary refused, shard dropped", "err", rep.Error)
			return
		case len(rep.Missing) > 0:
			first := rep.Missing[0]
			for _, q := range rep.Missing {
				first = min(first, q)
			}
			// Window.From gives the kept batches from a sequence number on,
			// without their numbers: resending all from the first missing
			// one costs a few duplicates, which the coordinator drops.
			again, rerr := s.spool.from(first)
			s.log.Info("coordinator misses batches: republishing", "missing", len(rep.Missing), "from", first, "sent", len(again))
			s.resend(again, rerr)
			wait = doneBackoffMin
		default:
			s.log.Warn("empty shard summary reply, retrying")
		}
		switch s.a.pause(ctx, wait) {
		case pauseStopped:
			s.log.Warn("shard summary not acknowledged: agent stopping")
			return
		case pauseResumed: // reconnected: ask again at once
			wait = doneBackoffMin
		default:
			if err != nil || len(rep.Missing) == 0 {
				wait = min(2*wait, doneBackoffMax)
			}
		}
	}
}
