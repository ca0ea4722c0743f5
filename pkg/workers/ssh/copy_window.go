package ssh

import (
	"sync"
	"sync/atomic"
)

// DefaultCopyFilesInFlight is the files of a tree copied at once to one
// node over SFTP when Driver.CopyFilesInFlight is 0.
const DefaultCopyFilesInFlight = 16

// windowUnit is the share of a file in the window: a file takes one
// place per 64 KiB (at least one, at most the whole window), so that the
// bytes in flight to one node stay near 1 MiB with the default window
// (a big file is copied alone, its writes concurrent as before) while
// small files go 16 at a time.
const windowUnit = 64 << 10

// window runs the file copies of a tree walk concurrently, at most size
// places taken at once, and prints their error lines in the order of the
// walk: a file's lines wait for those of every file and directory met
// before it. Only the walking goroutine calls line, start and wait.
type window struct {
	say   func(string)
	size  int
	slots chan struct{}
	wg    sync.WaitGroup
	errs  atomic.Int64
	lost  firstError // the first connection loss of a file copy

	mu      sync.Mutex
	pending []*entryLines // oldest first, not yet printed
}

// entryLines are the error lines of one entry of the walk.
type entryLines struct {
	lines []string
	done  bool
}

func newWindow(size int, say func(string)) *window {
	if size < 1 {
		size = 1
	}
	return &window{say: say, size: size, slots: make(chan struct{}, size)}
}

// line prints a line of the walk itself, after the lines of the files
// still in flight that came before.
func (w *window) line(l string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.pending) == 0 {
		w.say(l)
		return
	}
	w.pending = append(w.pending, &entryLines{lines: []string{l}, done: true})
}

// places is the share of the window a file of size bytes takes.
func (w *window) places(size int64) int {
	n := int(min(size/windowUnit+1, int64(w.size)))
	return max(n, 1)
}

// start runs copy in a goroutine once places of the window are free; its
// lines go to out, printed in turn. A connection loss it returns stops
// the walk (see failure). With a window of one place the copy runs at
// once, on the calling goroutine.
func (w *window) start(places int, copy func(out *entryLines) error) {
	out := &entryLines{}
	w.mu.Lock()
	w.pending = append(w.pending, out)
	w.mu.Unlock()
	for range places {
		w.slots <- struct{}{}
	}
	w.wg.Add(1)
	run := func() {
		defer w.wg.Done()
		err := copy(out)
		for range places {
			<-w.slots
		}
		w.finish(out, err)
	}
	if w.size == 1 {
		run()
		return
	}
	go run()
}

// finish marks out done, keeps err when it is the first connection loss,
// and prints the lines that are now first in turn.
func (w *window) finish(out *entryLines, err error) {
	w.lost.keep(err)
	w.mu.Lock()
	defer w.mu.Unlock()
	out.done = true
	for len(w.pending) > 0 && w.pending[0].done {
		for _, l := range w.pending[0].lines {
			w.say(l)
		}
		w.pending[0] = nil
		w.pending = w.pending[1:]
	}
}

// failure is the connection loss a file copy met, if any: the walk stops
// starting copies then.
func (w *window) failure() error { return w.lost.get() }

// wait waits for the copies in flight, prints their lines, and returns
// the first connection loss.
func (w *window) wait() error {
	w.wg.Wait()
	return w.failure()
}
