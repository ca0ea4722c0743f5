package engine

import (
	"container/heap"
	"time"
)

// A Timer calls its handler's OnTimer on the task's loop goroutine, once
// after its first delay, then every interval if the interval is positive.
// Timers fire only while the task runs. Its methods are safe from any
// goroutine.
type Timer struct {
	task      *Task
	handler   EventHandler
	autoclose bool

	// loop-owned
	next     time.Time
	interval time.Duration
	valid    bool
	armed    bool // in the heap
	index    int
	seq      uint64
}

// Invalidate stops the timer for good.
func (tm *Timer) Invalidate() {
	tm.task.post(func() { tm.task.loop.cancelTimer(tm) })
}

// IsValid reports whether the timer may still fire. It is exact on the
// loop goroutine (in handlers); elsewhere it may lag a pending change.
func (tm *Timer) IsValid() bool {
	tm.task.mu.Lock()
	defer tm.task.mu.Unlock()
	return tm.valid
}

// SetNextFire re-arms the timer: it fires after fire, then every interval
// if interval > 0. It also revives an invalidated timer.
func (tm *Timer) SetNextFire(fire, interval time.Duration) {
	tm.task.post(func() { tm.task.loop.armTimer(tm, fire, interval) })
}

// Task returns the timer's task.
func (tm *Timer) Task() *Task { return tm.task }

type timerHeap []*Timer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].next.Equal(h[j].next) {
		return h[i].seq < h[j].seq
	}
	return h[i].next.Before(h[j].next)
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *timerHeap) Push(x any) {
	t := x.(*Timer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	t.index = -1
	return t
}

var _ heap.Interface = (*timerHeap)(nil)
