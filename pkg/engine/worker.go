package engine

import (
	"context"
	"iter"
	"slices"
	"sync/atomic"
	"time"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// A Worker is one command (or copy) scheduled on a set of nodes, or on the
// local machine under a key. Its results are kept by its task; the methods
// here read the part that belongs to this worker. Write, SetWriteEOF and
// Abort are safe from any goroutine; result getters are meant for handlers
// and for after the run.
type Worker struct {
	task    *Task
	driver  Driver
	handler EventHandler
	command string
	copy    *protocol.CopySpec
	nodes   []string // target nodes (or the local key)
	keys    []string // job keys (nodes, or one key for %hosts)
	timeout time.Duration
	stderr  bool
	fanout  int // 0: the task's
	// maxOutput is Options.MaxOutput (0: none).
	maxOutput int64
	observe   func(Stage, time.Duration) // Options.Observe
	stdin     *stdinBuf
	// stdinSrc is read into stdin once the worker is scheduled.
	stdinSrc  interface{ Read([]byte) (int, error) }
	schedOnce atomic.Bool

	// loop-owned
	scheduled bool
	started   bool
	closed    bool
	aborted   bool
	remaining int
	timedout  bool
	jobs      []*job
}

// Task returns the worker's task.
func (w *Worker) Task() *Task { return w.task }

// Command returns the worker's command ("" for a copy).
func (w *Worker) Command() string { return w.command }

// Nodes returns the worker's target nodes (the key for a local command).
func (w *Worker) Nodes() []string { return slices.Clone(w.nodes) }

// Driver returns the driver that runs the worker's jobs.
func (w *Worker) Driver() Driver { return w.driver }

// Write sends p to the stdin of every node of the worker; nodes not yet
// started get it when they start. The worker must have been created with
// Options.StdinOpen.
func (w *Worker) Write(p []byte) {
	if w.stdin != nil {
		w.stdin.write(p)
	}
}

// SetWriteEOF closes the stdin of every node of the worker.
func (w *Worker) SetWriteEOF() {
	if w.stdin != nil {
		w.stdin.close()
	}
}

// Abort stops the worker: running commands are killed, pending ones never
// start, and no more events are delivered for it.
func (w *Worker) Abort() {
	w.task.post(func() { w.task.loop.abortWorker(w) })
}

// NodeBuffer returns the standard output of node for this worker.
func (w *Worker) NodeBuffer(node string) []byte {
	b, _ := w.task.res.out.Message(resKey{w, node})
	return b
}

// NodeError returns the standard error of node for this worker (only kept
// when the worker separates stderr).
func (w *Worker) NodeError(node string) []byte {
	b, _ := w.task.res.err.Message(resKey{w, node})
	return b
}

// NodeRetcode returns the exit status of node, and false when it has none
// (timed out, not finished).
func (w *Worker) NodeRetcode(node string) (int, bool) {
	rc, ok := w.task.res.rc[resKey{w, node}]
	return rc, ok
}

// NodeFailure returns why node failed (a *NodeError), or nil.
func (w *Worker) NodeFailure(node string) error {
	if e, ok := w.task.res.fail[resKey{w, node}]; ok {
		return e
	}
	return nil
}

// IterBuffers yields each distinct standard output once with the set of
// nodes that printed it.
func (w *Worker) IterBuffers() iter.Seq2[[]byte, *nodeset.NodeSet] {
	return w.task.res.out.walkWorker(w)
}

// IterErrors yields each distinct standard error once with its nodes.
func (w *Worker) IterErrors() iter.Seq2[[]byte, *nodeset.NodeSet] {
	return w.task.res.err.walkWorker(w)
}

// IterRetcodes yields each exit status once with the nodes that returned
// it, in increasing order of status.
func (w *Worker) IterRetcodes() iter.Seq2[int, *nodeset.NodeSet] {
	return w.task.res.iterRetcodes(w)
}

// NumTimeout returns how many nodes timed out.
func (w *Worker) NumTimeout() int { return len(w.KeysTimeout()) }

// KeysTimeout returns the nodes that timed out.
func (w *Worker) KeysTimeout() []string {
	var out []string
	for _, k := range w.task.res.timeouts {
		if k.w == w {
			out = append(out, k.node)
		}
	}
	return out
}

// DidTimeout reports whether any node timed out.
func (w *Worker) DidTimeout() bool { return w.NumTimeout() > 0 }

// job is one key of a worker: the unit the fanout admits.
type job struct {
	w       *Worker
	key     string
	rank    int
	cancel  context.CancelFunc
	running bool
	done    bool
	group   *fanoutGroup
	// finished is set by the job's goroutine when the driver returned;
	// the other fields are the loop's.
	finished atomic.Bool
}

// startStdin copies Options.Stdin into the worker's stdin buffer, which
// every node reads from its start.
func (w *Worker) startStdin() {
	src := w.stdinSrc
	if src == nil {
		return
	}
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				// Waits while the slowest node holds StdinWindow bytes.
				if w.stdin.writeWait(context.Background(), buf[:n]) != nil {
					return // the worker ended: the rest has no reader
				}
			}
			if err != nil {
				w.stdin.close()
				return
			}
		}
	}()
}
