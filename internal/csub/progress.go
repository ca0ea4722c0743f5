package csub

// The live progress line, csub's addition to clush's output: on a
// terminal standard error, while a job runs for more than progressDelay,
//
//	csub:  7/20 done, 1 failed, 5 running, 2.9 nodes/s
//
// redrawn every progressEvery and erased before any output line is
// written and at the end, so that it never mixes with the output and is
// never left in a scrollback or a file: it exists only when standard
// error is a terminal (a redirected stderr gets nothing, unlike clush's
// -P counter which the -P option keeps exact). It begins with what clush's
// counter shows ("csub: done/total", same padding), so users of -P or -b
// read the same thing first.
//
// While a job runs with standard input the foreground terminal (and not
// forwarded: clush forwards it only when it is not a terminal), keys are
// read one by one: Ctrl-T prints the folded sets of the nodes in progress
// and of those still pending (BSD's status key; Linux has no SIGINFO),
// Enter prints what clush prints for Enter during a run. After a Ctrl-C,
// the nodes that were running are named below clush's interrupt message,
// since they may have done part of their work, unlike the pending ones.

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Progress line timing: clush's counter first shows after 1.33 s then
// every 1/3 s; a run shorter than about a second gets no line at all.
var (
	progressDelay = time.Second
	progressEvery = 250 * time.Millisecond
)

// Terminal control sequences: carriage return then erase to the end of
// the line (ECMA-48 EL), understood by every terminal csub may run on.
const (
	eraseLine = "\r\x1b[K"
)

// plState is the progress line's state on the terminal.
type plState struct {
	on    bool // the line may be drawn for this job (stderr a terminal, not -q)
	shown bool // drawn and not erased since
}

// wantFlags are the status requests typed during a run.
type wantFlags uint8

const (
	wantStatus    wantFlags = 1 << iota // Ctrl-T: in progress and pending sets
	wantInterrupt                       // Enter: clush's "interrupt (^C to abort task)" first
)

// tracker follows a job's nodes through its events (protocol.Tracker):
// the counts of the progress line and the sets Ctrl-T prints.
type tracker struct {
	nodes  []string
	t      *protocol.Tracker
	began  time.Time
	frozen bool // interrupted: the line is not drawn any more
}

func newTracker(nodes []string, now time.Time) *tracker {
	return &tracker{nodes: nodes, t: protocol.NewTracker(len(nodes)), began: now}
}

func (tr *tracker) record(rec *protocol.Event) { tr.t.Event(rec) }

// line is the progress line's text.
func (tr *tracker) line(now time.Time) string {
	done := tr.t.Count(protocol.PhaseEnded)
	rate := 0.0
	if d := now.Sub(tr.began).Seconds(); d > 0 {
		rate = float64(done) / d
	}
	w := len(strconv.Itoa(len(tr.nodes)))
	return fmt.Sprintf("%s: %*d/%*d done, %d failed, %d running, %.1f nodes/s",
		progName, w, done, w, len(tr.nodes), tr.t.Failed(), tr.t.Count(protocol.PhaseRunning), rate)
}

// set folds the nodes in phase p.
func (tr *tracker) set(p protocol.Phase) *nodeset.NodeSet {
	ns := nodeset.New()
	for _, i := range tr.t.Nodes(p) {
		_ = ns.AddNode(tr.nodes[i]) // names of a parsed set: valid
	}
	return ns
}

// status is what clush prints when Enter is pressed during a run (after
// its "interrupt" line): the nodes in progress, and the pending ones when
// there are any (ttyloop, USER_running).
func (tr *tracker) status() string {
	run, pend := tr.set(protocol.PhaseRunning), tr.set(protocol.PhasePending)
	s := fmt.Sprintf("%s: in progress(%d): %s\n", progName, run.Len(), run)
	if pend.Len() > 0 {
		s += fmt.Sprintf("%s: pending(%d): %s\n", progName, pend.Len(), pend)
	}
	return s
}

// ttyWriter is standard output or error as the output code writes them:
// when the stream shows on the terminal, the progress line is erased
// before each write, and the cursor position is followed.
type ttyWriter struct {
	t *terminal
	w io.Writer
}

func (w *ttyWriter) Write(p []byte) (int, error) {
	t := w.t
	t.mu.Lock()
	defer t.mu.Unlock()
	t.eraseLocked()
	n, err := w.w.Write(p)
	if n > 0 {
		t.bol, t.cr = p[n-1] == '\n', p[n-1] == '\r'
		if t.cr {
			// clush's own counter (-P, or -b/-L: runtimer.go) owns the
			// line: the progress line stands down for this job.
			t.pl.on = false
		}
		t.serveLocked()
	}
	return n, err
}

// wrap returns what to write standard output (stdout set) or error
// through: w itself unless it shows on the terminal of the progress line.
func (t *terminal) wrap(w io.Writer, stdout bool) io.Writer {
	if t == nil || t.errw == nil || stdout && !t.outTTY {
		return w
	}
	return &ttyWriter{t: t, w: w}
}

// begin starts following a job on nodes: the progress line when line is
// set (csub not -q) and stderr is a terminal, and the keys when keys is
// set (not -n: clush does not watch standard input then either) and stdin
// is the foreground terminal too.
func (t *terminal) begin(nodes []string, line, keys bool) {
	if t == nil || t.errw == nil {
		return
	}
	t.end() // a job left unended (cannot happen, but never run two tickers)
	t.mu.Lock()
	now := time.Now
	if t.now != nil {
		now = t.now
	}
	t.tr = newTracker(nodes, now())
	t.pl = plState{on: line}
	t.bol, t.cr, t.want = true, false, 0
	t.mu.Unlock()
	t.ticker = startTicker(t)
	if keys && t.in != nil {
		t.setMode(modeRun)
		t.keys = startKeys(t.in, t.key)
	}
}

// batch follows one batch of the job's stream (before it is rendered).
func (t *terminal) batch(b *protocol.EventBatch) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tr == nil {
		return
	}
	for i := range b.Events {
		t.tr.record(&b.Events[i])
	}
}

// end stops following the job: no more keys, the line erased, the
// terminal as it was.
func (t *terminal) end() {
	if t == nil {
		return
	}
	t.keys.stop()
	t.keys = nil
	t.ticker.stop()
	t.ticker = nil
	t.mu.Lock()
	t.eraseLocked()
	t.tr = nil
	t.mu.Unlock()
	t.setMode(modeOrig)
}

// running is called on a Ctrl-C, before the job is cancelled: it stops
// the progress line and returns the nodes running at that moment, for
// printRunning. It returns nil without a terminal stderr, and when no
// node was pending: the running ones are then exactly those clush's
// message says did not complete.
func (t *terminal) running() *nodeset.NodeSet {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tr == nil {
		return nil
	}
	t.tr.frozen = true
	t.eraseLocked()
	if t.tr.t.Count(protocol.PhasePending) == 0 {
		return nil
	}
	return t.tr.set(protocol.PhaseRunning)
}

// printRunning names the nodes a Ctrl-C stopped while they ran, after
// clush's "Keyboard interrupt (<nodes> did not complete)." line.
func (t *terminal) printRunning(ns *nodeset.NodeSet) {
	if t == nil || ns == nil || ns.Len() == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.eraseLocked()
	fmt.Fprintf(t.errw, "%s: %s (%d): running when interrupted\n", progName, ns, ns.Len())
	t.bol = true
}

// lineStart ends the line the cursor is on, if any, before a prompt: the
// last output may be clush's counter ending with '\r' (clush ends it
// with '\n' instead in interactive mode), which the prompt would
// overwrite.
func (t *terminal) lineStart() {
	if t == nil || t.errw == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.bol {
		_, _ = io.WriteString(t.errw, "\n")
		t.bol, t.cr = true, false
	}
}

// key handles a key typed during a run (the key reader's goroutine).
func (t *terminal) key(c byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch c {
	case keyStatus:
		t.want |= wantStatus
	case keyCR, keyNL:
		t.want |= wantInterrupt | wantStatus
	default:
		return // typed ahead: dropped, as clush drops lines typed during a run
	}
	t.serveLocked()
}

// serveLocked prints the status requests typed so far, once the cursor
// is at the start of a line (a status never cuts an output line).
func (t *terminal) serveLocked() {
	if t.want == 0 || !t.bol && !t.cr || t.tr == nil {
		return
	}
	t.eraseLocked()
	s := t.tr.status()
	if t.cr {
		s = "\x1b[K" + s // over clush's counter
	}
	if t.want&wantInterrupt != 0 {
		s = progName + ": interrupt (^C to abort task)\n" + s
	}
	t.want = 0
	_, _ = io.WriteString(t.errw, s)
	t.bol, t.cr = true, false
}

// eraseLocked erases the progress line if it is shown.
func (t *terminal) eraseLocked() {
	if t.pl.shown {
		_, _ = io.WriteString(t.errw, eraseLine)
		t.pl.shown = false
	}
}

// drawLocked draws the progress line, cut to the terminal's width (a line
// that wrapped could not be erased).
func (t *terminal) drawLocked(now time.Time) {
	tr := t.tr
	if tr == nil || tr.frozen || !t.pl.on || !t.bol || now.Sub(tr.began) < progressDelay {
		return
	}
	s := tr.line(now)
	if w := t.columns(); w > 1 && len(s) > w-1 {
		s = s[:w-1]
	}
	_, _ = io.WriteString(t.errw, "\r"+s+"\x1b[K")
	t.pl.shown = true
}

// columns is the width of stderr's terminal (80 if unknown).
func (t *terminal) columns() int {
	if t.errFd >= 0 {
		if ws, err := unix.IoctlGetWinsize(t.errFd, unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
			return int(ws.Col)
		}
	}
	return 80
}

// ticker redraws the progress line and serves pending status requests.
type ticker struct {
	quit, done chan struct{}
}

func startTicker(t *terminal) *ticker {
	tk := &ticker{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(tk.done)
		tm := time.NewTicker(progressEvery)
		defer tm.Stop()
		for {
			select {
			case <-tk.quit:
				return
			case now := <-tm.C:
				t.tick(now)
			}
		}
	}()
	return tk
}

// tick is one beat of the ticker at time now: pending status requests,
// then the progress line.
func (t *terminal) tick(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.serveLocked()
	t.drawLocked(now)
}

func (tk *ticker) stop() {
	if tk == nil {
		return
	}
	close(tk.quit)
	<-tk.done
}
