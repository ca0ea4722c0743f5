package coordinator

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// phase is where a node of a job stands.
type phase uint8

const (
	phasePending    phase = iota // not yet sent to an agent
	phaseDispatched              // in a shard an agent accepted (or is being asked)
	phaseStarted                 // its start event arrived
	phaseFinal                   // it has its final state
)

type nodeState struct {
	phase phase
	owner *shard // the shard attempt that runs it
}

// job is one submitted job: its nodes' states, its shards, and its output
// stream to the submitter. Every field is guarded by mu.
type job struct {
	c       *Coordinator
	mu      sync.Mutex
	spec    protocol.JobSpec
	set     *nodeset.NodeSet
	nodes   []string
	states  []nodeState
	finals  map[protocol.State]int
	nfinal  int
	shards  map[string]*shard // by shard key (job/shard/attempt)
	nshards int               // shard ids handed out

	created, ended time.Time
	cancelled      bool
	cancelAt       time.Time // deadline for agents to confirm a cancel

	// output stream to the submitter
	outq      []*outChunk // records queued for the submitter, a batch per chunk
	outBytes  int
	outWake   chan struct{}
	win       *protocol.Window
	lastAck   time.Time
	detached  bool     // the submitter stopped acking: output is dropped
	deferred  []*shard // shards whose ack waits for the output backlog to drain
	closing   bool     // final batch queued
	streamEnd chan struct{}
}

// shard is one attempt of a shard on one agent.
type shard struct {
	id      string
	attempt int
	key     string
	group   string
	agent   string
	nodes   []uint32 // job node indexes
	dead    bool     // its agent was declared lost, or it was replaced
	done    bool     // its summary was reconciled
	reorder protocol.Reorder[*protocol.EventBatch]
	acked   uint64 // last seq acked to the agent
	ackedAt time.Time
}

func newJob(c *Coordinator, spec protocol.JobSpec, nodes []string) *job {
	j := &job{
		c:         c,
		spec:      spec,
		nodes:     nodes,
		states:    make([]nodeState, len(nodes)),
		finals:    make(map[protocol.State]int),
		shards:    make(map[string]*shard),
		created:   time.Now(),
		outWake:   make(chan struct{}, 1),
		win:       protocol.NewWindow(c.cfg.Window),
		lastAck:   time.Now(),
		streamEnd: make(chan struct{}),
	}
	return j
}

// newShard makes a shard attempt for nodes (job indexes); id "" = a new
// shard id. Call with j.mu held.
func (j *job) newShard(id string, attempt int, group, agent string, nodes []uint32) *shard {
	if id == "" {
		j.nshards++
		id = fmt.Sprintf("s%d", j.nshards)
	}
	s := &shard{id: id, attempt: attempt, key: protocol.ShardKey(j.spec.ID, id, attempt),
		group: group, agent: agent, nodes: nodes}
	j.shards[s.key] = s
	for _, n := range nodes {
		j.states[n] = nodeState{phase: phaseDispatched, owner: s}
	}
	return s
}

// finish gives node i its final state (once) and queues the record that
// tells the submitter. Call with j.mu held.
func (j *job) finish(i uint32, st protocol.State, code int, msg string) {
	if j.states[i].phase == phaseFinal {
		return
	}
	j.states[i].phase = phaseFinal
	j.finals[st]++
	j.nfinal++
	j.emit(protocol.Record{Kind: protocol.KindEnd, Nodes: []uint32{i}, State: st, Code: code, At: time.Now(), Data: []byte(msg)})
}

// finishMany ends a set of nodes with one record.
func (j *job) finishMany(idx []uint32, st protocol.State, msg string) {
	var ended []uint32
	for _, i := range idx {
		if j.states[i].phase != phaseFinal {
			j.states[i].phase = phaseFinal
			ended = append(ended, i)
		}
	}
	if len(ended) == 0 {
		return
	}
	j.finals[st] += len(ended)
	j.nfinal += len(ended)
	code := 0
	if st != protocol.StateExited {
		code = 255
	}
	j.emit(protocol.Record{Kind: protocol.KindEnd, Nodes: ended, State: st, Code: code, At: time.Now(), Data: []byte(msg)})
}

// emit queues a record for the submitter. Call with j.mu held.
func (j *job) emit(r protocol.Record) {
	if j.detached {
		return
	}
	size := r.Size()
	var last *outChunk
	if n := len(j.outq); n > 0 {
		last = j.outq[n-1]
	}
	if last == nil || (last.size+size > j.c.cfg.MaxBatch && len(last.recs) > 0) {
		last = chunkPool.Get().(*outChunk)
		j.outq = append(j.outq, last)
		if len(j.outq) > 1 {
			j.wake()
		}
	}
	last.recs = append(last.recs, r)
	last.size += size
	j.outBytes += size
}

func (j *job) wake() {
	select {
	case j.outWake <- struct{}{}:
	default:
	}
}

// complete reports whether every node has its final state.
func (j *job) complete() bool { return j.nfinal == len(j.nodes) }

// merge applies an in-order batch of shard s. Call with j.mu held.
func (j *job) merge(s *shard, b *protocol.EventBatch) {
	for k := range b.Records {
		r := &b.Records[k]
		// Translate shard indexes to job indexes in place: the batch is
		// ours, and shard nodes are in job order, so idx stays ascending.
		idx := r.Nodes[:0]
		for _, n := range r.Nodes {
			if int(n) >= len(s.nodes) {
				j.c.log.Warn("event for a node out of the shard", "shard", s.key, "index", n)
				continue
			}
			ji := s.nodes[n]
			st := &j.states[ji]
			if st.owner != s || st.phase == phaseFinal {
				continue // the node moved to another attempt, or ended already
			}
			idx = append(idx, ji)
		}
		if len(idx) == 0 {
			continue
		}
		switch r.Kind {
		case protocol.KindStart:
			for _, ji := range idx {
				j.states[ji].phase = phaseStarted
			}
			j.emit(protocol.Record{Kind: protocol.KindStart, Nodes: idx, At: r.At})
		case protocol.KindStdout, protocol.KindStderr:
			j.emit(protocol.Record{Kind: r.Kind, Partial: r.Partial, Nodes: idx, Data: r.Data})
		case protocol.KindEnd:
			for _, ji := range idx {
				j.states[ji].phase = phaseFinal
			}
			j.finals[r.State] += len(idx)
			j.nfinal += len(idx)
			j.emit(protocol.Record{Kind: protocol.KindEnd, Nodes: idx, State: r.State, Code: r.Code, At: r.At, Data: r.Data})
		}
	}
}

// ackShard acks what shard s delivered, unless the submitter is behind:
// then the ack waits, which stops the agent (credit) until the output
// backlog drains. Call with j.mu held.
func (j *job) ackShard(s *shard) {
	if j.outBytes > j.c.cfg.MaxBacklog && !j.detached {
		for _, d := range j.deferred {
			if d == s {
				return
			}
		}
		j.deferred = append(j.deferred, s)
		return
	}
	j.sendAck(s)
}

func (j *job) sendAck(s *shard) {
	seq := s.reorder.Delivered()
	if seq == 0 || seq == s.acked {
		return
	}
	s.acked, s.ackedAt = seq, time.Now()
	j.c.control(s.agent, protocol.Control{Kind: protocol.ControlAck, Job: j.spec.ID, Shard: s.id, Attempt: s.attempt, Seq: seq})
}

// status describes the job for the registry. Call with j.mu held.
func (j *job) status() protocol.JobStatus {
	st := protocol.JobStatus{
		ID: j.spec.ID, User: j.spec.User, Command: j.spec.Command, Nodes: j.spec.Nodes,
		Total: len(j.nodes), Finals: make(map[protocol.State]int, len(j.finals)),
		Done: j.complete(), Submitted: j.created, Ended: j.ended,
	}
	for k, v := range j.finals {
		st.Finals[k] = v
	}
	if !st.Done {
		un := nodeset.New()
		for i, s := range j.states {
			if s.phase != phaseFinal {
				_ = un.AddNode(j.nodes[i])
			}
		}
		st.Unfinished = un.String()
	}
	return st
}

// stream sends the job's output to its submitter until the final batch
// is acked or ctx ends: batches of up to MaxBatch bytes, every 50 ms or
// sooner when full, through the credit window.
func (j *job) stream(ctx context.Context) {
	defer close(j.streamEnd)
	tick := time.NewTicker(j.c.cfg.FlushInterval)
	defer tick.Stop()
	subject := j.c.subj.Output(j.spec.ID)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-j.outWake:
		}
		for {
			j.mu.Lock()
			chunk, last := j.take()
			if chunk == nil && !last {
				j.mu.Unlock()
				break
			}
			j.mu.Unlock()
			var recs []protocol.Record
			if chunk != nil {
				recs = chunk.recs
			}
			err := j.publishOut(ctx, subject, recs, last)
			if chunk != nil {
				chunk.release()
			}
			if err != nil {
				return
			}
			j.mu.Lock()
			// Room again in the backlog: release the acks held back.
			if j.outBytes <= j.c.cfg.MaxBacklog || j.detached {
				for _, s := range j.deferred {
					j.sendAck(s)
				}
				j.deferred = nil
			}
			j.mu.Unlock()
			if last {
				j.waitFinalAck(ctx)
				return
			}
		}
	}
}

// outChunk is one batch worth of queued output records.
type outChunk struct {
	recs []protocol.Record
	size int
}

var chunkPool = sync.Pool{New: func() any { return &outChunk{recs: make([]protocol.Record, 0, 512)} }}

func (c *outChunk) release() {
	clear(c.recs)
	c.recs, c.size = c.recs[:0], 0
	chunkPool.Put(c)
}

// take removes the oldest queued batch of records; last is set once, when
// the job is complete and nothing more is queued. Call with j.mu held.
func (j *job) take() (chunk *outChunk, last bool) {
	if len(j.outq) > 0 {
		chunk = j.outq[0]
		j.outq[0] = nil
		j.outq = j.outq[1:]
		if len(j.outq) == 0 {
			j.outq = nil
		}
		j.outBytes -= chunk.size
	}
	if len(j.outq) == 0 && j.complete() && !j.closing {
		j.closing = true
		last = true
	}
	return chunk, last
}

func (j *job) publishOut(ctx context.Context, subject string, recs []protocol.Record, last bool) error {
	if j.isDetached() {
		return nil
	}
	// A submitter that stops acking (killed, suspended) must not stall
	// the job: after DetachAfter without an ack, its output is dropped and
	// the job goes on; its states stay in the registry.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-t.C:
				if j.ackIdle() > j.c.cfg.DetachAfter {
					j.detach()
					cancel()
					return
				}
			}
		}
	}()
	_, data, err := j.win.Send(wctx, func(seq uint64) ([]byte, error) {
		b := protocol.EventBatch{Job: j.spec.ID, Seq: seq, Last: last, Records: recs}
		return b.MarshalBinary()
	})
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return nil // detached
	}
	if err := j.c.nc.PublishMsg(wire.NewMsg(subject, protocol.TypeEventBatch, data)); err != nil {
		j.c.log.Warn("publish output", "job", j.spec.ID, "err", err)
	}
	return nil
}

func (j *job) ackIdle() time.Duration {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.win.Unacked() == 0 {
		return 0
	}
	return time.Since(j.lastAck)
}

func (j *job) isDetached() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.detached
}

func (j *job) detach() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.detached {
		j.c.log.Warn("submitter stopped acking output; job goes on without it", "job", j.spec.ID)
		j.detached = true
		for _, c := range j.outq {
			c.release()
		}
		j.outq, j.outBytes = nil, 0
		for _, s := range j.deferred {
			j.sendAck(s)
		}
		j.deferred = nil
	}
}

// waitFinalAck keeps retransmitting until the submitter acked the final
// batch (or detached, or gave up).
func (j *job) waitFinalAck(ctx context.Context) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		if j.win.Unacked() == 0 || j.isDetached() || j.ackIdle() > j.c.cfg.DetachAfter {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			j.resend(j.win.Stale(time.Second))
		}
	}
}

func (j *job) resend(batches [][]byte) {
	subject := j.c.subj.Output(j.spec.ID)
	for _, data := range batches {
		_ = j.c.nc.PublishMsg(wire.NewMsg(subject, protocol.TypeEventBatch, data))
	}
}

// outputControl handles the submitter's ack or retransmit request.
func (j *job) outputControl(ctl protocol.Control) {
	switch ctl.Kind {
	case protocol.ControlAck:
		j.mu.Lock()
		j.lastAck = time.Now()
		j.mu.Unlock()
		j.win.Ack(ctl.Seq)
	case protocol.ControlRetransmit:
		j.mu.Lock()
		j.lastAck = time.Now()
		j.mu.Unlock()
		j.resend(j.win.From(ctl.Seq))
	}
}
