package engine

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// funcDriver runs a Go function per job: the engine's own tests need
// control over timing that a real command cannot give. The drivers
// themselves are tested against real processes and SSH servers in
// pkg/workers.
type funcDriver struct {
	run     func(ctx context.Context, j *Job) Result
	active  atomic.Int32
	maxSeen atomic.Int32
}

func (d *funcDriver) Name() string { return "func" }

func (d *funcDriver) Run(ctx context.Context, j *Job) Result {
	n := d.active.Add(1)
	for {
		m := d.maxSeen.Load()
		if n <= m || d.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	defer d.active.Add(-1)
	return d.run(ctx, j)
}

// echoDriver prints "<node> says hi" and exits with the node's index % 3.
func echoDriver() *funcDriver {
	return &funcDriver{run: func(ctx context.Context, j *Job) Result {
		fmt.Fprintf(j.Stdout, "%s says hi\nsame line\n", j.Node)
		if j.Stderr != nil {
			fmt.Fprintf(j.Stderr, "err-%s\n", j.Node)
		}
		return Result{ExitCode: j.Rank % 3}
	}}
}

type recorder struct {
	Handler
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf(format, args...))
}

func (r *recorder) OnStart(w *Worker)               { r.add("start") }
func (r *recorder) OnPickup(w *Worker, node string) { r.add("pickup %s", node) }
func (r *recorder) OnRead(w *Worker, node string, s Stream, line []byte) {
	r.add("read %s %s %s", node, s, line)
}
func (r *recorder) OnHup(w *Worker, node string, rc int, err error) {
	r.add("hup %s %d %v", node, rc, err)
}
func (r *recorder) OnTimeout(w *Worker, node string) { r.add("timeout %s", node) }
func (r *recorder) OnClose(w *Worker, timedout bool) { r.add("close %v", timedout) }
func (r *recorder) OnTimer(tm *Timer)                { r.add("timer") }

func TestShellEventsAndResults(t *testing.T) {
	task := New()
	rec := &recorder{}
	w, err := task.Shell("x", Options{Nodes: nodeset.MustParse("n[1-3]"), Handler: rec, Driver: echoDriver(), Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Resume(0); err != nil {
		t.Fatal(err)
	}
	if rec.events[0] != "start" || rec.events[len(rec.events)-1] != "close false" {
		t.Fatalf("events = %q", rec.events)
	}
	for _, n := range []string{"n1", "n2", "n3"} {
		for _, want := range []string{"pickup " + n, "read " + n + " stdout " + n + " says hi", "read " + n + " stderr err-" + n} {
			if !slices.Contains(rec.events, want) {
				t.Errorf("missing event %q in %q", want, rec.events)
			}
		}
	}
	if got := string(task.NodeBuffer("n2")); got != "n2 says hi\nsame line" {
		t.Errorf("NodeBuffer(n2) = %q", got)
	}
	if got := string(w.NodeError("n3")); got != "err-n3" {
		t.Errorf("NodeError(n3) = %q", got)
	}
	if rc, ok := task.MaxRetcode(); !ok || rc != 2 {
		t.Errorf("MaxRetcode = %d, %v", rc, ok)
	}
	var rcs []string
	for rc, ns := range task.IterRetcodes() {
		rcs = append(rcs, fmt.Sprintf("%d:%s", rc, ns))
	}
	if got := strings.Join(rcs, " "); got != "0:n1 1:n2 2:n3" {
		t.Errorf("IterRetcodes = %s", got)
	}
}

func TestGatheredStoresIdenticalOutputOnce(t *testing.T) {
	task := New()
	d := &funcDriver{run: func(ctx context.Context, j *Job) Result {
		io.WriteString(j.Stdout, "same\noutput\n")
		if j.Node == "n5" {
			io.WriteString(j.Stdout, "extra\n")
		}
		return Result{}
	}}
	if _, err := task.Run("x", Options{Nodes: nodeset.MustParse("n[1-10]"), Driver: d}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for msg, ns := range task.IterBuffers() {
		got = append(got, fmt.Sprintf("%s=%q", ns, msg))
	}
	want := []string{`n[1-4,6-10]="same\noutput"`, `n5="same\noutput\nextra"`}
	if !slices.Equal(got, want) {
		t.Errorf("IterBuffers = %q, want %q", got, want)
	}
	g := task.Gathered()
	if len(g) != 2 || g[0].Nodes.String() != "n[1-4,6-10]" {
		t.Errorf("Gathered = %+v", g)
	}
}

func TestFanoutIsRespected(t *testing.T) {
	for _, fanout := range []int{1, 4, 64} {
		task := New()
		task.SetInfo(InfoFanout, fanout)
		d := &funcDriver{run: func(ctx context.Context, j *Job) Result {
			time.Sleep(time.Millisecond)
			return Result{}
		}}
		if _, err := task.Run("x", Options{Nodes: nodeset.MustParse("n[1-200]"), Driver: d}); err != nil {
			t.Fatal(err)
		}
		if m := d.maxSeen.Load(); int(m) > fanout {
			t.Errorf("fanout %d: %d jobs ran at once", fanout, m)
		}
		if m := d.maxSeen.Load(); fanout > 1 && m < 2 {
			t.Errorf("fanout %d: never more than %d job at once", fanout, m)
		}
	}
}

func TestWorkerFanoutOverride(t *testing.T) {
	task := New()
	task.SetInfo(InfoFanout, 2)
	d := &funcDriver{run: func(ctx context.Context, j *Job) Result {
		time.Sleep(2 * time.Millisecond)
		return Result{}
	}}
	if _, err := task.Run("x", Options{Nodes: nodeset.MustParse("n[1-50]"), Driver: d, Fanout: 10}); err != nil {
		t.Fatal(err)
	}
	if m := d.maxSeen.Load(); m > 10 || m <= 2 {
		t.Errorf("worker fanout 10 over task fanout 2: max %d at once", m)
	}
}

func TestSlowNodeDoesNotDelayOthers(t *testing.T) {
	task := New()
	release := make(chan struct{})
	d := &funcDriver{run: func(ctx context.Context, j *Job) Result {
		if j.Node == "slow" {
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		return Result{}
	}}
	var fastDone []string
	h := &hupFunc{f: func(node string) {
		if node != "slow" {
			fastDone = append(fastDone, node)
			if len(fastDone) == 9 {
				close(release)
			}
		}
	}}
	if _, err := task.Run("x", Options{Nodes: nodeset.MustParse("slow,n[1-9]"), Driver: d, Handler: h}); err != nil {
		t.Fatal(err)
	}
	if len(fastDone) != 9 {
		t.Fatalf("fast nodes done = %v", fastDone)
	}
}

type hupFunc struct {
	Handler
	f func(node string)
}

func (h *hupFunc) OnHup(w *Worker, node string, rc int, err error) { h.f(node) }

func TestCommandTimeout(t *testing.T) {
	task := New()
	rec := &recorder{}
	d := &funcDriver{run: func(ctx context.Context, j *Job) Result {
		if j.Node == "hung" {
			<-ctx.Done()
			return Result{ExitCode: 137, Err: ctx.Err()}
		}
		return Result{}
	}}
	w, err := task.Shell("x", Options{Nodes: nodeset.MustParse("hung,ok"), Driver: d, Handler: rec, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Resume(0); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(rec.events, "timeout hung") || !slices.Contains(rec.events, "close true") {
		t.Errorf("events = %q", rec.events)
	}
	if _, ok := task.NodeRetcode("hung"); ok {
		t.Error("timed out node has an exit status")
	}
	if task.NumTimeout() != 1 || !slices.Equal(task.KeysTimeout(), []string{"hung"}) || !w.DidTimeout() {
		t.Errorf("timeouts = %v", task.KeysTimeout())
	}
	if ReasonOf(w.NodeFailure("hung")) != ReasonCommandTimeout {
		t.Errorf("failure = %v", w.NodeFailure("hung"))
	}
}

func TestResumeTimeoutCleansUp(t *testing.T) {
	task := New()
	var killed atomic.Int32
	d := &funcDriver{run: func(ctx context.Context, j *Job) Result {
		<-ctx.Done()
		killed.Add(1)
		return Result{ExitCode: 137, Err: ctx.Err()}
	}}
	if _, err := task.Shell("x", Options{Nodes: nodeset.MustParse("n[1-5]"), Driver: d}); err != nil {
		t.Fatal(err)
	}
	task.Timer(time.Hour, 0, Handler{}, false)
	start := time.Now()
	if err := task.Resume(100 * time.Millisecond); err != ErrTimeout {
		t.Fatalf("Resume = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Resume took %v", d)
	}
	if killed.Load() != 5 {
		t.Errorf("%d jobs stopped, want 5", killed.Load())
	}
	// The task can run again.
	if _, err := task.Run("x", Options{Nodes: nodeset.MustParse("m1"), Driver: echoDriver()}); err != nil {
		t.Fatal(err)
	}
	if got := string(task.NodeBuffer("m1")); !strings.HasPrefix(got, "m1 says hi") {
		t.Errorf("second run output %q", got)
	}
}

type timerCounter struct {
	Handler
	n     int
	every func(tm *Timer, n int)
}

func (c *timerCounter) OnTimer(tm *Timer) {
	c.n++
	if c.every != nil {
		c.every(tm, c.n)
	}
}

func TestTimers(t *testing.T) {
	task := New()
	once := &timerCounter{}
	task.Timer(10*time.Millisecond, 0, once, false)
	rep := &timerCounter{every: func(tm *Timer, n int) {
		if n == 3 {
			tm.Invalidate()
		}
	}}
	task.Timer(time.Millisecond, 5*time.Millisecond, rep, false)
	rearm := &timerCounter{every: func(tm *Timer, n int) {
		if n < 2 {
			tm.SetNextFire(time.Millisecond, 0)
		}
	}}
	task.Timer(time.Millisecond, 0, rearm, false)
	if err := task.Resume(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if once.n != 1 || rep.n != 3 || rearm.n != 2 {
		t.Errorf("fired: once %d (want 1), repeating %d (want 3), re-armed %d (want 2)", once.n, rep.n, rearm.n)
	}
}

func TestAbortFromAnotherGoroutine(t *testing.T) {
	task := New()
	started := make(chan struct{}, 10)
	d := &funcDriver{run: func(ctx context.Context, j *Job) Result {
		started <- struct{}{}
		<-ctx.Done()
		return Result{ExitCode: 137, Err: ctx.Err()}
	}}
	if _, err := task.Shell("x", Options{Nodes: nodeset.MustParse("n[1-3]"), Driver: d}); err != nil {
		t.Fatal(err)
	}
	go func() {
		<-started
		task.Abort()
	}()
	if err := task.Resume(10 * time.Second); err != nil {
		t.Fatalf("Resume after Abort = %v", err)
	}
}

func TestStdinReachesNodesStartedLater(t *testing.T) {
	task := New()
	task.SetInfo(InfoFanout, 1)
	d := &funcDriver{run: func(ctx context.Context, j *Job) Result {
		b, err := io.ReadAll(j.Stdin)
		if err != nil {
			return Result{ExitCode: 1, Err: err}
		}
		fmt.Fprintf(j.Stdout, "%s got %q\n", j.Node, b)
		return Result{}
	}}
	w, err := task.Shell("x", Options{Nodes: nodeset.MustParse("n[1-3]"), Driver: d, StdinOpen: true})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("data\n"))
	w.SetWriteEOF()
	if err := task.Resume(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"n1", "n2", "n3"} {
		if got, want := string(task.NodeBuffer(n)), n+` got "data\n"`; got != want {
			t.Errorf("%s: %q, want %q", n, got, want)
		}
	}
}

type chainer struct {
	Handler
	d    Driver
	next bool
}

func (c *chainer) OnClose(w *Worker, timedout bool) {
	if !c.next {
		c.next = true
		w.Task().Shell("y", Options{Nodes: nodeset.MustParse("b1"), Driver: c.d, Handler: c})
	}
}

func TestShellFromHandlerAndResultsReset(t *testing.T) {
	task := New()
	d := echoDriver()
	c := &chainer{d: d}
	if _, err := task.Run("x", Options{Nodes: nodeset.MustParse("a1"), Driver: d, Handler: c}); err != nil {
		t.Fatal(err)
	}
	if task.NodeBuffer("b1") == nil || task.NodeBuffer("a1") == nil {
		t.Fatal("worker scheduled from a handler did not run in the same run")
	}
	if _, err := task.Run("x", Options{Nodes: nodeset.MustParse("c1"), Driver: d}); err != nil {
		t.Fatal(err)
	}
	if task.NodeBuffer("a1") != nil {
		t.Error("results of the previous run were not cleared by Resume")
	}
}

func TestFailureReason(t *testing.T) {
	task := New()
	d := &funcDriver{run: func(ctx context.Context, j *Job) Result {
		fmt.Fprintf(j.Stdout, "ssh: connect to host %s port 22: Connection refused\n", j.Node)
		return Result{ExitCode: 255, Err: &NodeError{Node: j.Node, Reason: ReasonConnectRefused}}
	}}
	rec := &recorder{}
	w, err := task.Run("x", Options{Nodes: nodeset.MustParse("down1"), Driver: d, Handler: rec})
	if err != nil {
		t.Fatal(err)
	}
	if rc, _ := task.NodeRetcode("down1"); rc != 255 || ReasonOf(w.NodeFailure("down1")) != ReasonConnectRefused {
		t.Errorf("rc %d failure %v", rc, w.NodeFailure("down1"))
	}
}

func TestLongLinesAreChunked(t *testing.T) {
	task := New()
	d := &funcDriver{run: func(ctx context.Context, j *Job) Result {
		j.Stdout.Write([]byte(strings.Repeat("x", 3*maxLine+5)))
		return Result{}
	}}
	var sizes []int
	h := &readFunc{f: func(line []byte) { sizes = append(sizes, len(line)) }}
	if _, err := task.Run("x", Options{Nodes: nodeset.MustParse("n1"), Driver: d, Handler: h}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sizes, []int{maxLine, maxLine, maxLine, 5}) {
		t.Errorf("line sizes %v", sizes)
	}
}

type readFunc struct {
	Handler
	f func(line []byte)
}

func (r *readFunc) OnRead(w *Worker, node string, s Stream, line []byte) { r.f(line) }

func TestScheduleTwice(t *testing.T) {
	task := New()
	w, err := task.NewWorker("x", Options{Nodes: nodeset.MustParse("n1"), Driver: echoDriver()})
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Schedule(w); err != nil {
		t.Fatal(err)
	}
	if err := task.Schedule(w); err != ErrScheduled {
		t.Fatalf("second Schedule = %v", err)
	}
	if err := task.Resume(0); err != nil {
		t.Fatal(err)
	}
	if task.NodeBuffer("n1") == nil {
		t.Error("scheduled worker did not run")
	}
}

// BenchmarkEngineOverhead measures what the engine adds per node: a driver
// that returns at once, 10 000 nodes, default fanout.
func BenchmarkEngineOverhead(b *testing.B) {
	nodes := nodeset.MustParse("n[1-10000]")
	d := &funcDriver{run: func(ctx context.Context, j *Job) Result {
		io.WriteString(j.Stdout, "ok\n")
		return Result{}
	}}
	b.ReportAllocs()
	for b.Loop() {
		task := New()
		if _, err := task.Run("x", Options{Nodes: nodes, Driver: d}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10000, "ns/node")
}
