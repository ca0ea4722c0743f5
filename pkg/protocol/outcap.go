package protocol

import "encoding/binary"

// Output caps. Each node of a job may send at most JobSpec.MaxOutput bytes
// of output, standard output and error together (DefaultMaxOutput when
// the spec says 0), and never more than its agent's own ceiling: what it
// prints past that is dropped where it enters the fleet, in the agent's
// engine, so that neither agent, coordinator nor submitter ever holds or
// carries more than the cap per node. The command runs on and keeps its
// exit status; a KindCut event, after the node's output up to the cap,
// says the rest was dropped.
const (
	// DefaultMaxOutput is a job's cap when it names none: 1 MiB a node.
	// It never bites what admins run on thousands of nodes (uname -r,
	// rpm -qa, dmesg of a typical boot), and a gathering submitter
	// (csub -b) of 4 000 nodes that each print something of their own
	// holds at most 4 GiB.
	DefaultMaxOutput int64 = 1 << 20
	// MaxOutputLimit bounds JobSpec.MaxOutput: 1 TiB, beyond any
	// agent's ceiling; csub's in-process fleet, whose one user owns the
	// process, uses it as its agent's ceiling.
	MaxOutputLimit int64 = 1 << 40
)

// KindCut is an event saying that its nodes' output was cut at a cap
// (after the output up to it): Data is the cap in bytes (a uvarint), then
// one byte, 1 when the cap was the agent's ceiling rather than the job's
// own (see CutEvent).
const KindCut Kind = 6

// CutEvent returns the event saying that the output of nodes was cut at
// limit bytes; byAgent says the limit was the agent's ceiling, lower than
// the job asked.
func CutEvent(nodes []uint32, limit int64, byAgent bool) Event {
	data := binary.AppendUvarint(nil, uint64(max(limit, 0)))
	flag := byte(0)
	if byAgent {
		flag = 1
	}
	return Event{Kind: KindCut, Nodes: nodes, Data: append(data, flag)}
}

// Cut returns the cap of a KindCut event and whether it was the agent's
// ceiling (0 and false when r is not one, or is malformed).
func (r *Event) Cut() (limit int64, byAgent bool) {
	if r.Kind != KindCut {
		return 0, false
	}
	n, k := binary.Uvarint(r.Data)
	if k <= 0 || n > uint64(MaxOutputLimit) {
		return 0, false
	}
	return int64(n), k < len(r.Data) && r.Data[k] == 1
}

// OutputLimit returns the cap a node of a job gets from an agent whose
// ceiling is ceiling (0: none): the job's MaxOutput (DefaultMaxOutput
// when 0), lowered to the ceiling; byAgent says the ceiling applied.
func (s *JobSpec) OutputLimit(ceiling int64) (limit int64, byAgent bool) {
	limit = s.MaxOutput
	if limit <= 0 {
		limit = DefaultMaxOutput
	}
	if ceiling > 0 && limit > ceiling {
		return ceiling, true
	}
	return limit, false
}
