package engine

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// ErrTimeout is returned by Resume when the whole run exceeded its timeout.
var ErrTimeout = errors.New("engine: task timeout")

// ErrAlreadyRunning is returned by Resume when the task is running.
var ErrAlreadyRunning = errors.New("engine: task already running")

// A Task runs workers and timers and delivers their events, ClusterShell's
// Task in Go. While it runs (Resume), one goroutine, the loop, delivers
// every event, so handlers run one at a time. Shell, Copy, Timer, Abort,
// SetInfo and the Worker control methods are safe from any goroutine,
// handlers included.
//
// Results (buffers, exit codes, timeouts) describe the last run: they are
// cleared when Resume starts, as in ClusterShell.
type Task struct {
	mu       sync.Mutex
	info     map[string]any
	defaults map[string]any
	queue    []func() // control operations for the loop
	wake     chan struct{}
	events   chan func() // job output and completions; bounded for backpressure
	output   *byteBudget // bytes of output in events (see maxOutputInFlight)
	running  bool
	done     chan struct{}

	loop *loop
	res  *results
}

// Info keys known to the engine and drivers; free keys should start with
// "USER_".
const (
	InfoFanout         = "fanout"          // int, default 64
	InfoConnectTimeout = "connect_timeout" // time.Duration, default 10s
	InfoCommandTimeout = "command_timeout" // time.Duration, default 0 (none)
	InfoDebug          = "debug"           // bool
	InfoPrintDebug     = "print_debug"     // func(*Task, string)
)

// Default keys.
const (
	DefaultDistantWorker     = "distant_worker"     // Driver for commands with nodes
	DefaultLocalWorker       = "local_worker"       // Driver for local commands
	DefaultDistantWorkerName = "distant_workername" // registered name, default "ssh"
	DefaultLocalWorkerName   = "local_workername"   // registered name, default "exec"
	DefaultStderr            = "stderr"             // bool: separate stderr (default false)
	DefaultStdoutMsgTree     = "stdout_msgtree"     // bool: keep stdout for gathering (default true)
	DefaultStderrMsgTree     = "stderr_msgtree"     // bool: keep stderr (default true)
)

// New returns a new, idle task with ClusterShell's defaults.
func New() *Task {
	t := &Task{
		info: map[string]any{
			InfoFanout:         64,
			InfoConnectTimeout: 10 * time.Second,
			InfoCommandTimeout: time.Duration(0),
			InfoDebug:          false,
		},
		defaults: map[string]any{
			DefaultDistantWorkerName: "ssh",
			DefaultLocalWorkerName:   "exec",
			DefaultStderr:            false,
			DefaultStdoutMsgTree:     true,
			DefaultStderrMsgTree:     true,
		},
		wake:   make(chan struct{}, 1),
		events: make(chan func(), 1024),
		output: newByteBudget(maxOutputInFlight),
		res:    newResults(),
	}
	t.loop = newLoop(t)
	return t
}

// defaultTask is the one piece of process-wide state the project allows:
// ClusterShell programs reach their task through task_self(), and code
// ported from them expects every call to return the same task.
var defaultTask = sync.OnceValue(New)

// Default returns the process's default task (ClusterShell's task_self()):
// the same *Task on every call, made by New on the first.
func Default() *Task { return defaultTask() }

// SetInfo sets an info key (fanout, connect_timeout, command_timeout,
// debug, print_debug, or a free USER_ key).
func (t *Task) SetInfo(key string, value any) { t.set(t.info, key, value) }

// Info returns an info key's value.
func (t *Task) Info(key string) (any, bool) { return t.get(t.info, key) }

// set and get access the task's info or defaults map under its lock.
func (t *Task) set(m map[string]any, key string, value any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m[key] = value
}

func (t *Task) get(m map[string]any, key string) (any, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := m[key]
	return v, ok
}

// SetDefault sets a default key. Setting distant_workername or
// local_workername also selects that registered driver.
func (t *Task) SetDefault(key string, value any) error {
	switch key {
	case DefaultDistantWorkerName, DefaultLocalWorkerName:
		name, ok := value.(string)
		if !ok {
			return fmt.Errorf("engine: %s must be a string", key)
		}
		d, err := NewDriver(name)
		if err != nil {
			return err
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		t.defaults[key] = name
		if key == DefaultDistantWorkerName {
			t.defaults[DefaultDistantWorker] = d
		} else {
			t.defaults[DefaultLocalWorker] = d
		}
		return nil
	}
	t.set(t.defaults, key, value)
	return nil
}

// DefaultValue returns a default key's value.
func (t *Task) DefaultValue(key string) (any, bool) { return t.get(t.defaults, key) }

func (t *Task) infoInt(key string, def int) int {
	if v, ok := t.Info(key); ok {
		if n, ok := v.(int); ok {
			return n
		}
	}
	return def
}

func (t *Task) infoDuration(key string) time.Duration {
	v, _ := t.Info(key)
	switch d := v.(type) {
	case time.Duration:
		return d
	case float64:
		return time.Duration(d * float64(time.Second))
	case int:
		return time.Duration(d) * time.Second
	}
	return 0
}

func (t *Task) defaultBool(key string) bool {
	v, _ := t.DefaultValue(key)
	b, _ := v.(bool)
	return b
}

// debugFunc returns what drivers call with debug lines: nil when debug is
// off, else the print_debug hook (ClusterShell's default prints them).
func (t *Task) debugFunc() func(string) {
	if v, _ := t.Info(InfoDebug); v != true {
		return nil
	}
	return func(line string) {
		v, _ := t.Info(InfoPrintDebug)
		if pd, ok := v.(func(*Task, string)); ok {
			pd(t, line)
			return
		}
		fmt.Println(line)
	}
}

func (t *Task) driver(distant bool) (Driver, error) {
	dkey, nkey := DefaultLocalWorker, DefaultLocalWorkerName
	if distant {
		dkey, nkey = DefaultDistantWorker, DefaultDistantWorkerName
	}
	if v, ok := t.DefaultValue(dkey); ok {
		if d, ok := v.(Driver); ok && d != nil {
			return d, nil
		}
	}
	name, _ := t.DefaultValue(nkey)
	s, _ := name.(string)
	d, err := NewDriver(s)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	t.defaults[dkey] = d
	t.mu.Unlock()
	return d, nil
}

// Options tune a Shell, Copy or Rcopy worker.
type Options struct {
	// Nodes are the target nodes; nil runs a local command under Key.
	Nodes *nodeset.NodeSet
	// Key names a local command's output ("local" when empty).
	Key string
	// Handler receives the worker's events (nil: none).
	Handler EventHandler
	// Timeout is the command timeout of each node, counted from its start
	// (0: the task's command_timeout).
	Timeout time.Duration
	// Stderr keeps standard error apart from standard output.
	Stderr bool
	// Fanout overrides the task's fanout for this worker (it then has
	// its own window); 0 shares the task's.
	Fanout int
	// Driver overrides the task's default driver.
	Driver Driver
	// Stdin, when set, is read as it comes and sent to every node. It is
	// kept whole while shorter than StdinWindow, so that nodes the fanout
	// starts later get all of it; past that, reading it waits for the
	// nodes running (the slowest sets the pace), nodes starting later fail
	// with ErrStdinGone, and a node that reads none of it for StdinStall
	// while the others wait gets EOF there.
	Stdin interface{ Read([]byte) (int, error) }
	// StdinWindow and StdinStall bound Stdin as said there (0: the
	// package's StdinWindow, 16 MiB, and StdinStall, 5 s).
	StdinWindow int
	StdinStall  time.Duration
	// StdinOpen keeps the nodes' stdin open for Worker.Write and
	// SetWriteEOF. Without Stdin or StdinOpen, commands read EOF.
	StdinOpen bool
	// MaxOutput bounds the bytes each node's command may deliver,
	// standard output and error together, newlines included (0: no
	// bound). What it writes past them is read and dropped: the command
	// runs on and its exit status is kept. The lines before the cap are
	// delivered unchanged (a line the cap falls in up to the cap), then a
	// handler that implements OutputCutter is told, once per node. Under
	// a cap a line is held whole up to the cap rather than cut at 1 MiB.
	MaxOutput int64
	// Observe, when not nil, is given to every job of the worker
	// (Job.Observe): the durations of the stages its driver measures.
	Observe func(stage Stage, d time.Duration)
}

// Shell schedules command on opts.Nodes (or locally) and returns its
// worker. It starts when the task runs, at once if it is running.
func (t *Task) Shell(command string, opts Options) (*Worker, error) {
	w, err := t.newWorker(command, nil, opts)
	if err != nil {
		return nil, err
	}
	return w, t.Schedule(w)
}

// NewWorker returns a worker for command without scheduling it: Schedule
// it when it should start.
func (t *Task) NewWorker(command string, opts Options) (*Worker, error) {
	return t.newWorker(command, nil, opts)
}

// ErrScheduled is returned when a worker is scheduled twice.
var ErrScheduled = errors.New("engine: worker already scheduled")

// Schedule binds w to the task: it starts when the task runs, at once if
// it is running (subject to the fanout).
func (t *Task) Schedule(w *Worker) error {
	if w.task != t {
		return errors.New("engine: worker belongs to another task")
	}
	if !w.schedOnce.CompareAndSwap(false, true) {
		return ErrScheduled
	}
	w.startStdin()
	t.post(func() { t.loop.schedule(w) })
	return nil
}

// Copy schedules the copy of the local file or directory source to dest on
// every node of opts.Nodes.
func (t *Task) Copy(source, dest string, preserve bool, opts Options) (*Worker, error) {
	if opts.Nodes == nil {
		return nil, errors.New("engine: local copy not supported")
	}
	return t.scheduled(t.newWorker("", &protocol.CopySpec{Source: source, Dest: dest, Preserve: preserve}, opts))
}

func (t *Task) scheduled(w *Worker, err error) (*Worker, error) {
	if err != nil {
		return nil, err
	}
	return w, t.Schedule(w)
}

// Rcopy schedules the copy of source from every node of opts.Nodes into
// the local directory dest, as dest/<basename(source)>.<node>.
func (t *Task) Rcopy(source, dest string, preserve bool, opts Options) (*Worker, error) {
	if opts.Nodes == nil {
		return nil, errors.New("engine: local copy not supported")
	}
	return t.scheduled(t.newWorker("", &protocol.CopySpec{Source: source, Dest: dest, Preserve: preserve, Reverse: true}, opts))
}

func (t *Task) newWorker(command string, cp *protocol.CopySpec, opts Options) (*Worker, error) {
	w := &Worker{task: t, command: command, copy: cp, handler: opts.Handler, timeout: opts.Timeout,
		stderr: opts.Stderr, fanout: opts.Fanout, driver: opts.Driver, maxOutput: max(opts.MaxOutput, 0),
		observe: opts.Observe}
	if w.handler == nil {
		w.handler = Handler{}
	}
	if w.timeout == 0 {
		w.timeout = t.infoDuration(InfoCommandTimeout)
	}
	if !w.stderr {
		w.stderr = t.defaultBool(DefaultStderr)
	}
	if opts.Nodes != nil {
		w.nodes = opts.Nodes.Nodes()
	} else {
		key := opts.Key
		if key == "" {
			key = "local"
		}
		w.nodes = []string{key}
	}
	if w.driver == nil {
		d, err := t.driver(opts.Nodes != nil)
		if err != nil {
			return nil, err
		}
		w.driver = d
	}
	w.keys = w.nodes
	if k, ok := w.driver.(Keyer); ok && command != "" && opts.Nodes != nil {
		w.keys = k.Keys(w.nodes, command)
	}
	if opts.Stdin != nil || opts.StdinOpen {
		if _, group := w.driver.(GroupDriver); group && cp == nil {
			// One process serves every node (pdsh): it has no stdin per
			// node to write to. ClusterShell's message.
			return nil, fmt.Errorf("writing to stdin is not supported by %s worker", w.driver.Name())
		}
		w.stdin = newStdinBuf(len(w.keys), &opts)
		w.stdinSrc = opts.Stdin
	}
	return w, nil
}

// Timer creates a timer that calls handler.OnTimer after fire, then every
// interval if interval > 0. An autoclose timer does not keep the task
// running by itself.
func (t *Task) Timer(fire, interval time.Duration, handler EventHandler, autoclose bool) *Timer {
	tm := &Timer{task: t, handler: handler, autoclose: autoclose, valid: true}
	t.post(func() { t.loop.armTimer(tm, fire, interval) })
	return tm
}

// Run schedules command like Shell, then runs the task until it is done.
func (t *Task) Run(command string, opts Options) (*Worker, error) {
	w, err := t.Shell(command, opts)
	if err != nil {
		return nil, err
	}
	return w, t.Resume(0)
}

// Resume runs the task until every worker and non-autoclose timer is done,
// on the calling goroutine. With a timeout > 0, a run that lasts longer is
// stopped (workers killed, timers cancelled) and ErrTimeout returned.
func (t *Task) Resume(timeout time.Duration) error {
	return t.ResumeContext(context.Background(), timeout)
}

// ResumeContext is Resume that also stops when ctx is done, returning
// ctx's error.
func (t *Task) ResumeContext(ctx context.Context, timeout time.Duration) error {
	t.mu.Lock()
	if t.running {
		t.mu.Unlock()
		return ErrAlreadyRunning
	}
	t.running = true
	t.done = make(chan struct{})
	t.mu.Unlock()
	t.res.reset()
	t.res.keepOut = t.defaultBool(DefaultStdoutMsgTree)
	t.res.keepErr = t.defaultBool(DefaultStderrMsgTree)
	err := t.loop.run(ctx, timeout)
	t.mu.Lock()
	t.running = false
	close(t.done)
	t.mu.Unlock()
	return err
}

// Running reports whether the task is running.
func (t *Task) Running() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.running
}

// Join waits until the current run, if any, is over.
func (t *Task) Join() {
	t.mu.Lock()
	done, running := t.done, t.running
	t.mu.Unlock()
	if running {
		<-done
	}
}

// Wait is Join.
func (t *Task) Wait() { t.Join() }

// Abort stops every worker (commands killed) and timer of the task and
// clears its results; Resume then returns.
func (t *Task) Abort() {
	t.post(func() { t.loop.abortAll(true) })
}

// post queues f to run on the loop goroutine; it never blocks.
func (t *Task) post(f func()) {
	t.mu.Lock()
	t.queue = append(t.queue, f)
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

func (t *Task) takeQueue() []func() {
	t.mu.Lock()
	defer t.mu.Unlock()
	q := t.queue
	t.queue = nil
	return q
}

// NodeBuffer returns the standard output of node over every worker of the
// last run (ClusterShell's key_buffer).
func (t *Task) NodeBuffer(node string) []byte { return t.concat(&t.res.out, node) }

// NodeError returns the standard error of node over every worker.
func (t *Task) NodeError(node string) []byte { return t.concat(&t.res.err, node) }

func (t *Task) concat(tree *resTree, node string) []byte {
	var out []byte
	for _, w := range t.loop.workers {
		if b, ok := tree.Message(resKey{w, node}); ok {
			if len(out) > 0 {
				out = append(out, '\n')
			}
			out = append(out, b...)
		}
	}
	return out
}

// NodeRetcode returns the highest exit status of node over the workers of
// the last run, and false when it has none.
func (t *Task) NodeRetcode(node string) (int, bool) {
	best, found := 0, false
	for k, rc := range t.res.rc {
		if k.node == node && (!found || rc > best) {
			best, found = rc, true
		}
	}
	return best, found
}

// MaxRetcode returns the highest exit status of the last run, and false
// when no command returned one (all timed out, or none ran).
func (t *Task) MaxRetcode() (int, bool) {
	best, found := 0, false
	for _, rc := range t.res.rc {
		if !found || rc > best {
			best, found = rc, true
		}
	}
	return best, found
}

// NumTimeout returns how many nodes timed out in the last run.
func (t *Task) NumTimeout() int { return len(t.res.timeouts) }

// KeysTimeout returns the nodes that timed out, sorted.
func (t *Task) KeysTimeout() []string {
	out := make([]string, 0, len(t.res.timeouts))
	for _, k := range t.res.timeouts {
		out = append(out, k.node)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// IterBuffers yields each distinct standard output of the last run once,
// with the nodes that printed it.
func (t *Task) IterBuffers() iter.Seq2[[]byte, *nodeset.NodeSet] { return t.res.out.walkWorker(nil) }

// IterErrors yields each distinct standard error once, with its nodes.
func (t *Task) IterErrors() iter.Seq2[[]byte, *nodeset.NodeSet] { return t.res.err.walkWorker(nil) }

// IterRetcodes yields each exit status once with its nodes, increasing.
func (t *Task) IterRetcodes() iter.Seq2[int, *nodeset.NodeSet] { return t.res.iterRetcodes(nil) }

// Gathered returns the output of the last run gathered as clush -b shows
// it: nodes with the same output and the same exit status together,
// ordered by exit status, then larger node sets first.
func (t *Task) Gathered() []Gathered { return t.res.gathered(nil) }

// RcopyDest is where a reverse copy of source from node lands:
// dest/<basename(source)>.<node>, as ClusterShell names it.
func RcopyDest(dest, source, node string) string {
	return filepath.Join(dest, filepath.Base(source)+"."+node)
}
