package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Standard input of a job streams as it comes (JobSpec.Stdin set):
//
//	csub        ── Stdin.<job> (StdinChunk) ─────────▶ coordinator    request/reply (StdinAck)
//	coordinator ── AgentStdin.<agent> (StdinChunk) ──▶ agent          request/reply (StdinAck)
//
// Chunks are numbered from 1 per sender (Seq) and sent one at a time: the
// receiver answers once it has taken the chunk, which is the flow control
// (a receiver with no room answers later). A sender whose request timed
// out sends the same chunk again; the receiver acknowledges a chunk it
// has already taken without taking it twice. The chunk with EOF set ends
// the stream (it may carry data too).
//
// Agents report the bytes their nodes' commands took with KindWritten
// events in their event batches; the coordinator passes them on to the
// submitter (clush's --progress write rate).

// Message types of the stdin stream.
const (
	TypeStdinChunk = "stdin-chunk"
	TypeStdinAck   = "stdin-ack"
)

// StdinChunkSize is the most data a sender puts in one chunk.
const StdinChunkSize = 256 << 10

// KindWritten is an event of the bytes of standard input the commands of
// its nodes took: Data is the count, a uvarint (see WrittenEvent). It is
// numbered apart from the output kinds, which may grow.
const KindWritten Kind = 16

// validKind tells the kinds a batch may carry.
func validKind(k Kind) bool {
	return k >= KindStart && k <= lastKind || k == KindWritten || k == KindTree
}

// WrittenEvent returns the event saying that the commands of nodes took
// n bytes of standard input in all.
func WrittenEvent(nodes []uint32, n uint64) Event {
	return Event{Kind: KindWritten, Nodes: nodes, Data: binary.AppendUvarint(nil, n)}
}

// Written returns the byte count of a KindWritten event (0 when r is not
// one, or is malformed).
func (r *Event) Written() uint64 {
	if r.Kind != KindWritten {
		return 0
	}
	n, k := binary.Uvarint(r.Data)
	if k <= 0 {
		return 0
	}
	return n
}

// StdinChunk is a piece of a job's standard input: csub → coordinator
// (Shard empty), coordinator → agent (Shard and Attempt name the shard
// attempt the chunk is for).
type StdinChunk struct {
	Job     string
	Shard   string
	Attempt int
	Seq     uint64
	EOF     bool
	Data    []byte
}

// StdinAck answers a StdinChunk: Seq is the last chunk the receiver has
// taken, in order. Done tells the sender to stop: nothing reads the
// stream any more (the job or the shard ended), what follows is dropped.
// Error is a refusal (unknown job or shard, bad chunk).
type StdinAck struct {
	Seq   uint64 `json:"seq"`
	Done  bool   `json:"done,omitempty"`
	Error string `json:"error,omitempty"`
}

const (
	stdinMagic = 0xF2
	flagEOF    = 0x01
)

// ErrMalformedStdin is wrapped by every chunk decoding error.
var ErrMalformedStdin = errors.New("malformed stdin chunk")

// MarshalBinary encodes the chunk.
func (c *StdinChunk) MarshalBinary() ([]byte, error) {
	if len(c.Data) > StdinChunkSize {
		return nil, fmt.Errorf("stdin chunk %s seq %d: %d bytes, over %d", c.Job, c.Seq, len(c.Data), StdinChunkSize)
	}
	var flags byte
	if c.EOF {
		flags |= flagEOF
	}
	buf := make([]byte, 0, 32+len(c.Job)+len(c.Shard)+len(c.Data))
	buf = appendHeader(buf, stdinMagic, header{flags, c.Job, c.Shard, c.Attempt})
	buf = binary.AppendUvarint(buf, c.Seq)
	buf = binary.AppendUvarint(buf, uint64(len(c.Data)))
	return append(buf, c.Data...), nil
}

// UnmarshalBinary decodes a chunk. Data aliases data.
func (c *StdinChunk) UnmarshalBinary(data []byte) error {
	d := decoder{buf: data}
	h, ok := d.header(stdinMagic)
	if !ok {
		return fmt.Errorf("%w: bad magic", ErrMalformedStdin)
	}
	*c = StdinChunk{Job: h.job, Shard: h.shard, Attempt: h.attempt, EOF: h.flags&flagEOF != 0}
	c.Seq = d.uvarint(1<<63 - 1)
	c.Data = d.bytes()
	switch {
	case d.err != nil:
		return fmt.Errorf("%w: %w", ErrMalformedStdin, d.err)
	case len(d.buf) != 0:
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformedStdin, len(d.buf))
	case len(c.Data) > StdinChunkSize:
		return fmt.Errorf("%w: %d bytes of data, over %d", ErrMalformedStdin, len(c.Data), StdinChunkSize)
	case c.Seq == 0:
		return fmt.Errorf("%w: sequence number 0", ErrMalformedStdin)
	}
	return nil
}

// Stdin is where user, job's submitter, sends its standard input
// (request/reply).
func (s Subjects) Stdin(user, job string) string { return s.p() + ".in." + user + "." + job }

// AllStdin matches every job's standard input.
func (s Subjects) AllStdin() string { return s.p() + ".in.*.*" }

// AgentStdin is where the coordinator sends the standard input of the
// shards agent holds (request/reply).
func (s Subjects) AgentStdin(agent string) string { return s.p() + ".agentin." + agent }
