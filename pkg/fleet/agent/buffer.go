package agent

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// buffer holds a shard's records between the engine loop, which adds them
// (start, line, end), and the flusher, which takes them a batch at a time.
// Adding never waits unless more than maxBuf bytes wait: then the loop is
// held back until the flusher catches up (or the shard is stopped).
type buffer struct {
	maxBatch int // bytes per batch (estimated)
	maxBuf   int // bytes waiting before the loop is held back
	chunk    int // longest piece of output in one record
	// maxRefs bounds the node indexes one batch names (0: no bound): the
	// coordinator refuses a batch over protocol.MaxNodeRefs for the
	// shard's nodes, so take never makes one.
	maxRefs int
	gather  bool
	kick    chan struct{} // wakes the flusher: a batch is full, or the end

	mu       sync.Mutex
	room     *sync.Cond // signalled when bytes are taken, or on stop/close
	queue    []item
	head     int // queue[:head] is taken
	qBytes   int
	tail     int // index of the queue's last record if more may join it, else -1
	tailKind protocol.Kind
	tailKey  string // with tailKind, what may join it: lines of that key, or ends
	// Line data is copied into slabs, large shared arrays, rather than
	// one growing slice per record: a record's data is a window of the
	// current slab, which the next line of the same node extends in
	// place. (Growing each record's slice cost a third of the agent's CPU
	// at 500 000 lines/s.)
	slab      []byte
	tailStart int // where the tail record's data starts in slab, -1 if elsewhere
	starts    []uint32
	atFrom    time.Time // when the oldest pending start happened
	ended     []outcome // gather: ends since the last take
	gBytes    int
	closed    bool // the shard ended: nothing more will be added
	// stopped is set when nobody will drain the buffer in time any more
	// (cancelled shard, stopped flusher): adding must not block.
	stopped bool

	// outs gathers standard output per node key until the node ends:
	// one buffer per running node (engine.Outputs), its own size, where
	// a MsgTree's line per element cost 3 to 5 times it when nodes print
	// lines of their own; identical outputs are grouped as nodes end
	// (group). Only the engine loop touches it.
	outs engine.Outputs[string]
	// wNodes and wBytes are the standard input taken since the last take
	// (stdin.go).
	wNodes []uint32
	wBytes uint64
}

// item is a queued record with the estimate of its encoded size.
type item struct {
	rec  protocol.Event
	size int
}

// outcome is a node's gathered output and end.
type outcome struct {
	nodes  []uint32
	out    []byte
	hasOut bool           // whether any line came (an empty line is one)
	end    protocol.Event // State, Reason, Code, Data
}

func newBuffer(maxBatch, maxBuf int, gather bool) *buffer {
	b := &buffer{maxBatch: maxBatch, maxBuf: maxBuf, chunk: maxBatch / 2, gather: gather,
		kick: make(chan struct{}, 1), tail: -1, tailStart: -1}
	b.room = sync.NewCond(&b.mu)
	return b
}

// Estimates of encoded sizes, upper bounds: protocol.Event.Size counts
// 20 bytes per node, which for the node lists of gathered records (runs
// of indexes, a few bytes each) would make a 10 000-node record look like
// 200 KB.
const (
	recOverhead = 40 // kind, counts, code, time, lengths
	runCost     = 10 // two uvarints
)

func nodesCost(nodes []uint32) int {
	runs := 0
	for i := range nodes {
		if i == 0 || nodes[i] != nodes[i-1]+1 {
			runs++
		}
	}
	return 2 + runCost*runs
}

func recSize(r *protocol.Event) int {
	return recOverhead + nodesCost(r.Nodes) + len(r.State) + len(r.Reason) + len(r.Data)
}

// sameEnd tells whether two ends say the same thing of their nodes.
func sameEnd(a, b *protocol.Event) bool {
	return a.State == b.State && a.Reason == b.Reason && a.Code == b.Code && string(a.Data) == string(b.Data)
}

// push appends a record (the lock held).
func (b *buffer) push(r protocol.Event) {
	it := item{rec: r, size: recSize(&r)}
	b.queue = append(b.queue, it)
	b.qBytes += it.size
}

// pressure wakes the flusher when a batch is full and holds the caller
// back while too much waits (the lock held).
func (b *buffer) pressure() {
	waiting := b.qBytes + b.gBytes + runCost*len(b.starts)
	if waiting >= b.maxBatch {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
	for b.qBytes+b.gBytes+runCost*len(b.starts) > b.maxBuf && !b.stopped && !b.closed {
		b.room.Wait()
	}
}

// start records that nodes idx started.
func (b *buffer) start(idx []uint32) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.starts) == 0 {
		b.atFrom = time.Now()
	}
	b.starts = append(b.starts, idx...)
	b.pressure()
}

// line records a line of output of nodes idx (engine key key).
func (b *buffer) line(key string, idx []uint32, kind protocol.Kind, line []byte) {
	// Gathering holds standard output only: clush -b and -L print
	// standard error as it comes.
	if b.gather && kind == protocol.KindStdout {
		b.outs.Add(key, line)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(line) > b.chunk {
		b.push(protocol.Event{Kind: kind, Partial: true, Nodes: idx, Data: b.copy(line[:b.chunk])})
		line = line[b.chunk:]
		b.tail = -1
	}
	if b.tail >= b.head && b.tailKind == kind && b.tailKey == key && b.tailStart >= 0 {
		t := &b.queue[b.tail]
		if n := len(t.rec.Data) + 1 + len(line); n <= b.chunk && len(b.slab)+1+len(line) <= cap(b.slab) {
			b.slab = append(append(b.slab, '\n'), line...)
			t.rec.Data = b.slab[b.tailStart:len(b.slab):len(b.slab)]
			t.size += 1 + len(line)
			b.qBytes += 1 + len(line)
			b.pressure()
			return
		}
	}
	b.push(protocol.Event{Kind: kind, Nodes: idx, Data: b.copy(line)})
	b.tail, b.tailKind, b.tailKey = len(b.queue)-1, kind, key
	b.tailStart = len(b.slab) - len(line)
	b.pressure()
}

// debug queues a worker's debug line (clush -d), from any goroutine. It
// is never gathered: clush prints these as they come. The tail record
// takes no more lines after it, so the lines keep their order around it.
// A line longer than a record's data is cut.
func (b *buffer) debug(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.push(protocol.Event{Kind: protocol.KindDebug, Data: []byte(line[:min(len(line), b.chunk)])})
	b.tail = -1
	b.pressure()
}

// record queues an event that is neither output nor an end (a reverse
// copy's KindTree), from any goroutine, after what is queued.
func (b *buffer) record(e protocol.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.push(e)
	b.tail = -1
	b.pressure()
}

// slabSize is the size of the arrays line data is copied into.
const slabSize = 64 << 10

// copy copies p to the current slab, or a new one when it has no room,
// and returns the copy; its capacity ends with it, so nothing appended to
// it can run over the slab. A new slab leaves the tail record where it
// is: it can no longer be extended in place.
func (b *buffer) copy(p []byte) []byte {
	if len(b.slab)+len(p) > cap(b.slab) {
		b.slab = make([]byte, 0, max(slabSize, len(p)))
		b.tailStart = -1
	}
	start := len(b.slab)
	b.slab = append(b.slab, p...)
	return b.slab[start:len(b.slab):len(b.slab)]
}

// end records the end of nodes idx (engine key key): e's State, Reason,
// Code and Data (the message).
func (b *buffer) end(key string, idx []uint32, e protocol.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gather {
		oc := outcome{nodes: slices.Clone(idx), end: e}
		if out, ok := b.outs.Message(key); ok {
			oc.out, oc.hasOut = out, true
			b.outs.Remove(key)
		}
		b.ended = append(b.ended, oc)
		b.gBytes += len(oc.out) + len(e.Data) + len(e.Reason) + runCost*len(idx)
		b.pressure()
		return
	}
	// Consecutive identical ends share a record; nothing follows the
	// tail record, so adding nodes to it keeps every node's end after
	// its output.
	if b.tail >= b.head && b.tailKind == protocol.KindEnd {
		t := &b.queue[b.tail]
		if sameEnd(&t.rec, &e) {
			for _, i := range idx {
				n := t.rec.Nodes
				switch {
				case i == n[len(n)-1]+1:
				case i > n[len(n)-1]:
					t.size += runCost
					b.qBytes += runCost
				default:
					at, found := slices.BinarySearch(n, i)
					if found {
						continue
					}
					t.rec.Nodes = slices.Insert(n, at, i)
					t.size += runCost
					b.qBytes += runCost
					continue
				}
				t.rec.Nodes = append(n, i)
			}
			b.pressure()
			return
		}
	}
	nodes := slices.Clone(idx)
	slices.Sort(nodes)
	e.Kind, e.Nodes, e.At = protocol.KindEnd, nodes, time.Now()
	b.push(e)
	b.tail, b.tailKind = len(b.queue)-1, protocol.KindEnd
	b.pressure()
}

// take returns the next batch of records: the pending starts first (every
// node's start then precedes what it printed), then queued records up to
// maxBatch bytes. Unless all is set or the shard ended, it returns nothing
// while less than a batch waits. done reports that the shard ended and
// everything was taken.
func (b *buffer) take(all bool) (recs []protocol.Event, done bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	all = all || b.closed
	if len(b.ended) > 0 && (all || b.gBytes >= b.maxBatch) {
		b.group()
	}
	if !all && b.qBytes+runCost*len(b.starts) < b.maxBatch {
		return nil, false
	}
	size, refs := 0, 0
	if len(b.starts) > 0 {
		slices.Sort(b.starts)
		for _, part := range splitNodes(slices.Compact(b.starts), b.chunk) {
			recs = append(recs, protocol.Event{Kind: protocol.KindStart, Nodes: part, At: b.atFrom})
			size += recOverhead + nodesCost(part)
			refs += len(part)
		}
		b.starts = nil
	}
	for _, w := range b.takeWritten() {
		recs = append(recs, w)
		refs += len(w.Nodes)
	}
	for b.head < len(b.queue) {
		it := &b.queue[b.head]
		if len(recs) > 0 && (size+it.size > b.maxBatch || b.maxRefs > 0 && refs+len(it.rec.Nodes) > b.maxRefs) {
			break
		}
		recs = append(recs, it.rec)
		size += it.size
		refs += len(it.rec.Nodes)
		b.qBytes -= it.size
		*it = item{}
		b.head++
	}
	if b.tail < b.head {
		b.tail = -1 // taken: no more lines may join it
	}
	if b.head == len(b.queue) {
		b.queue, b.head = b.queue[:0], 0
	}
	b.room.Broadcast()
	done = b.closed && b.head == len(b.queue) && len(b.starts) == 0 && len(b.ended) == 0
	return recs, done
}

// group turns the gathered ends into records: nodes with the same output
// and end share one set of records (the lock held).
func (b *buffer) group() {
	type group struct {
		oc    *outcome
		nodes []uint32
	}
	var groups []*group
	byKey := make(map[string]*group)
	var key strings.Builder
	for i := range b.ended {
		oc := &b.ended[i]
		key.Reset()
		for _, s := range []string{string(oc.out), string(oc.end.State), oc.end.Reason, strconv.Itoa(oc.end.Code), string(oc.end.Data)} {
			key.WriteString(strconv.Itoa(len(s)))
			key.WriteByte(':')
			key.WriteString(s)
		}
		key.WriteString(strconv.FormatBool(oc.hasOut))
		g := byKey[key.String()]
		if g == nil {
			g = &group{oc: oc}
			byKey[key.String()] = g
			groups = append(groups, g)
		}
		g.nodes = append(g.nodes, oc.nodes...)
	}
	now := time.Now()
	for _, g := range groups {
		slices.Sort(g.nodes)
		for _, nodes := range splitNodes(slices.Compact(g.nodes), b.chunk) {
			if g.oc.hasOut {
				b.pushData(protocol.KindStdout, nodes, g.oc.out)
			}
			e := g.oc.end
			e.Kind, e.Nodes, e.At = protocol.KindEnd, nodes, now
			b.push(e)
		}
	}
	b.ended, b.gBytes, b.tail = nil, 0, -1
}

// pushData queues data as records of at most b.chunk bytes, all but the
// last Partial.
func (b *buffer) pushData(kind protocol.Kind, nodes []uint32, data []byte) {
	for len(data) > b.chunk {
		b.push(protocol.Event{Kind: kind, Partial: true, Nodes: nodes, Data: data[:b.chunk]})
		data = data[b.chunk:]
	}
	b.push(protocol.Event{Kind: kind, Nodes: nodes, Data: data})
}

// splitNodes cuts ascending node indexes into lists whose encoded size
// stays under limit, so that one record always fits in a batch.
func splitNodes(nodes []uint32, limit int) [][]uint32 {
	var out [][]uint32
	from, cost := 0, 2
	for i := range nodes {
		if i > from && nodes[i] == nodes[i-1]+1 {
			continue // same run: free
		}
		if i > from && cost+runCost > limit {
			out = append(out, nodes[from:i])
			from, cost = i, 2
		}
		cost += runCost
	}
	if from < len(nodes) {
		out = append(out, nodes[from:])
	}
	return out
}

// stop makes adding never wait any more.
func (b *buffer) stop() {
	b.mu.Lock()
	b.stopped = true
	b.room.Broadcast()
	b.mu.Unlock()
}

// close marks the end of the shard's records and wakes the flusher.
func (b *buffer) close() {
	b.mu.Lock()
	b.closed = true
	b.room.Broadcast()
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
}
