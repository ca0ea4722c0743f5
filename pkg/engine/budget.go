package engine

import "sync"

// maxOutputInFlight bounds the bytes of output read from jobs but not yet
// handled by the task loop. The events channel bounds the number of
// writes waiting, not their size: a command printing short lines fast
// filled 1 024 events of 32 KiB reads with 16 000 line headers each
// (~400 MB for `yes`). Past this budget, drivers wait in Write, which
// holds back the command through its pipe (or the SSH channel's window).
const maxOutputInFlight = 8 << 20

// lineCost is what a posted line costs beyond its bytes (its slice header).
const lineCost = 24

// byteBudget is a counting semaphore of bytes. A single acquire larger
// than the whole budget is let through when nothing else is held, so a
// huge write cannot wait for ever.
type byteBudget struct {
	mu   sync.Mutex
	cond *sync.Cond
	max  int
	used int
}

func newByteBudget(max int) *byteBudget {
	b := &byteBudget{max: max}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// acquire waits until n bytes fit, then takes them.
func (b *byteBudget) acquire(n int) {
	b.mu.Lock()
	for b.used > 0 && b.used+n > b.max {
		b.cond.Wait()
	}
	b.used += n
	b.mu.Unlock()
}

// release gives n bytes back.
func (b *byteBudget) release(n int) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
	b.cond.Broadcast()
}

// linesCost is the budget taken by posting lines.
func linesCost(lines [][]byte) int {
	n := 0
	for _, l := range lines {
		n += len(l) + lineCost
	}
	return n
}
