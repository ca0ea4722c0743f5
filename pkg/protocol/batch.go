package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// State is a node's final state in a job. Every node of a job ends in
// exactly one.
type State string

// Final states.
const (
	StateExited  State = "exited"           // the command ran; Code is its exit status
	StateTimeout State = "command timeout"  // killed after the command timeout
	StateConnect State = "connect failure"  // refused, unreachable, DNS, connect timeout
	StateAuth    State = "auth failure"     // no accepted credentials
	StateHostKey State = "host key refused" // unknown or changed host key
	StateLost    State = "gateway lost"     // its agent died while it ran
	StateCancel  State = "cancelled"        // the job was cancelled first
	StateNoAgent State = "no agent"         // no live agent serves its gateway group
	StateError   State = "error"            // anything else (cannot run the worker, bad command)
)

// States lists the final states in the order summaries print them.
var States = []State{StateExited, StateTimeout, StateConnect, StateAuth, StateHostKey, StateLost, StateCancel, StateNoAgent, StateError}

// Kind is what an Event says about its nodes.
type Kind uint8

// Event kinds.
const (
	KindStart  Kind = 1 // the command started (At is set)
	KindStdout Kind = 2 // output lines, '\n'-separated in Data
	KindStderr Kind = 3 // error lines, '\n'-separated in Data
	KindEnd    Kind = 4 // final state (State, Reason, Code, At; Data: message)
	// KindDebug is a worker's debug line (clush -d: "EXECCLIENT: cmd",
	// "node1: b'ok'"), sent when the job's info key "debug" is true. Data
	// is the line as clush prints it; Nodes is empty (the line names its
	// node itself), so receivers pass it on without node bookkeeping.
	KindDebug Kind = 5
	// KindCut: see outcap.go.

	lastKind = KindCut
)

func (k Kind) String() string {
	switch k {
	case KindStart:
		return "start"
	case KindStdout:
		return "stdout"
	case KindStderr:
		return "stderr"
	case KindEnd:
		return "end"
	case KindWritten:
		return "written"
	case KindTree:
		return "tree"
	case KindDebug:
		return "debug"
	case KindCut:
		return "cut"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Event is the unit of a node's life on the wire: its start, output
// lines, final state, for one or more nodes (several when an agent sends
// identical output once for every node that gave it). Events travel in
// an EventBatch.
//
// Stdout and Stderr events carry one or more lines joined by '\n' (no
// trailing '\n'); Partial means the last line continues in the next
// event of the same node and stream (lines longer than a batch are cut).
type Event struct {
	Kind    Kind
	Partial bool
	Nodes   []uint32 // node indexes, ascending
	State   State    // KindEnd
	// Reason is KindEnd's finer cause within State: the engine's failure
	// reason (engine.Reason: "host key changed" or "host key unknown"
	// within StateHostKey, "connect timeout" or "connection refused"
	// within StateConnect, ...); "" when the engine gave none (an exit,
	// or a state the coordinator decided: no agent, gateway lost).
	Reason string
	Code   int // KindEnd: exit status (255 for failures, as ssh)
	At     time.Time
	Data   []byte
}

// EventBatch is a numbered batch of events: agent → coordinator (Shard,
// Attempt, Agent set; node indexes into the shard) or coordinator → csub
// (the output stream; node indexes into the job).
type EventBatch struct {
	Job     string
	Shard   string
	Attempt int
	Agent   string
	Seq     uint64
	// Last marks the final batch of an output stream.
	Last bool
	// Indexed says First is set: on every batch of an output stream
	// (coordinator → csub), none of an agent's.
	Indexed bool
	// First is the record index of Events[0] in the job's output: the
	// number of records the coordinator emitted before it. A batch's
	// events have consecutive indexes; a reader that sees a batch start
	// past the index it expects knows exactly which records it will
	// never get (lines the coordinator did not keep for a replay), and
	// one that re-attached drops those it already has. An empty batch
	// (the Last one) has the index of the record that would come next.
	First  uint64
	Events []Event
}

// Limits that bound what a decoder allocates, whatever it is sent.
const (
	// MaxEventNodes bounds the nodes one event may name.
	MaxEventNodes = 1 << 22
	// MaxPayload is the largest batch a sender should produce; it stays
	// under NATS's default max_payload (1 MiB) with room for headers.
	MaxPayload = 1<<20 - 4<<10
)

const (
	batchMagic  = 0xF1
	flagPartial = 0x80
	flagLast    = 0x01
	flagIndexed = 0x02
)

// ErrMalformed is wrapped by every batch decoding error.
var ErrMalformed = errors.New("malformed event batch")

// Size estimates the encoded size of r (an upper bound): node lists are
// runs, so a gathered event for node[1-10000] costs a few bytes.
func (r *Event) Size() int {
	runs := 0
	for i, n := range r.Nodes {
		if i == 0 || n != r.Nodes[i-1]+1 {
			runs++
		}
	}
	return 1 + 10 + 10*runs + len(r.State) + len(r.Reason) + 30 + len(r.Data)
}

// MarshalBinary encodes the batch.
func (b *EventBatch) MarshalBinary() ([]byte, error) {
	return b.AppendBinary(make([]byte, 0, b.sizeHint()))
}

func (b *EventBatch) sizeHint() int {
	n := 64 + len(b.Job) + len(b.Shard) + len(b.Agent)
	for i := range b.Events {
		r := &b.Events[i]
		n += 16 + 4*len(r.Nodes) + len(r.State) + len(r.Reason) + len(r.Data)
	}
	return n
}

// AppendBinary appends the batch's encoding to buf.
func (b *EventBatch) AppendBinary(buf []byte) ([]byte, error) {
	var flags byte
	if b.Last {
		flags |= flagLast
	}
	if b.Indexed {
		flags |= flagIndexed
	}
	buf = appendHeader(buf, batchMagic, header{flags, b.Job, b.Shard, b.Attempt})
	buf = appendString(buf, b.Agent)
	buf = binary.AppendUvarint(buf, b.Seq)
	if b.Indexed {
		buf = binary.AppendUvarint(buf, b.First)
	}
	buf = binary.AppendUvarint(buf, uint64(len(b.Events)))
	for i := range b.Events {
		r := &b.Events[i]
		if !validKind(r.Kind) {
			return nil, fmt.Errorf("encode batch %s seq %d: event %d: bad kind %d", b.Job, b.Seq, i, r.Kind)
		}
		k := byte(r.Kind)
		if r.Partial {
			k |= flagPartial
		}
		buf = append(buf, k)
		var err error
		if buf, err = appendNodes(buf, r.Nodes); err != nil {
			return nil, fmt.Errorf("encode batch %s seq %d: event %d: %w", b.Job, b.Seq, i, err)
		}
		switch r.Kind {
		case KindStart:
			buf = binary.AppendVarint(buf, r.At.UnixMicro())
		case KindEnd:
			buf = appendString(buf, string(r.State))
			buf = appendString(buf, r.Reason)
			buf = binary.AppendVarint(buf, int64(r.Code))
			buf = binary.AppendVarint(buf, r.At.UnixMicro())
		}
		buf = binary.AppendUvarint(buf, uint64(len(r.Data)))
		buf = append(buf, r.Data...)
	}
	return buf, nil
}

// AppendNodeRuns appends ascending node indexes as the runs a batch
// encodes them in (a job's journal keeps shards' nodes so).
func AppendNodeRuns(buf []byte, nodes []uint32) ([]byte, error) { return appendNodes(buf, nodes) }

// appendNodes writes ascending indexes as runs: count, then for each run
// the gap from the previous run's end and the run's length. Gathered
// events for node[1-10000] cost a few bytes.
func appendNodes(buf []byte, nodes []uint32) ([]byte, error) {
	nruns := 0
	for i := range nodes {
		if i > 0 && nodes[i] <= nodes[i-1] {
			return nil, fmt.Errorf("node indexes not ascending at %d", i)
		}
		if i == 0 || nodes[i] != nodes[i-1]+1 {
			nruns++
		}
	}
	buf = binary.AppendUvarint(buf, uint64(nruns))
	next := uint32(0)
	for i := 0; i < len(nodes); {
		j := i + 1
		for j < len(nodes) && nodes[j] == nodes[j-1]+1 {
			j++
		}
		buf = binary.AppendUvarint(buf, uint64(nodes[i]-next))
		buf = binary.AppendUvarint(buf, uint64(j-i-1))
		next = nodes[j-1] + 1
		i = j
	}
	return buf, nil
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// Decoding bounds. A batch's events may name a node several times (its
// start, a gathered output chunk, its end, the stdin it took), and a run
// of indexes costs a few bytes whatever its length, so the node indexes a
// batch expands to are bounded by the set they index, not by its size:
// at most RefsPerNode references per node of that set, plus one per byte
// of the message (short runs, which a message pays for in bytes).
const RefsPerNode = 8

// MaxNodeRefs is the most node indexes Decode expands a batch of size
// bytes to, for a set of nodes nodes.
func MaxNodeRefs(size, nodes int) int { return size + RefsPerNode*nodes }

// UnmarshalBinary decodes a batch whose indexes may name up to
// MaxShardNodes nodes: receivers that know the set the batch indexes (a
// shard's, a job's) call Decode with its size instead. Event data
// aliases data.
func (b *EventBatch) UnmarshalBinary(data []byte) error {
	return b.Decode(data, MaxShardNodes)
}

// Decode decodes a batch whose node indexes index a set of nodes nodes
// (a shard's nodes in an agent's batch, a job's in the output stream): an
// index out of it is malformed, and the batch may expand to at most
// MaxNodeRefs(len(data), nodes) indexes, which Decode checks before it
// allocates them. What Decode allocates is thus bounded by the message
// and the set it indexes: at most 4 bytes per node reference and about
// 40 bytes per byte of data (an event is 3 bytes or more on the wire and
// 120 in memory), measured by FuzzBatchAlloc. Event data aliases data.
func (b *EventBatch) Decode(data []byte, nodes int) error {
	d := decoder{buf: data}
	n := d.batchHeader(b, data)
	if d.err != nil {
		return d.err
	}
	nodes = min(max(nodes, 0), 1<<32)
	d.nodeLimit = uint64(nodes)
	d.refsMax = uint64(MaxNodeRefs(len(data), nodes))
	d.refsLeft = d.refsMax
	b.Events = make([]Event, 0, min(n, uint64(len(data)/3+1)))
	for i := uint64(0); i < n && d.err == nil; i++ {
		var r Event
		k := d.byte()
		r.Kind, r.Partial = Kind(k&^flagPartial), k&flagPartial != 0
		if !validKind(r.Kind) {
			d.fail("record %d: bad kind %d", i, r.Kind)
			break
		}
		r.Nodes = d.nodes()
		switch r.Kind {
		case KindStart:
			r.At = time.UnixMicro(d.varint())
		case KindEnd:
			r.State = knownState(d.bytes())
			r.Reason = d.string()
			r.Code = int(d.varint())
			r.At = time.UnixMicro(d.varint())
		}
		r.Data = d.bytes()
		b.Events = append(b.Events, r)
	}
	if d.err != nil {
		return d.err
	}
	if len(d.buf) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(d.buf))
	}
	return nil
}

// DecodeHeader decodes what a batch says of itself (Job, Shard, Attempt,
// Agent, Seq, Last, First) and leaves Events nil: a receiver finds the set the
// batch indexes from it, then calls Decode.
func (b *EventBatch) DecodeHeader(data []byte) error {
	d := decoder{buf: data}
	d.batchHeader(b, data)
	return d.err
}

// batchHeader decodes the batch's header into b and returns its event
// count.
func (d *decoder) batchHeader(b *EventBatch, data []byte) uint64 {
	h, ok := d.header(batchMagic)
	if !ok {
		d.fail("bad magic")
		return 0
	}
	*b = EventBatch{Job: h.job, Shard: h.shard, Attempt: h.attempt, Last: h.flags&flagLast != 0, Indexed: h.flags&flagIndexed != 0}
	b.Agent = d.string()
	b.Seq = d.uvarint(1<<63 - 1)
	if b.Indexed {
		b.First = d.uvarint(1<<63 - 1)
	}
	return d.uvarint(uint64(len(data))) // every event takes at least 3 bytes
}

// knownState returns the State p names without allocating for the
// states this package defines.
func knownState(p []byte) State {
	for _, st := range States {
		if string(st) == string(p) {
			return st
		}
	}
	return State(p)
}

type decoder struct {
	buf []byte
	err error
	// nodeLimit bounds node indexes (exclusive); refsLeft is what is
	// left of refsMax, the indexes node lists may expand to
	// (EventBatch.Decode).
	nodeLimit, refsMax, refsLeft uint64
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
	d.buf = nil
}

func (d *decoder) byte() byte {
	if len(d.buf) < 1 {
		d.fail("truncated")
		return 0
	}
	c := d.buf[0]
	d.buf = d.buf[1:]
	return c
}

func (d *decoder) uvarint(max uint64) uint64 {
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.buf = d.buf[n:]
	if v > max {
		d.fail("value %d over %d", v, max)
		return 0
	}
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.buf)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint(uint64(len(d.buf)))
	if d.err == nil && n > uint64(len(d.buf)) {
		d.fail("length %d over the %d bytes left", n, len(d.buf))
	}
	if d.err != nil {
		return nil
	}
	p := d.buf[:n:n]
	d.buf = d.buf[n:]
	return p
}

func (d *decoder) string() string { return string(d.bytes()) }

// nodes reads a node list: it checks the runs first, against the node
// limit and the references left, and allocates only then, exactly.
func (d *decoder) nodes() []uint32 {
	nruns := d.uvarint(uint64(len(d.buf)))
	runs := d.buf
	total, next := uint64(0), uint64(0)
	for i := uint64(0); i < nruns && d.err == nil; i++ {
		start := next + d.uvarint(d.nodeLimit)
		length := d.uvarint(d.nodeLimit) + 1
		if d.err != nil {
			return nil
		}
		if start+length > d.nodeLimit {
			d.fail("node run %d+%d out of the %d nodes indexed", start, length, d.nodeLimit)
			return nil
		}
		total += length
		next = start + length
	}
	if d.err != nil {
		return nil
	}
	if total > d.refsLeft {
		d.fail("node lists over %d references (%d per node indexed, plus the message's size)", d.refsMax, RefsPerNode)
		return nil
	}
	d.refsLeft -= total
	if total == 0 {
		return nil
	}
	nodes := make([]uint32, 0, total)
	r := decoder{buf: runs}
	next = 0
	for range nruns {
		start := next + r.uvarint(d.nodeLimit)
		length := r.uvarint(d.nodeLimit) + 1
		for j := range length {
			nodes = append(nodes, uint32(start+j))
		}
		next = start + length
	}
	return nodes
}
