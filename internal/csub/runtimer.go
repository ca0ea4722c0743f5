package csub

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// clush's progress counter (RunTimer): "csub: <done>/<total>\r" on
// standard error, first after 1.33 s then every 1/3 s when the count
// changed, erased with spaces before output and finalized at the end as
// "csub: <total>/<total>\r". clush shows it when gathering (-b, -L) at
// verbosity std or verbose, with -P at any verbosity but quiet, and for
// copies; it writes it whether or not standard error is a terminal, and
// so does csub (the live progress line of a terminal is progress.go's).
// Once the nodes' commands have taken some of the forwarded standard
// input, it shows at every tick, with " write: <rate>/s" added: the bytes
// all the nodes took (the agents' KindWritten records) over the time since
// the job started, in clush's human_bi_bytes_unit.

// Timing of the counter (RunTimer's timer: 1.33 s, then 1/3 s).
const (
	runTimerDelay    = 1330 * time.Millisecond
	runTimerInterval = time.Second / 3
)

// runTimer is the counter of one command (or of all the jobs of a copy).
// Its mutex is held by the renderer while it renders a batch, so that
// the counter never cuts an output line.
type runTimer struct {
	mu       sync.Mutex
	o        *outputs
	total    int
	done     func() int // nodes finished (called with mu held)
	tslen    int
	cntLast  int // nodes left at the last display; -1: display again
	wholelen int // length of the counter on screen (0: erased)
	started  bool
	stopped  bool
	quit     chan struct{}
	begun    time.Time // clush's start_time: the job's start
	written  uint64    // standard input bytes the nodes took (clush's bytes_written)
}

// wantRunTimer tells whether clush would start its counter for a command
// (copy false) or a copy.
func (d *display) wantRunTimer(copy bool) bool {
	std := d.verbosity == verbStd || d.verbosity == verbVerb
	if copy {
		return std
	}
	if d.gather || d.lineMode {
		return std || d.progress && d.verbosity > verbQuiet
	}
	return d.progress && d.verbosity > verbQuiet
}

// startRunTimer starts d's counter: first after d.timerDelay (clush's
// 1.33 s when zero), then every 1/3 s.
func startRunTimer(d *display, total int, done func() int) *runTimer {
	delay := d.timerDelay
	if delay == 0 {
		delay = runTimerDelay
	}
	return newRunTimer(d.o, total, done, delay, runTimerInterval)
}

// newRunTimer starts a counter that first shows after delay, then every
// interval.
func newRunTimer(o *outputs, total int, done func() int, delay, interval time.Duration) *runTimer {
	t := &runTimer{o: o, total: total, done: done, tslen: len(fmt.Sprint(total)), cntLast: -1, quit: make(chan struct{}),
		begun: time.Now()}
	go func() {
		wait := delay
		for {
			select {
			case <-t.quit:
				return
			case <-time.After(wait):
			}
			wait = interval
			t.mu.Lock()
			if !t.stopped {
				t.update()
				_ = t.o.flush()
			}
			t.mu.Unlock()
		}
	}()
	return t
}

func (t *runTimer) update() {
	t.show(t.total-t.done(), time.Since(t.begun))
}

// show displays the counter with cnt nodes left, elapsed since the start.
func (t *runTimer) show(cnt int, elapsed time.Duration) {
	write := ""
	if t.written > 0 {
		write = " write: " + humanBiBytes(float64(t.written)/max(elapsed.Seconds(), 1e-9)) + "/s"
	}
	if t.written == 0 && cnt == t.cntLast {
		return
	}
	t.cntLast = cnt
	s := fmt.Sprintf("%s: %*d/%*d%s\r", progName, t.tslen, t.total-cnt, t.tslen, t.total, write)
	t.wholelen = len(s)
	t.o.stderr().WriteString(s)
	t.started = true
}

// clean erases the counter (RunTimer.erase_line).
func (t *runTimer) clean() {
	if t.wholelen > 0 {
		t.o.stderr().WriteString(strings.Repeat(" ", t.wholelen) + "\r")
		t.wholelen = 0
	}
}

// dirty makes the next tick display the counter again.
func (t *runTimer) dirty() { t.cntLast = -1 }

// finalize stops the counter and, if it was shown, displays the total.
func (t *runTimer) finalize() {
	if t.halt(); !t.started {
		return
	}
	t.clean()
	fmt.Fprintf(t.o.stderr(), "%s: %*d/%*d\r", progName, t.tslen, t.total, t.tslen, t.total)
}

// halt stops the counter as it is (mu held).
func (t *runTimer) halt() {
	if !t.stopped {
		t.stopped = true
		close(t.quit)
	}
}

// The renderer's side: the handlers call these where clush's handlers
// call _runtimer_clean, _runtimer_set_dirty and _runtimer_finalize; they
// do nothing without a counter.

// humanBiBytes is ClusterShell's human_bi_bytes_unit: a byte count
// with a binary prefix.
func humanBiBytes(v float64) string {
	const kibi = 1024
	for _, u := range []struct {
		f    float64
		name string
	}{{kibi * kibi * kibi * kibi, "TiB"}, {kibi * kibi * kibi, "GiB"}, {kibi * kibi, "MiB"}, {kibi, "KiB"}} {
		if v >= u.f {
			return fmt.Sprintf("%.2f %s", v/u.f, u.name)
		}
	}
	return fmt.Sprintf("%d B", int64(v)) // Python's "%d" truncates
}

// progressWritten counts n bytes of standard input the nodes took (the
// renderer holds the counter's lock).
func (r *renderer) progressWritten(n uint64) {
	if r.timer != nil {
		r.timer.written += n
	}
}

func (r *renderer) progressClean() {
	if r.timer != nil {
		r.timer.clean()
	}
}

func (r *renderer) progressDirty() {
	if r.timer != nil {
		r.timer.dirty()
	}
}

func (r *renderer) progressFinalize() {
	if r.timer != nil {
		r.timer.finalize()
	}
}

// lock and unlock hold the counter off while the renderer writes.
func (r *renderer) lock() {
	if r.timer != nil {
		r.timer.mu.Lock()
	}
}

func (r *renderer) unlock() {
	if r.timer != nil {
		r.timer.mu.Unlock()
	}
}
