package engine

import (
	"container/heap"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

// fanoutGroup is a window of concurrently running jobs: the task's default
// one, shared by all workers as in ClusterShell, or a worker's own.
type fanoutGroup struct {
	limit   func() int
	running int
	queue   []*job
	head    int
}

// loop is the task's event loop state. Everything here is touched only by
// the goroutine running the loop (inside Resume), or by control functions
// posted to it.
type loop struct {
	t        *Task
	workers  []*Worker
	defGroup *fanoutGroup
	groups   []*fanoutGroup
	running  int // job goroutines alive
	pending  int // jobs waiting for the fanout
	timers   timerHeap
	active   int // armed timers that keep the loop alive
	seq      uint64
	ctx      context.Context
	stop     context.CancelFunc
}

func newLoop(t *Task) *loop {
	l := &loop{t: t}
	l.defGroup = &fanoutGroup{limit: func() int { return max(1, t.infoInt(InfoFanout, 64)) }}
	l.groups = []*fanoutGroup{l.defGroup}
	l.ctx, l.stop = context.WithCancel(context.Background())
	return l
}

func (l *loop) run(ctx context.Context, timeout time.Duration) error {
	t := l.t
	if l.ctx.Err() != nil {
		l.ctx, l.stop = context.WithCancel(context.Background())
	}
	var deadline <-chan time.Time
	if timeout > 0 {
		tm := time.NewTimer(timeout)
		defer tm.Stop()
		deadline = tm.C
	}
	done := ctx.Done()
	wakeTimer := time.NewTimer(time.Hour)
	defer wakeTimer.Stop()
	var err error
	for {
		for _, f := range t.takeQueue() {
			f()
		}
		l.startPending()
		next := l.fireTimers()
		if l.running == 0 && l.pending == 0 && l.active == 0 {
			t.mu.Lock()
			more := len(t.queue) > 0
			t.mu.Unlock()
			if !more {
				return err
			}
			continue
		}
		var timerC <-chan time.Time
		if !next.IsZero() {
			wakeTimer.Reset(time.Until(next))
			timerC = wakeTimer.C
		}
		select {
		case f := <-t.events:
			f()
			// Deliver what is already there before looking at anything
			// else: output comes in bursts.
			for i := 0; i < 256; i++ {
				select {
				case f := <-t.events:
					f()
					continue
				default:
				}
				break
			}
		case <-t.wake:
		case <-timerC:
		case <-deadline:
			deadline = nil
			err = ErrTimeout
			l.abortAll(false)
		case <-done:
			done = nil
			err = ctx.Err()
			l.abortAll(false)
		}
	}
}

func (l *loop) schedule(w *Worker) {
	if w.scheduled {
		return
	}
	w.scheduled = true
	l.workers = append(l.workers, w)
	w.remaining = len(w.keys)
	if gd, ok := w.driver.(GroupDriver); ok {
		l.startGroup(w, gd)
		return
	}
	grp := l.defGroup
	if w.fanout > 0 {
		n := w.fanout
		grp = &fanoutGroup{limit: func() int { return n }}
		l.groups = append(l.groups, grp)
	}
	for i, k := range w.keys {
		j := &job{w: w, key: k, rank: i, group: grp}
		w.jobs = append(w.jobs, j)
		grp.queue = append(grp.queue, j)
		l.pending++
	}
	if w.remaining == 0 {
		w.closed = true
		w.handler.OnClose(w, false)
	}
}

func (l *loop) startPending() {
	// The drivers start once every job of the pass has its stdin reader:
	// a fast first node must not let the stdin window drop what the next
	// ones have not read yet (see stdinBuf.writeWait).
	var launch []func()
	defer func() {
		for _, f := range launch {
			f()
		}
	}()
	for _, g := range l.groups {
		for g.head < len(g.queue) && g.running < g.limit() {
			j := g.queue[g.head]
			g.queue[g.head] = nil
			g.head++
			l.pending--
			if j.w.aborted {
				continue
			}
			launch = append(launch, l.start(j))
		}
		if g.head == len(g.queue) {
			g.queue, g.head = g.queue[:0], 0
		}
	}
}

func (l *loop) jobSpec(w *Worker, node string, rank int) *Job {
	t := l.t
	job := &Job{Node: node, Nodes: w.nodes, Rank: rank, Command: w.command,
		ConnectTimeout: t.infoDuration(InfoConnectTimeout), Info: t.Info, Debug: t.debugFunc(), Observe: w.observe}
	if w.copy != nil {
		cp := *w.copy
		if cp.Reverse {
			cp.Dest = RcopyDest(cp.Dest, cp.Source, node)
		}
		job.Copy = &cp
	}
	return job
}

// start starts job j and returns the function that runs its driver.
func (l *loop) start(j *job) (launch func()) {
	t, w := l.t, j.w
	j.group.running++
	l.running++
	j.running = true
	if !w.started {
		w.started = true
		w.handler.OnStart(w)
	}
	w.handler.OnPickup(w, j.key)
	var ctx context.Context
	if w.timeout > 0 {
		ctx, j.cancel = context.WithTimeout(l.ctx, w.timeout)
	} else {
		ctx, j.cancel = context.WithCancel(l.ctx)
	}
	spec := l.jobSpec(w, j.key, j.rank)
	// With debug on, each line read is printed first (debug.go).
	debug := func(closing bool) func(string) {
		if closing {
			return nil
		}
		return spec.Debug
	}
	// The job's two writers share a lock and, under Options.MaxOutput,
	// one count of their bytes.
	var mu sync.Mutex
	var oc *outputCap
	if w.maxOutput > 0 {
		oc = newOutputCap(w.maxOutput, func() { l.postCut(j, w.maxOutput) })
	}
	out := newLineWriter(&mu, oc, func(lines [][]byte, closing bool) { l.postLines(j.w, j.key, Stdout, lines, debug(closing)) })
	spec.Stdout = out
	var errw *lineWriter
	if w.stderr {
		errw = newLineWriter(&mu, oc, func(lines [][]byte, closing bool) { l.postLines(j.w, j.key, Stderr, lines, debug(closing)) })
		spec.Stderr = errw
	}
	var stdin *stdinReader
	var stdinErr error
	if w.stdin != nil {
		stdin, stdinErr = w.stdin.reader(ctx, func(n int) {
			// A driver may still be copying stdin when its job ends: such
			// late reports are dropped, here or on the loop.
			if j.finished.Load() {
				return
			}
			t.events <- func() {
				if !w.aborted && !j.done {
					w.handler.OnWritten(w, j.key, Stdin, n)
				}
			}
		})
		if stdin != nil {
			spec.Stdin = stdin
		}
	}
	return func() { go l.runJob(ctx, j, spec, stdin, stdinErr, out, errw) }
}

// runJob runs job j's driver (on its own goroutine) and posts its end.
func (l *loop) runJob(ctx context.Context, j *job, spec *Job, stdin *stdinReader, stdinErr error, out, errw *lineWriter) {
	w := j.w
	var res Result
	if stdinErr != nil {
		// Its standard input cannot be given whole: do not run it.
		res = Result{ExitCode: 255, Err: &NodeError{Node: j.key, Reason: ReasonLocal, Err: stdinErr}}
	} else {
		res = w.driver.Run(ctx, spec)
	}
	if stdin != nil {
		w.stdin.release(stdin)
	}
	j.finished.Store(true)
	out.flush()
	if errw != nil {
		errw.flush()
	}
	cerr := ctx.Err()
	l.t.events <- func() { l.finish(j, res, cerr) }
}

// startGroup runs a GroupDriver's single process for the whole worker.
func (l *loop) startGroup(w *Worker, gd GroupDriver) {
	t := l.t
	l.running++
	w.started = true
	w.handler.OnStart(w)
	for _, n := range w.nodes {
		w.handler.OnPickup(w, n)
	}
	ctx, cancel := context.WithCancel(l.ctx)
	gj := &GroupJob{Nodes: w.nodes, Command: w.command, Copy: w.copy, Fanout: t.infoInt(InfoFanout, 64),
		ConnectTimeout: t.infoDuration(InfoConnectTimeout), CommandTimeout: w.timeout, Info: t.Info, Debug: t.debugFunc()}
	var caps *groupCaps
	if w.maxOutput > 0 {
		caps = &groupCaps{limit: w.maxOutput, used: make(map[string]int64)}
	}
	gj.Line = func(node string, stream Stream, line []byte) {
		keep, cut := caps.take(node, line)
		if keep != nil {
			l.postLines(w, node, stream, [][]byte{append([]byte(nil), keep...)}, nil)
		}
		if cut {
			l.postCutNode(w, node, w.maxOutput)
		}
	}
	go func() {
		res := gd.RunGroup(ctx, gj)
		t.events <- func() {
			cancel()
			l.running--
			if w.aborted {
				return
			}
			for _, n := range w.nodes {
				r, ok := res[n]
				if !ok {
					r = Result{ExitCode: 0}
				}
				l.hup(w, n, r)
			}
		}
	}()
}

// postLines hands lines read by a driver to the loop, waiting while too
// much output is already waiting for it (from the driver's goroutine).
// debug, when not nil, gets each line's debug line first.
func (l *loop) postLines(w *Worker, node string, stream Stream, lines [][]byte, debug func(string)) {
	n := linesCost(lines)
	l.t.output.acquire(n)
	l.t.events <- func() {
		l.read(w, node, stream, lines, debug)
		l.t.output.release(n)
	}
}

// postCut tells the handler that job j's output was cut (from the
// driver's goroutine, after the lines before the cut).
func (l *loop) postCut(j *job, limit int64) {
	l.t.events <- func() {
		if !j.done {
			l.cut(j.w, j.key, limit)
		}
	}
}

// postCutNode is postCut for a node of a GroupDriver's worker.
func (l *loop) postCutNode(w *Worker, node string, limit int64) {
	l.t.events <- func() { l.cut(w, node, limit) }
}

func (l *loop) cut(w *Worker, node string, limit int64) {
	if w.aborted {
		return
	}
	if h, ok := w.handler.(OutputCutter); ok {
		h.OnOutputCut(w, node, limit)
	}
}

// read hands lines read from node to w. With the task info "debug" on,
// ClusterShell's per-node clients (exec, ssh, rsh: ExecClient and its
// subclasses) print through print_debug, before handing each line read to
// the worker, "<key>: <line>" with the line as a Python bytes literal
// ("node1: b'ok'"). read does the same just before OnRead, in the same order
// as the lines, for every driver but a GroupDriver (pdsh prints its own raw
// lines). A last line without line ending, delivered when the stream
// closes, gets none, as in ClusterShell (_flush_read).
func (l *loop) read(w *Worker, node string, stream Stream, lines [][]byte, debug func(string)) {
	if w.aborted {
		return
	}
	res := l.t.res
	key := resKey{w, node}
	for _, line := range lines {
		if debug != nil {
			debug(node + ": " + pyfmt.ReprBytes(line))
		}
		switch {
		case stream == Stdout && res.keepOut:
			res.out.Add(key, line)
		case stream == Stderr && res.keepErr:
			res.err.Add(key, line)
		}
		w.handler.OnRead(w, node, stream, line)
	}
}

func (l *loop) finish(j *job, r Result, cerr error) {
	j.group.running--
	l.running--
	j.running = false
	j.done = true
	j.cancel()
	w := j.w
	if w.aborted {
		return
	}
	if errors.Is(cerr, context.DeadlineExceeded) {
		key := resKey{w, j.key}
		l.t.res.timeouts = append(l.t.res.timeouts, key)
		ne := &NodeError{Node: j.key, Reason: ReasonCommandTimeout}
		var stop *RemoteStop
		if errors.As(r.Err, &stop) {
			ne.Err = stop // whether the command is gone from the node
		}
		l.t.res.fail[key] = ne
		w.timedout = true
		w.handler.OnTimeout(w, j.key)
		l.workerDone(w)
		return
	}
	l.hup(w, j.key, r)
}

func (l *loop) hup(w *Worker, node string, r Result) {
	key := resKey{w, node}
	var err error
	if r.Err != nil {
		var ne *NodeError
		if !errors.As(r.Err, &ne) {
			ne = &NodeError{Node: node, Reason: ReasonLocal, Err: r.Err}
		}
		l.t.res.fail[key] = ne
		err = ne
	}
	l.t.res.rc[key] = r.ExitCode
	w.handler.OnHup(w, node, r.ExitCode, err)
	l.workerDone(w)
}

func (l *loop) workerDone(w *Worker) {
	w.remaining--
	if w.remaining == 0 && !w.closed {
		w.closed = true
		if w.stdin != nil {
			w.stdin.finish()
		}
		w.handler.OnClose(w, w.timedout)
	}
}

func (l *loop) abortWorker(w *Worker) {
	if w.aborted || w.closed {
		return
	}
	w.aborted = true
	if w.stdin != nil {
		w.stdin.finish()
	}
	for _, j := range w.jobs {
		if j.running {
			j.cancel()
		}
	}
}

// abortAll stops every worker and timer; clear also drops the results
// (Task.Abort), a run timeout keeps them.
func (l *loop) abortAll(clear bool) {
	for _, w := range l.workers {
		l.abortWorker(w)
	}
	l.stop()
	for len(l.timers) > 0 {
		l.cancelTimer(l.timers[0])
	}
	if clear {
		l.t.res.reset()
	}
}

func (l *loop) armTimer(tm *Timer, fire, interval time.Duration) {
	tm.task.mu.Lock()
	tm.valid = true
	tm.task.mu.Unlock()
	tm.next = time.Now().Add(fire)
	tm.interval = interval
	l.seq++
	tm.seq = l.seq
	if tm.armed {
		heap.Fix(&l.timers, tm.index)
		return
	}
	tm.armed = true
	heap.Push(&l.timers, tm)
	if !tm.autoclose {
		l.active++
	}
}

func (l *loop) cancelTimer(tm *Timer) {
	tm.task.mu.Lock()
	tm.valid = false
	tm.task.mu.Unlock()
	if !tm.armed {
		return
	}
	heap.Remove(&l.timers, tm.index)
	tm.armed = false
	if !tm.autoclose {
		l.active--
	}
}

// fireTimers runs the timers that are due and returns when the next one
// is, zero if none.
func (l *loop) fireTimers() time.Time {
	for len(l.timers) > 0 {
		tm := l.timers[0]
		now := time.Now()
		if tm.next.After(now) {
			return tm.next
		}
		if tm.interval > 0 {
			tm.next = tm.next.Add(tm.interval)
			if tm.next.Before(now) {
				tm.next = now.Add(tm.interval)
			}
			heap.Fix(&l.timers, 0)
		} else {
			l.cancelTimer(tm)
		}
		if tm.handler != nil {
			tm.handler.OnTimer(tm)
		}
	}
	return time.Time{}
}
