package engine

import "sync"

// OutputCutter is an EventHandler that wants to know when a node's output
// was cut at Options.MaxOutput. OnOutputCut is called once per node whose
// command wrote more than the cap, on the loop like every event, after the
// lines of that node's output that came before the cut (a line the cap
// fell in is delivered up to the cap, without its end). The command runs
// on; OnHup or OnTimeout still follow.
type OutputCutter interface {
	OnOutputCut(w *Worker, node string, limit int64)
}

// outputCap counts the bytes one job (a node) wrote, standard output and
// error together: the cap bounds what a node costs whatever stream it
// floods, and it is the same bound whether or not the worker keeps the
// streams apart. Its fields are guarded by the mutex its writers share.
type outputCap struct {
	limit   int64
	left    int64 // bytes still taken
	cut     bool
	writers []*lineWriter
	onCut   func() // posts the cut to the loop
}

func newOutputCap(limit int64, onCut func()) *outputCap {
	return &outputCap{limit: limit, left: limit, onCut: onCut}
}

// cutNow ends the job's output: the partial lines of every stream, which
// came before the cut, are delivered, then the cut (the writers' lock
// held).
func (c *outputCap) cutNow() {
	c.cut = true
	for _, w := range c.writers {
		w.flushPartial()
	}
	c.onCut()
}

// groupCaps is the output cap of a GroupDriver's worker (pdsh): its single
// process reports every node's lines, already split, from any goroutine.
type groupCaps struct {
	mu    sync.Mutex
	limit int64
	used  map[string]int64 // bytes taken per node (a line counts its newline)
}

// take returns what of node's line may be delivered (nil: nothing), and
// whether this line cut the node's output.
func (g *groupCaps) take(node string, line []byte) (keep []byte, cut bool) {
	if g == nil {
		return line, false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	used := g.used[node]
	if used > g.limit {
		return nil, false // cut before
	}
	size := int64(len(line)) + 1
	if used+size <= g.limit {
		g.used[node] = used + size
		return line, false
	}
	g.used[node] = g.limit + 1
	if left := g.limit - used; left > 0 {
		return line[:left], true
	}
	return nil, true
}
