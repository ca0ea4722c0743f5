package protocol

import "fmt"

// Limits on the size of a job. Every process checks the count of a node
// set (NodeSet.Len, cheap on a folded set) before it expands it, so a
// few bytes such as "n[1-100000000]" never make one allocate gigabytes.
const (
	// DefaultMaxJobNodes is the most nodes a job may have unless the
	// coordinator is configured otherwise (csub checks the same limit
	// before it expands the set).
	DefaultMaxJobNodes = 1_000_000
	// MaxShardNodes is the most nodes an agent takes in one shard, and
	// so the highest limit a coordinator may be configured with.
	MaxShardNodes = MaxEventNodes
	// MaxSubmitParts bounds the SubmitParts of one job, and
	// MaxSubmitBytes the folded node set they carry together.
	MaxSubmitParts = 256
	MaxSubmitBytes = 64 << 20
)

// SubmitPart carries a piece of a job's folded node set when the JobSpec
// would not fit in one message under the NATS server's max_payload: the
// submitter sends parts 0, 1, ... on the Submit subject (request/reply,
// each answered by a SubmitReply without Nodes), then the JobSpec with
// NodeParts set and Nodes empty. The job's Nodes is the concatenation of
// the parts' Nodes, byte for byte: a piece may end anywhere in the
// folded text (at a character boundary). The coordinator forgets parts
// whose JobSpec does not follow within a minute.
type SubmitPart struct {
	Job   string `json:"job"`
	Part  int    `json:"part"`
	Nodes string `json:"nodes"`
}

// TooManyNodesError is the refusal of a node set over a job's node limit.
type TooManyNodesError struct {
	Nodes int    // nodes in the set
	Limit int    // the most allowed
	Who   string // whose limit ("the coordinator", "csub")
	How   string // how to raise it, or ""
}

func (e *TooManyNodesError) Error() string {
	msg := fmt.Sprintf("a job of %d nodes: over %s's limit of %d nodes per job", e.Nodes, e.Who, e.Limit)
	if e.How != "" {
		msg += " (" + e.How + ")"
	}
	return msg
}
