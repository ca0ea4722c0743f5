package csub

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/fleet/files"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// A reverse copy through a fleet (--rcopy with --fleet): each agent sends
// its nodes' copies to the coordinator's store and the stream names them
// (a KindTree record before the node's end). csub writes each one as
// <dest>/<basename>.<node>, as clush does, a few at a time while the job
// runs, chunk by chunk: whatever the sizes, it holds a few chunks per
// copy being written. A node's end waits for its copy to be written, so
// that a copy that cannot be written (a full disk here) makes the node
// fail with exit code 1 and a line saying why, and the exit status and
// the -v line count only the copies that are here.

// pullers bounds the copies written at once.
const pullers = 4

// pull writes the copies a reverse copy collected.
type pull struct {
	r        *renderer
	ctx      context.Context
	from     files.ChunkStore
	dest     string
	source   string
	preserve bool
	cancel   context.CancelFunc
	slots    chan struct{}
	wg       sync.WaitGroup

	mu      sync.Mutex
	pending map[uint32]*pendingCopy
}

// pendingCopy is a node whose copy is being written; end is its end
// record once it came before the copy was written.
type pendingCopy struct {
	done bool
	err  error
	end  *protocol.Event
}

func newPull(ctx context.Context, r *renderer, from files.ChunkStore, dest, source string, preserve bool) *pull {
	ctx, cancel := context.WithCancel(ctx)
	return &pull{r: r, ctx: ctx, cancel: cancel, from: from, dest: dest, source: source, preserve: preserve,
		slots: make(chan struct{}, pullers), pending: make(map[uint32]*pendingCopy)}
}

// tree starts writing the copy of node (called with the renderer locked;
// it waits for a free slot, which holds the stream back while pullers
// copies are being written).
func (p *pull) tree(node uint32, ref protocol.TreeRef) {
	if int(node) >= len(p.r.res.nodes) {
		return
	}
	pc := &pendingCopy{}
	p.mu.Lock()
	if p.pending[node] != nil {
		p.mu.Unlock()
		return // a copy sent twice (a shard resent its batch): once is enough
	}
	p.pending[node] = pc
	p.mu.Unlock()
	select {
	case p.slots <- struct{}{}:
	case <-p.ctx.Done():
		p.finished(node, pc, p.ctx.Err())
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		path := engine.RcopyDest(p.dest, p.source, p.r.res.nodes[node])
		_, err := files.Extract(p.ctx, ref, p.from, path, files.ExtractOptions{Preserve: p.preserve})
		if err != nil {
			err = fmt.Errorf("write %s: %w", path, err)
		}
		// The slot first: tree may hold the renderer's lock while it
		// waits for one, and finished takes that lock.
		<-p.slots
		p.finished(node, pc, err)
	}()
}

// finished records the end of a copy, and ends its node when its end
// record came already.
func (p *pull) finished(node uint32, pc *pendingCopy, err error) {
	p.mu.Lock()
	pc.done, pc.err = true, err
	end := pc.end
	p.mu.Unlock()
	if end != nil {
		p.r.lock()
		p.apply(node, end, err)
		_ = p.r.d.o.flush()
		p.r.unlock()
	}
}

// holdEnd reports whether node's end record waits for its copy (then
// the copy applies it); otherwise the caller ends the node now, after
// apply when the copy failed.
func (p *pull) holdEnd(node uint32, rec *protocol.Event) (held bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pc := p.pending[node]
	switch {
	case pc == nil:
		return false, nil
	case !pc.done:
		e := *rec
		e.Nodes = nil
		pc.end = &e
		return true, nil
	}
	return false, pc.err
}

// apply ends node with its end record, or as failed when its copy could
// not be written (renderer locked).
func (p *pull) apply(node uint32, rec *protocol.Event, err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		p.r.data(node, protocol.KindStderr, []byte(progName+": "+err.Error()), false)
		e := *rec
		e.State, e.Code, e.Data = protocol.StateExited, 1, []byte(err.Error())
		rec = &e
	}
	p.r.endNode(node, rec)
}

// wait waits for the copies being written (before the end of the stream
// is rendered).
func (p *pull) wait() {
	p.wg.Wait()
	p.cancel()
}

// stop cancels the copies being written and waits for them (Ctrl-C).
func (p *pull) stop() {
	p.cancel()
	p.wg.Wait()
}
