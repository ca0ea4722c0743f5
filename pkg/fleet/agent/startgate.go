package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/fleetsh/fleetsh/pkg/engine"
)

// startGate holds each node's command until the coordinator has
// acknowledged the batch that carries the node's start event, so that a
// command runs only once the coordinator knows it started.
//
// Without it, an agent cut from the coordinator (a stalled network path,
// SIGSTOP) goes on starting commands whose start the coordinator never
// hears of; declared lost, it then sees those nodes as unstarted and runs
// them on another agent: twice. With it, a node the coordinator re-runs
// elsewhere never ran here (its command waits at the gate until the
// coordinator's cancel aborts it), and a node that ran here is one the
// coordinator counts as started ("gateway lost" if this agent is lost).
//
// The engine's loop counts pickups (pick, after the start event is in the
// buffer); the flusher records, after each take, that the starts picked
// before it went out in batches up to the last sequence number sent
// (take puts every pending start in the first batch it returns); the
// coordinator's cumulative acks then open the gate for them.
type startGate struct {
	mu      sync.Mutex
	picks   uint64            // starts put in the buffer
	tickets map[string]uint64 // engine job key → its pick
	marks   []gateMark        // sent, not yet acknowledged, ascending
	open    uint64            // pickups whose start the coordinator acknowledged
	ackSeq  uint64            // the highest batch acknowledged
	stopped bool              // the shard was cancelled: nothing starts any more
	changed chan struct{}     // closed at each opening, for the flusher
	// waiters are the commands waiting for their ticket; each is woken
	// alone when the gate opens for it. A broadcast woke every waiter at
	// every ack, and those still shut went back to sleep: a wake-up per
	// node and per ack for nothing.
	waiters []gateWaiter
}

// gateWaiter is one command waiting at the gate for its ticket.
type gateWaiter struct {
	ticket uint64
	ch     chan struct{}
}

// gateMark says the first picks starts went out in batches up to seq.
type gateMark struct{ picks, seq uint64 }

func newStartGate() *startGate {
	return &startGate{changed: make(chan struct{}), tickets: map[string]uint64{}}
}

// pick counts the start of job key, just put in the buffer.
func (g *startGate) pick(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.picks++
	g.tickets[key] = g.picks
}

// inFlight reports that starts went out in batches the coordinator has
// not acknowledged yet.
func (g *startGate) inFlight() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.marks) > 0
}

// opening returns a channel closed when the gate next opens (or stops).
func (g *startGate) opening() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.changed
}

// picked returns the starts put in the buffer so far.
func (g *startGate) picked() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.picks
}

// sent records that the first picks starts went out in batches up to seq.
func (g *startGate) sent(picks, seq uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case picks <= g.open || (len(g.marks) > 0 && picks <= g.marks[len(g.marks)-1].picks):
	case seq <= g.ackSeq:
		// Their batch was acknowledged already (the flusher sent it
		// before it knew it carried them), and acks only come again for
		// later batches.
		g.marks = g.marks[:0]
		g.opened(picks)
	default:
		g.marks = append(g.marks, gateMark{picks, seq})
	}
}

// acked opens the gate for the starts sent in batches up to seq.
func (g *startGate) acked(seq uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ackSeq = max(g.ackSeq, seq)
	i := 0
	for i < len(g.marks) && g.marks[i].seq <= seq {
		i++
	}
	if i > 0 {
		picks := g.marks[i-1].picks
		g.marks = g.marks[i:]
		g.opened(picks)
	}
}

// opened opens the gate for the first picks starts (g.mu held).
func (g *startGate) opened(picks uint64) {
	g.open = picks
	g.wake()
}

func (g *startGate) wake() {
	close(g.changed)
	g.changed = make(chan struct{})
	kept := g.waiters[:0]
	for _, w := range g.waiters {
		if g.stopped || w.ticket <= g.open {
			close(w.ch)
		} else {
			kept = append(kept, w)
		}
	}
	clear(g.waiters[len(kept):])
	g.waiters = kept
}

// leave takes the waiter of ch off the list: its command gave up.
func (g *startGate) leave(ch chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.waiters = slices.DeleteFunc(g.waiters, func(w gateWaiter) bool { return w.ch == ch })
}

// errGateStopped is why a job waiting at a stopped gate does not start.
var errGateStopped = errors.New("shard cancelled")

// stop closes the gate for good: the shard was cancelled, and a command
// that has not started must not, even if its start is acknowledged
// before the engine's abort reaches it.
func (g *startGate) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.stopped {
		g.stopped = true
		g.wake()
	}
}

// wait returns once the start of job key was acknowledged, or ctx's
// error.
func (g *startGate) wait(ctx context.Context, key string) error {
	for {
		g.mu.Lock()
		ticket, ok := g.tickets[key]
		if g.stopped {
			g.mu.Unlock()
			return errGateStopped
		}
		if ok && g.open >= ticket {
			delete(g.tickets, key)
			g.mu.Unlock()
			return nil
		}
		if !ok {
			g.mu.Unlock()
			return fmt.Errorf("job %q was never picked up", key)
		}
		ch := make(chan struct{})
		g.waiters = append(g.waiters, gateWaiter{ticket, ch})
		g.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			g.leave(ch)
			return ctx.Err()
		}
	}
}

// gatedDriver runs a job only once its start is acknowledged (see
// startGate).
type gatedDriver struct {
	engine.Driver
	gate *startGate
}

// Run waits at the gate, then runs the job. A job aborted (or timed out)
// at the gate never ran.
func (d gatedDriver) Run(ctx context.Context, job *engine.Job) engine.Result {
	if err := d.gate.wait(ctx, job.Node); err != nil {
		return engine.Result{ExitCode: 255, Err: &engine.NodeError{Node: job.Node, Reason: engine.ReasonAborted,
			Err: fmt.Errorf("not started: the coordinator did not acknowledge its start: %w", err)}}
	}
	return d.Driver.Run(ctx, job)
}

// gatedKeyer is a gatedDriver whose driver is an engine.Keyer (exec's
// %hosts runs one job for every node), which the engine must still see.
type gatedKeyer struct {
	gatedDriver
	engine.Keyer
}

// gated wraps d (not a GroupDriver) so that its jobs wait at gate.
func (g *startGate) gated(d engine.Driver) engine.Driver {
	gd := gatedDriver{Driver: d, gate: g}
	if k, ok := d.(engine.Keyer); ok {
		return gatedKeyer{gatedDriver: gd, Keyer: k}
	}
	return gd
}
