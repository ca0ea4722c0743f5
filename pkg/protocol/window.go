package protocol

import (
	"context"
	"sync"
	"time"
)

// DefaultWindow is the number of batches a sender may have
// unacknowledged. With 64 KiB batches, 16 per shard kept a 2-core
// coordinator fed at 800 MiB/s with no slow-consumer cut (see
// docs/fleet.md); more only grows buffers.
const DefaultWindow = 16

// DefaultMaxBatch is the size senders flush batches at.
const DefaultMaxBatch = 64 << 10

// Window is the sender side of a numbered stream: it hands out sequence
// numbers (from 1), keeps each sent batch until it is acknowledged, and
// blocks senders while Size batches are unacknowledged. Safe for
// concurrent use.
type Window struct {
	size    int
	mu      sync.Mutex
	room    chan struct{} // signalled when an ack frees room
	next    uint64
	acked   uint64
	unacked []sent // ascending seq
	closed  bool
}

type sent struct {
	seq  uint64
	data []byte
	at   time.Time
}

// NewWindow returns a window of size batches (DefaultWindow if size < 1).
func NewWindow(size int) *Window {
	if size < 1 {
		size = DefaultWindow
	}
	return &Window{size: size, next: 1, room: make(chan struct{}, 1)}
}

// Send waits for room in the window, numbers the batch with encode (which
// gets the sequence number and returns the encoded batch), and keeps the
// result for retransmission. The caller then publishes data.
func (w *Window) Send(ctx context.Context, encode func(seq uint64) ([]byte, error)) (seq uint64, data []byte, err error) {
	for {
		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			return 0, nil, ErrClosed
		}
		if len(w.unacked) < w.size {
			seq = w.next
			data, err = encode(seq)
			if err != nil {
				w.mu.Unlock()
				return 0, nil, err
			}
			w.next++
			w.unacked = append(w.unacked, sent{seq, data, time.Now()})
			w.mu.Unlock()
			return seq, data, nil
		}
		w.mu.Unlock()
		select {
		case _, ok := <-w.room:
			if ok {
				// Several senders may wait: pass the wake-up on if room is left.
				w.mu.Lock()
				if len(w.unacked) < w.size-1 {
					w.wakeOne()
				}
				w.mu.Unlock()
			}
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		}
	}
}

// Ack acknowledges every batch up to seq. An ack beyond the last batch
// sent is a confused or forged peer's: it is ignored (ok false), since
// taking it would make every later ack look old and stall the stream.
func (w *Window) Ack(seq uint64) (ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if seq >= w.next {
		return false
	}
	if seq > w.acked {
		w.acked = seq
		i := 0
		for i < len(w.unacked) && w.unacked[i].seq <= seq {
			w.unacked[i].data = nil
			i++
		}
		w.unacked = w.unacked[i:]
	}
	w.wakeOne()
	return true
}

// wakeOne lets one waiting Send look for room again. Call with w.mu held
// (so that it never races with Close).
func (w *Window) wakeOne() {
	if w.closed {
		return
	}
	select {
	case w.room <- struct{}{}:
	default:
	}
}

// Acked returns the highest acknowledged sequence number.
func (w *Window) Acked() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.acked
}

// Last returns the last sequence number handed out (0 before the first).
func (w *Window) Last() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.next - 1
}

// Unacked returns how many batches wait for an ack.
func (w *Window) Unacked() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.unacked)
}

// From returns the kept batches from seq on, to send again, and marks
// them sent now.
func (w *Window) From(seq uint64) [][]byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out [][]byte
	now := time.Now()
	for i := range w.unacked {
		if w.unacked[i].seq >= seq {
			out = append(out, w.unacked[i].data)
			w.unacked[i].at = now
		}
	}
	return out
}

// Stale returns the kept batches sent more than age ago (their ack is
// overdue: the batch or its ack was lost), and marks them sent now.
func (w *Window) Stale(age time.Duration) [][]byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out [][]byte
	now := time.Now()
	for i := range w.unacked {
		if now.Sub(w.unacked[i].at) >= age {
			out = append(out, w.unacked[i].data)
			w.unacked[i].at = now
		}
	}
	return out
}

// Get returns the kept batch numbered seq, if it is still unacknowledged.
func (w *Window) Get(seq uint64) ([]byte, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range w.unacked {
		if w.unacked[i].seq == seq {
			w.unacked[i].at = time.Now()
			return w.unacked[i].data, true
		}
	}
	return nil, false
}

// Close fails pending and future Sends; acks after Close are harmless.
// It may be called more than once.
func (w *Window) Close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.closed = true
		close(w.room)
	}
}

// Reorder is the receiver side of a numbered stream: it delivers values in
// sequence order, drops duplicates and remembers what is missing. Not safe
// for concurrent use.
type Reorder[T any] struct {
	next    uint64
	pending map[uint64]T
	max     uint64
}

// Push records value number seq and returns, in order, the values that
// can now be delivered (none when seq is a duplicate or leaves a gap).
// dup reports a batch received before.
func (r *Reorder[T]) Push(seq uint64, v T) (ready []T, dup bool) {
	if r.next == 0 {
		r.next = 1
	}
	if seq < r.next {
		return nil, true
	}
	if seq > r.next {
		if r.pending == nil {
			r.pending = make(map[uint64]T)
		}
		if _, ok := r.pending[seq]; ok {
			return nil, true
		}
		r.pending[seq] = v
		r.max = max(r.max, seq)
		return nil, false
	}
	ready = append(ready, v)
	r.next++
	for {
		p, ok := r.pending[r.next]
		if !ok {
			break
		}
		delete(r.pending, r.next)
		ready = append(ready, p)
		r.next++
	}
	return ready, false
}

// Delivered returns the highest sequence number delivered in order.
func (r *Reorder[T]) Delivered() uint64 {
	if r.next == 0 {
		return 0
	}
	return r.next - 1
}

// Missing returns the sequence numbers not yet received up to last (or up
// to the highest received when last is 0).
func (r *Reorder[T]) Missing(last uint64) []uint64 {
	if last == 0 {
		last = r.max
	}
	// A bogus last from a confused peer must not make a huge list.
	last = min(last, max(r.next, 1)+1<<16)
	var out []uint64
	for s := max(r.next, 1); s <= last; s++ {
		if _, ok := r.pending[s]; !ok {
			out = append(out, s)
		}
	}
	return out
}

// Resume makes a new Reorder continue a stream whose values up to
// delivered were delivered before (a coordinator restarted from its
// journal): those numbers are duplicates, the next is delivered+1.
func (r *Reorder[T]) Resume(delivered uint64) {
	r.next = delivered + 1
	r.max = max(r.max, delivered)
}
