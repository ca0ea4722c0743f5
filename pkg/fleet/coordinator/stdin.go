package coordinator

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Standard input of a job (JobSpec.Stdin): the submitter sends it in
// numbered chunks, the coordinator keeps them in the job's stdinLog and
// one sender per shard attempt (feedShard) passes them on to the shard's
// agent, one at a time, as the agent takes them. The log keeps the whole
// stream while it is under MaxStdinKeep, so that shards dispatched later
// (re-dispatched after an agent was lost) get all of it; past that it
// drops what every live shard has taken and answers the submitter only
// when it has room, which holds the submitter back at the pace of the
// slowest shard. Once it has dropped a chunk, a shard dispatched later
// cannot get the whole stream: its nodes end with an error instead of
// running on part of their input.

// stdinLog is a job's standard input at the coordinator (guarded by j.mu).
type stdinLog struct {
	chunks  []stdinPiece // chunks first, first+1...
	first   uint64       // seq of chunks[0]
	next    uint64       // next seq the submitter may send
	bytes   int          // data held
	trimmed bool         // chunks were dropped
	parked  *nats.Msg    // a submitter's chunk waiting for room
	changed chan struct{}
}

type stdinPiece struct {
	data []byte
	eof  bool
}

func newStdinLog() *stdinLog {
	return &stdinLog{first: 1, next: 1, changed: make(chan struct{})}
}

// signal wakes the shard senders (j.mu held).
func (l *stdinLog) signal() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// onStdin takes a chunk of a job's standard input from its submitter.
func (c *Coordinator) onStdin(m *nats.Msg) {
	ch, ok := wire.ReceiveStdin(m)
	if !ok {
		return
	}
	id := protocol.LastToken(m.Subject)
	j := c.job(id)
	if j == nil && c.foreign(id) {
		return // another coordinator's job (peers.go): its owner answers
	}
	// Only the job's submitter feeds it.
	if j == nil || ch.Job != j.spec.ID || j.spec.User != c.subj.Sender(m.Subject) {
		wire.RespondStdin(m, protocol.StdinAck{Error: fmt.Sprintf("no job %q", protocol.Truncate(ch.Job, protocol.MaxLogField))})
		return
	}
	// The chunk's data aliases m.Data, which is ours.
	j.mu.Lock()
	defer j.mu.Unlock()
	l := j.stdin
	switch {
	case l == nil:
		wire.RespondStdin(m, protocol.StdinAck{Error: fmt.Sprintf("job %s takes no standard input", j.spec.ID)})
	case j.complete() || j.cancelled:
		wire.RespondStdin(m, protocol.StdinAck{Seq: ch.Seq, Done: true})
	case ch.Seq != l.next:
		wire.RespondStdin(m, protocol.StdinAck{Seq: l.next - 1}) // a repeat (or a sender out of step)
	default:
		l.parked = m
		j.takeStdin()
	}
}

// takeStdin stores the parked chunk if there is room, dropping what every
// live shard has taken when the log is full (j.mu held).
func (j *job) takeStdin() {
	l := j.stdin
	if l == nil || l.parked == nil {
		return
	}
	m := l.parked
	if j.complete() || j.cancelled {
		l.parked = nil
		wire.RespondStdin(m, protocol.StdinAck{Seq: l.next, Done: true})
		return
	}
	var ch protocol.StdinChunk
	_ = ch.UnmarshalBinary(m.Data) // checked by onStdin
	if l.bytes+len(ch.Data) > j.c.cfg.MaxStdinKeep {
		j.trimStdin()
	}
	if l.bytes > 0 && l.bytes+len(ch.Data) > j.c.cfg.MaxStdinKeep {
		return // answered when a shard takes what the log holds
	}
	l.parked = nil
	l.chunks = append(l.chunks, stdinPiece{data: ch.Data, eof: ch.EOF})
	l.bytes += len(ch.Data)
	l.next++
	l.signal()
	wire.RespondStdin(m, protocol.StdinAck{Seq: ch.Seq})
}

// trimStdin drops the chunks every live shard has taken (j.mu held).
func (j *job) trimStdin() {
	l := j.stdin
	low := l.next // nothing is needed: every chunk may go
	for _, s := range j.shards {
		if !s.dead && !s.done && !s.stdinDone {
			low = min(low, s.stdinSent+1)
		}
	}
	for l.first < low && len(l.chunks) > 0 {
		l.bytes -= len(l.chunks[0].data)
		l.chunks[0] = stdinPiece{}
		l.chunks = l.chunks[1:]
		l.first++
		l.trimmed = true
	}
}

// stdinGone tells whether shards dispatched now would miss the start of
// the job's standard input (j.mu held).
func (j *job) stdinGone() bool { return j.stdin != nil && j.stdin.trimmed }

// stdinGoneReason is the error of the nodes of such a shard.
func (j *job) stdinGoneReason() string {
	return fmt.Sprintf("standard input over %d bytes was already streamed to the other nodes when these were dispatched (after an agent was lost): the coordinator keeps only that much for nodes dispatched later",
		j.c.cfg.MaxStdinKeep)
}

// feedShard sends the job's standard input to shard s's agent, chunk by
// chunk as the agent takes them, until the end of the stream, the end of
// the shard, or the agent saying its commands need no more.
func (c *Coordinator) feedShard(j *job, s *shard) {
	subject := c.subj.AgentStdin(s.agent)
	for seq := uint64(1); ; seq++ {
		j.mu.Lock()
		var piece stdinPiece
		for {
			l := j.stdin
			if s.dead || s.done || s.stdinDone || c.ctx.Err() != nil {
				j.mu.Unlock()
				return
			}
			if seq < l.first {
				// Cannot happen: the log keeps what live shards need.
				j.mu.Unlock()
				c.log.Error("stdin: chunk dropped before its shard took it", "shard", s.key, "seq", seq)
				return
			}
			if seq < l.next {
				piece = l.chunks[seq-l.first]
				break
			}
			ch := l.changed
			j.mu.Unlock()
			// The shard's end is not signalled: look again now and then.
			t := time.NewTimer(c.cfg.StdinRetry)
			select {
			case <-ch:
			case <-t.C:
			case <-c.ctx.Done():
			}
			t.Stop()
			j.mu.Lock()
		}
		j.mu.Unlock()
		chunk := protocol.StdinChunk{Job: j.spec.ID, Shard: s.id, Attempt: s.attempt, Seq: seq, EOF: piece.eof, Data: piece.data}
		ack, err := c.sendStdin(j, s, subject, &chunk)
		j.mu.Lock()
		if err == nil {
			s.stdinSent = seq
		}
		if err != nil || ack.Done || piece.eof {
			s.stdinDone = true
		}
		j.takeStdin() // room may have come
		j.mu.Unlock()
		if err != nil {
			if c.ctx.Err() == nil && !s.isDead(j) {
				c.log.Warn("stdin: shard's agent did not take its standard input", "shard", s.key, "agent", s.agent, "err", err)
			}
			return
		}
		if ack.Done || piece.eof {
			return
		}
	}
}

// sendStdin sends one chunk to a shard's agent, giving up when the shard
// dies or ends meanwhile (it retries otherwise).
func (c *Coordinator) sendStdin(j *job, s *shard, subject string, chunk *protocol.StdinChunk) (protocol.StdinAck, error) {
	for {
		ack, err := wire.SendStdin(c.ctx, c.nc, subject, chunk, c.cfg.StdinRetry, func() bool {
			j.mu.Lock()
			defer j.mu.Unlock()
			return s.dead || s.done
		})
		if err == nil || c.ctx.Err() != nil || !errors.Is(err, wire.ErrNoCoordinator) {
			return ack, err
		}
		// Nobody listens: the agent is gone (its loss will end the shard)
		// or reconnecting.
		j.mu.Lock()
		over := s.dead || s.done
		j.mu.Unlock()
		if over {
			return ack, err
		}
		select {
		case <-time.After(c.cfg.StdinRetry):
		case <-c.ctx.Done():
			return ack, c.ctx.Err()
		}
	}
}
