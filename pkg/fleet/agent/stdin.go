package agent

import (
	"context"
	"errors"
	"io"
	"slices"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// stdinFeed passes a shard's standard input from the coordinator's
// chunks to its engine: the chunks go, in order, through a pipe that the
// engine reads as Options.Stdin. A chunk is acknowledged once the engine
// has taken it, which it does only while its window has room
// (engine.StdinWindow): the coordinator then sends the next, so the
// stream goes at the pace of the shard's nodes in bounded memory.
type stdinFeed struct {
	r     *io.PipeReader
	w     *io.PipeWriter
	queue chan *nats.Msg // chunk requests, taken in order by run
}

// errShardOver closes the pipe once the engine is done with it.
var errShardOver = errors.New("the shard's commands ended")

// stdinQueue is how many chunk requests may wait per shard: the
// coordinator sends one at a time, so only repeats of it add up; a full
// queue drops a request, which its sender repeats.
const stdinQueue = 4

func newStdinFeed() *stdinFeed {
	r, w := io.Pipe()
	return &stdinFeed{r: r, w: w, queue: make(chan *nats.Msg, stdinQueue)}
}

// onStdin queues a chunk for its shard.
func (a *Agent) onStdin(m *nats.Msg) {
	ch, ok := wire.ReceiveStdin(m)
	if !ok {
		return
	}
	key := protocol.ShardKey(ch.Job, ch.Shard, ch.Attempt)
	s := a.lookup(key)
	if s == nil || s.stdin == nil {
		a.mu.Lock()
		seen := a.seen.has(key)
		a.mu.Unlock()
		if seen {
			// The shard ended and was summarised: it needs nothing more.
			wire.RespondStdin(m, protocol.StdinAck{Seq: ch.Seq, Done: true})
			return
		}
		wire.RespondStdin(m, protocol.StdinAck{Error: "agent " + a.cfg.Name + ": no shard " + key + " takes standard input here"})
		return
	}
	select {
	case s.stdin.queue <- m:
	default: // a repeat while the queue is full: its sender asks again
	}
}

// feedStdin writes the shard's chunks to the engine's pipe until the end
// of the stream or of the shard.
func (s *shard) feedStdin(ctx context.Context) {
	f := s.stdin
	next := uint64(1)
	over := false
	for {
		var m *nats.Msg
		select {
		case m = <-f.queue:
		case <-ctx.Done():
			f.w.CloseWithError(ctx.Err())
			return
		}
		var ch protocol.StdinChunk
		_ = ch.UnmarshalBinary(m.Data) // checked by onStdin
		switch {
		case over:
			wire.RespondStdin(m, protocol.StdinAck{Seq: ch.Seq, Done: true})
			continue
		case ch.Seq != next:
			wire.RespondStdin(m, protocol.StdinAck{Seq: next - 1}) // a repeat
			continue
		}
		var err error
		if len(ch.Data) > 0 {
			_, err = f.w.Write(ch.Data)
		}
		if err == nil && ch.EOF {
			err = f.w.Close()
			over = true
		}
		if err != nil {
			// The engine stopped reading: every command ended.
			over = true
			wire.RespondStdin(m, protocol.StdinAck{Seq: ch.Seq, Done: true})
			continue
		}
		next++
		wire.RespondStdin(m, protocol.StdinAck{Seq: ch.Seq})
	}
}

// endStdin stops the engine's reading and the feed's writes, once the
// engine is done.
func (s *shard) endStdin() {
	if s.stdin != nil {
		s.stdin.r.CloseWithError(errShardOver)
	}
}

// OnWritten counts the standard input a node's command took.
func (s *shard) OnWritten(_ *engine.Worker, key string, _ engine.Stream, n int) {
	if idx := s.nodesOf(key); len(idx) > 0 && n > 0 {
		s.buf.written(idx, n)
	}
}

// written adds n bytes of standard input taken by nodes idx to the next
// batch's KindWritten record.
func (b *buffer) written(idx []uint32, n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.wNodes = append(b.wNodes, idx...)
	b.wBytes += uint64(n)
	if len(b.wNodes) > 1<<12 { // keep the list short between flushes
		slices.Sort(b.wNodes)
		b.wNodes = slices.Compact(b.wNodes)
	}
}

// takeWritten returns the pending KindWritten record, if any (mu held).
func (b *buffer) takeWritten() []protocol.Event {
	if b.wBytes == 0 {
		return nil
	}
	slices.Sort(b.wNodes)
	r := protocol.WrittenEvent(slices.Compact(b.wNodes), b.wBytes)
	b.wNodes, b.wBytes = nil, 0
	return []protocol.Event{r}
}
