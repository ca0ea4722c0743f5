package coordinator

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// follower is one output stream of a job: the submitter's (id = job id),
// or a later `csub attach` (its own id), which first gets the job's log
// and then follows it live. Fields are guarded by the job's mu, except
// win, which has its own lock.
type follower struct {
	j        *job
	user     string // who reads it: Output(user, id), OutputAck(user, id)
	id       string // the job's id, or the attach's stream id
	outq     []*outChunk
	outBytes int
	wakeCh   chan struct{}
	win      *protocol.Window
	lastAck  time.Time
	detached bool // stopped acking: its output is dropped
	closing  bool // final batch queued
	serving  bool // its stream goroutine runs (see streamState)
}

func newFollower(j *job, user, id string) *follower {
	return &follower{j: j, user: user, id: id, wakeCh: make(chan struct{}, 1),
		win: protocol.NewWindow(j.c.cfg.Window), lastAck: time.Now()}
}

// outChunk is one batch worth of queued output records: at most MaxBatch
// bytes (estimated) and protocol.MaxNodeRefs node indexes for the job's
// nodes, which the reader's decoder checks. Its records have consecutive
// indexes from first (the batch's First): a replay's gap starts a chunk.
type outChunk struct {
	recs  []protocol.Event
	first uint64
	size  int
	refs  int
}

var chunkPool = sync.Pool{New: func() any { return &outChunk{recs: make([]protocol.Event, 0, 512)} }}

func (c *outChunk) release() {
	clear(c.recs)
	c.recs, c.first, c.size, c.refs = c.recs[:0], 0, 0, 0
	chunkPool.Put(c)
}

// push queues record idx. Call with j.mu held.
func (f *follower) push(r protocol.Event, idx uint64, size int) {
	if f.detached {
		return
	}
	var last *outChunk
	if n := len(f.outq); n > 0 {
		last = f.outq[n-1]
	}
	full := last != nil && len(last.recs) > 0 &&
		(last.size+size > f.j.c.cfg.MaxBatch || last.refs+len(r.Nodes) > protocol.MaxNodeRefs(0, len(f.j.nodes)) ||
			last.first+uint64(len(last.recs)) != idx)
	if last == nil || full {
		last = chunkPool.Get().(*outChunk)
		last.first = idx
		f.outq = append(f.outq, last)
		if len(f.outq) > 1 {
			f.wake()
		}
	}
	last.recs = append(last.recs, r)
	last.size += size
	last.refs += len(r.Nodes)
	f.outBytes += size
}

func (f *follower) wake() {
	select {
	case f.wakeCh <- struct{}{}:
	default:
	}
}

// take removes the oldest queued batch of records and returns the index
// of its first (of the next record when there is none); last is set
// once, when the job is complete and nothing more is queued. The last
// batch ends at the job's last record, so that a reader sees the records
// a replay lacks at its end too. Call with j.mu held.
func (f *follower) take() (chunk *outChunk, first uint64, last bool) {
	first = f.j.released // records past it wait for the journal
	end := first
	if len(f.outq) > 0 {
		chunk = f.outq[0]
		f.outq[0] = nil
		f.outq = f.outq[1:]
		if len(f.outq) == 0 {
			f.outq = nil
		}
		f.outBytes -= chunk.size
		first = chunk.first
		end = first + uint64(len(chunk.recs))
	}
	if len(f.outq) == 0 && f.j.complete() && !f.closing && end == f.j.emitted {
		f.closing = true
		last = true
	}
	return chunk, first, last
}

// stream sends the output until the final batch is acked or ctx ends:
// batches of up to MaxBatch bytes, every FlushInterval or sooner when
// full, through the credit window.
func (f *follower) stream(ctx context.Context) {
	j := f.j
	j.mu.Lock()
	f.serving = true
	j.mu.Unlock()
	defer func() {
		j.mu.Lock()
		f.serving = false
		for i, g := range j.followers {
			if g == f && f != j.primary {
				j.followers = append(j.followers[:i:i], j.followers[i+1:]...)
				break
			}
		}
		j.mu.Unlock()
	}()
	tick := time.NewTicker(j.c.cfg.FlushInterval)
	defer tick.Stop()
	subject := j.c.subj.Output(f.user, f.id)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-f.wakeCh:
		}
		for {
			j.mu.Lock()
			chunk, first, last := f.take()
			if chunk == nil && !last {
				j.mu.Unlock()
				break
			}
			j.mu.Unlock()
			var recs []protocol.Event
			if chunk != nil {
				recs = chunk.recs
			}
			err := f.publish(ctx, subject, recs, first, last)
			if chunk != nil {
				chunk.release()
			}
			if err != nil {
				return
			}
			if f == j.primary {
				j.mu.Lock()
				// Room again in the backlog: release the acks held back.
				if f.outBytes <= j.c.cfg.MaxBacklog || f.detached {
					for _, s := range j.deferred {
						j.sendAck(s)
					}
					j.deferred = nil
				}
				j.mu.Unlock()
			}
			if last {
				f.waitFinalAck(ctx)
				return
			}
		}
	}
}

func (f *follower) publish(ctx context.Context, subject string, recs []protocol.Event, first uint64, last bool) error {
	if f.isDetached() {
		return nil
	}
	j := f.j
	// A reader that stops acking (killed, suspended) must not stall the
	// job: after DetachAfter without an ack its output is dropped and the
	// job goes on; its states stay in the registry.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	j.c.spawn(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case <-t.C:
				if f.ackIdle() > j.c.cfg.DetachAfter {
					f.detach()
					cancel()
					return
				}
			}
		}
	})
	_, data, err := f.win.Send(wctx, func(seq uint64) ([]byte, error) {
		b := protocol.EventBatch{Job: j.spec.ID, Seq: seq, Last: last, Indexed: true, First: first, Events: recs}
		return b.MarshalBinary()
	})
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return nil // detached
	}
	if err := j.c.nc.PublishMsg(wire.NewMsg(subject, protocol.TypeEventBatch, data)); err != nil {
		j.c.log.Warn("publish output", "job", j.spec.ID, "stream", f.id, "err", err)
	}
	return nil
}

// ackIdle is how long the reader has left output unacked. Like an
// agent's silence, it counts only while the coordinator is connected to
// NATS, from its reconnection at the earliest: a reader cut off by the
// same outage is not a reader that stopped.
func (f *follower) ackIdle() time.Duration {
	c := f.j.c
	if !c.nc.IsConnected() {
		return 0
	}
	c.mu.Lock()
	since := c.reconnectedAt()
	c.mu.Unlock()
	f.j.mu.Lock()
	defer f.j.mu.Unlock()
	if f.win.Unacked() == 0 {
		return 0
	}
	last := f.lastAck
	if since.After(last) {
		last = since
	}
	return time.Since(last)
}

func (f *follower) isDetached() bool {
	f.j.mu.Lock()
	defer f.j.mu.Unlock()
	return f.detached
}

func (f *follower) detach() {
	j := f.j
	j.mu.Lock()
	defer j.mu.Unlock()
	if f.detached {
		return
	}
	j.c.log.Warn("output reader stopped acking; the job goes on without it", "job", j.spec.ID, "stream", f.id)
	f.detached = true
	for _, c := range f.outq {
		c.release()
	}
	f.outq, f.outBytes = nil, 0
	if f == j.primary {
		for _, s := range j.deferred {
			j.sendAck(s)
		}
		j.deferred = nil
	}
}

// waitFinalAck keeps retransmitting until the reader acked the final
// batch (or detached).
func (f *follower) waitFinalAck(ctx context.Context) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		if f.win.Unacked() == 0 || f.isDetached() || f.ackIdle() > f.j.c.cfg.DetachAfter {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f.resend(f.win.Stale(time.Second))
		}
	}
}

func (f *follower) resend(batches [][]byte) {
	subject := f.j.c.subj.Output(f.user, f.id)
	for _, data := range batches {
		_ = f.j.c.nc.PublishMsg(wire.NewMsg(subject, protocol.TypeEventBatch, data))
	}
}

// control handles the reader's ack or retransmit request; it returns
// false for an ack beyond the last batch sent, which it ignores.
func (f *follower) control(ctl protocol.Control) bool {
	switch ctl.Kind {
	case protocol.ControlAck:
		if !f.win.Ack(ctl.Seq) {
			return false
		}
	case protocol.ControlRetransmit:
		f.resend(f.win.From(ctl.Seq))
	}
	f.j.mu.Lock()
	f.lastAck = time.Now()
	f.j.mu.Unlock()
	return true
}

// attach adds a follower that replays the job's log from record index
// from on, then follows it. Records the log did not keep start a new
// batch past them, whose First tells the reader what it lacks. Call with
// j.mu held.
func (j *job) attach(user, id string, from uint64) *follower {
	f := newFollower(j, user, id)
	k, _ := slices.BinarySearch(j.logIdx, from)
	for ; k < len(j.log) && j.logIdx[k] < j.released; k++ {
		// (The records not yet released come with release.)
		f.push(j.log[k], j.logIdx[k], j.log[k].Size())
	}
	j.followers = append(j.followers, f)
	return f
}

// streamState says whether the coordinator serves output stream id of
// job j (protocol.StreamLive) or not (StreamGone): the stream of an
// attach that ended or never was, or one whose reader stopped acking
// and was detached. A job restored after a restart has no stream
// running for its submitter until it attaches again.
func (c *Coordinator) streamState(j *job, id string) string {
	f := j.primary
	if id != j.spec.ID {
		c.mu.Lock()
		f = c.streams[id]
		c.mu.Unlock()
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if f == nil || f.j != j || !f.serving || f.detached {
		return protocol.StreamGone
	}
	return protocol.StreamLive
}
