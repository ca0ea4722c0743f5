package coordinator

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetsh/fleetsh/pkg/fleet/store"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// The journal (Config.Store). What changes a job (its output records as
// the replay log keeps them, shards dispatched, accepted, given up and
// done, the batches merged per shard, a cancel, its end) is queued in the
// job's jwriter and written by one goroutine per job (journalLoop): the
// entries of a FlushInterval are coalesced, cut in messages under the
// NATS server's max_payload, published without waiting one by one
// (PublishAsync) and then awaited together. Only once they are stored
// does the coordinator act on what must survive it:
//
//   - an agent's batch is acked (sendAck acks shard.stored, not what was
//     merged): an acked batch is never lost by a crash, and one not yet
//     stored is resent by its agent to the restarted coordinator;
//   - a shard summary is answered OK (its agent retries until then);
//   - a shard is sent to its agent only once its dispatch is stored
//     (urgent: written at once), so that a restarted coordinator knows
//     every shard an agent may run and never runs a node twice.
//
// Each message is whole in itself: a batch's records and its progress go
// in the same message, so a crash between two messages loses neither.

// journalRoom is what a journal message keeps free under max_payload for
// its header and NATS's framing.
const journalRoom = 16 << 10

// jwriter is a job's queue of journal entries. Guarded by the job's mu.
type jwriter struct {
	segs   []*segment
	kick   chan struct{} // wakes journalLoop (buffered)
	gone   chan struct{} // closed when the job is forgotten
	urgent bool
	hold   bool   // a batch is being merged: keep its records in one segment
	limit  int    // bytes of records per message
	n      uint64 // messages written, for their ids
}

// segment is one journal message to be: an entry, and what to do once it
// is stored.
type segment struct {
	e    store.Entry
	size int
	acks map[*shard]uint64 // batches merged, to ack once stored
	then []func()          // run once stored, outside j.mu
}

func newJWriter(limit int) *jwriter {
	return &jwriter{kick: make(chan struct{}, 1), gone: make(chan struct{}), limit: max(limit, 4<<10)}
}

// cur returns the segment entries go to, a new one when the current one
// holds size more bytes than a message may. Call with j.mu held.
func (w *jwriter) cur(size int) *segment {
	n := len(w.segs)
	if n == 0 || !w.hold && w.segs[n-1].size > 0 && w.segs[n-1].size+size > w.limit {
		w.segs = append(w.segs, &segment{})
		n++
		// The first starts the writer's FlushInterval; a second is a
		// message's worth: write now.
		w.wake()
	}
	return w.segs[n-1]
}

func (w *jwriter) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// journal queues an entry change of j (nil store: nothing). Call with
// j.mu held.
func (j *job) journal(edit func(e *store.Entry)) {
	if j.jw == nil {
		return
	}
	edit(&j.jw.cur(0).e)
}

// journalThen runs fn once what is queued so far is stored (at once
// without a store). Call with j.mu held; fn runs without it.
func (j *job) journalThen(fn func()) bool {
	if j.jw == nil {
		return false
	}
	s := j.jw.cur(0)
	s.then = append(s.then, fn)
	return true
}

// journalUrgent makes the writer write what is queued without waiting for
// FlushInterval. Call with j.mu held.
func (j *job) journalUrgent() {
	if j.jw != nil {
		j.jw.urgent = true
		j.jw.wake()
	}
}

// journalHold makes room for a batch of size bytes of records in the
// current segment and keeps what follows there until journalRelease: a
// batch's records and progress are stored together. Call with j.mu held.
func (j *job) journalHold(size int) {
	if j.jw != nil {
		j.jw.cur(size)
		j.jw.hold = true
	}
}

// journalRelease ends journalHold. Call with j.mu held.
func (j *job) journalRelease() {
	if j.jw != nil {
		j.jw.hold = false
	}
}

// batchSize estimates the records a batch makes.
func batchSize(b *protocol.EventBatch) int {
	n := 0
	for i := range b.Events {
		n += b.Events[i].Size()
	}
	return n
}

// journalRecord queues an output record the log keeps. Call with j.mu
// held.
func (j *job) journalRecord(idx uint64, r protocol.Event, size int) {
	if j.jw == nil {
		return
	}
	s := j.jw.cur(size)
	s.e.Records = append(s.e.Records, store.Logged{Idx: idx, Event: r})
	s.size += size
}

// journalProgress queues the progress of shard s up to batch seq (merged
// in the segment that holds its records). Call with j.mu held.
func (j *job) journalProgress(s *shard, seq uint64) {
	if j.jw == nil {
		s.stored = seq
		return
	}
	seg := j.jw.cur(0)
	if seg.acks == nil {
		seg.acks = make(map[*shard]uint64)
	}
	seg.acks[s] = seq
	for i := range seg.e.Progress {
		if p := &seg.e.Progress[i]; p.ID == s.id && p.Attempt == s.attempt {
			p.Seq = seq
			return
		}
	}
	seg.e.Progress = append(seg.e.Progress, store.Progress{ID: s.id, Attempt: s.attempt, Seq: seq})
}

// journalShard queues a step of shard s. Call with j.mu held.
func (j *job) journalShard(s *shard, kind string) {
	j.journal(func(e *store.Entry) {
		ev := store.ShardEvent{Kind: kind, ID: s.id, Attempt: s.attempt}
		if kind == store.ShardDispatched {
			ev.Group, ev.Agent, ev.Nodes = s.group, s.agent, store.EncodeNodes(sortedCopy(s.nodes))
		}
		e.Shards = append(e.Shards, ev)
	})
}

// journalLoop writes j's journal until the job is forgotten or the
// coordinator stops.
func (c *Coordinator) journalLoop(j *job) {
	w := j.jw
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-w.gone:
			return
		case <-w.kick:
		}
		j.mu.Lock()
		urgent := w.urgent
		j.mu.Unlock()
		if !urgent { // coalesce what comes within FlushInterval
			t := time.NewTimer(c.cfg.FlushInterval)
			select {
			case <-c.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			case <-w.kick: // urgent, or a message's worth
			}
			t.Stop()
		}
		j.mu.Lock()
		segs := w.segs
		w.segs, w.urgent = nil, false
		emitted := j.emitted
		if n := len(segs); n > 0 {
			segs[n-1].e.Emitted = emitted
		}
		j.mu.Unlock()
		if len(segs) == 0 || !c.writeSegments(j, segs) {
			continue
		}
		j.mu.Lock()
		j.release(emitted)
		for _, seg := range segs {
			for s, seq := range seg.acks {
				s.stored = max(s.stored, seq)
				j.ackShard(s)
			}
		}
		j.mu.Unlock()
		for _, seg := range segs {
			for _, fn := range seg.then {
				fn()
			}
		}
	}
}

// writeSegments stores segs in j's journal: published together, then
// each awaited; a failed one is published again (its id makes a retry of
// a stored message harmless) until stored or the coordinator stops
// (false).
func (c *Coordinator) writeSegments(j *job, segs []*segment) bool {
	st := c.cfg.Store
	type sent struct {
		id   string
		data []byte
		fut  jetstream.PubAckFuture
	}
	out := make([]sent, 0, len(segs))
	for _, seg := range segs {
		data, err := seg.e.Encode()
		if err == nil && len(data) > c.maxPayload()-journalRoom/4 {
			err = fmt.Errorf("%d bytes, over the NATS server's max_payload", len(data))
		}
		if err != nil {
			// Cannot happen for batches cut under max_payload; one record
			// naming a million scattered nodes could: the job runs on,
			// and a restart would miss this entry.
			c.log.Error("journal entry not stored", "job", j.spec.ID, "err", err)
			continue
		}
		j.mu.Lock()
		j.jw.n++
		id := fmt.Sprintf("%s-%s-%d", c.runID, j.spec.ID, j.jw.n)
		j.mu.Unlock()
		fut, _ := st.Append(j.spec.ID, id, data)
		out = append(out, sent{id, data, fut})
	}
	for _, m := range out {
		var err error
		if m.fut == nil {
			err = errors.New("not published")
		} else {
			select {
			case <-m.fut.Ok():
				continue
			case err = <-m.fut.Err():
			case <-c.ctx.Done():
				return false
			}
		}
		for wait := 50 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
			c.log.Warn("journal write failed: retrying", "job", j.spec.ID, "err", err)
			if !c.awaitNATS() {
				return false
			}
			if err = st.AppendSync(c.ctx, j.spec.ID, m.id, m.data); err == nil {
				break
			}
			select {
			case <-c.ctx.Done():
				return false
			case <-time.After(wait):
			}
		}
	}
	return true
}

func sortedCopy(idx []uint32) []uint32 {
	out := make([]uint32, len(idx))
	copy(out, idx)
	return sortIdx(out)
}
