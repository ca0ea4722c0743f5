package coordinator

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// A shard carries its nodes as a folded node set (protocol.Shard.Nodes).
// The set must fit, with the rest of the shard message, under the NATS
// server's max_payload; a set that does not (names that fold badly, or a
// job with a large standard input) is cut in halves until each half fits,
// each half one shard of its own.

// headerRoom is what a shard message needs beyond its JSON body: the
// protocol headers and NATS's framing.
const headerRoom = 512

// piece is the part of a group's nodes one shard message carries.
type piece struct {
	fold  string   // the folded set the shard carries
	nodes []uint32 // job indexes, in the order of fold's expansion
	err   error    // not even one node fits in a message
}

// shardBudget returns how many bytes of JSON-encoded folded set a shard
// of j may carry: max_payload less the rest of the message.
func (c *Coordinator) shardBudget(j *job, group string) int {
	msg := protocol.Shard{Job: j.spec.ID, ID: "s" + strconv.Itoa(1<<30), Attempt: 1 << 30, Group: group,
		Spec: j.spec, Window: c.cfg.Window, MaxBatch: c.cfg.MaxBatch}
	msg.Spec.Nodes, msg.Spec.NodeParts = "", 0
	// Measured signed, as it goes out (the envelope and the grant around
	// the shard), for the longest agent id; the times of the grant vary
	// in length by a few bytes.
	data, err := protocol.SignShard(c.cfg.SigningKey, strings.Repeat("a", 64), &msg, time.Now(), c.cfg.ShardTTL)
	if err != nil {
		return 0
	}
	return c.maxPayload() - len(data) - headerRoom - grantSlack
}

// grantSlack covers the length a grant's times may vary by.
const grantSlack = 64

// maxPayload is the largest message the NATS server takes.
func (c *Coordinator) maxPayload() int {
	if c.nc != nil {
		if n := int(c.nc.MaxPayload()); n > 0 {
			return n
		}
	}
	return protocol.MaxPayload
}

// pieces cuts nodes (job indexes, any order) into pieces whose folded set
// encodes in at most budget bytes, each a run of nodes in job order.
func (j *job) pieces(nodes []uint32, budget int) []piece {
	idx := slices.Clone(nodes)
	slices.Sort(idx)
	var out []piece
	var cut func(idx []uint32)
	cut = func(idx []uint32) {
		fold := j.fold(idx)
		size := jsonLen(fold)
		switch {
		case size <= budget:
			out = append(out, j.ordered(fold, idx))
		case len(idx) == 1:
			out = append(out, piece{nodes: idx, err: fmt.Errorf(
				"the shard message for this node would be over the NATS server's max_payload of %d bytes (a %d-byte folded node set, %d bytes left for it): raise max_payload, or send less standard input",
				j.c.maxPayload(), size, max(budget, 0))})
		default:
			// As many parts as the size says (folding again at each
			// halving would cost a pass over the names per level), one
			// more for the parts that fold worse than the whole.
			k := min(size/max(budget, 1)+1, len(idx))
			for i := range k {
				lo, hi := i*len(idx)/k, (i+1)*len(idx)/k
				cut(idx[lo:hi:hi])
			}
		}
	}
	cut(idx)
	return out
}

// fold returns the folded set of job indexes idx (ascending).
func (j *job) fold(idx []uint32) string {
	set := nodeset.New()
	for _, i := range idx {
		_ = set.AddNode(j.nodes[i]) // a name of a parsed set: valid
	}
	return set.String()
}

// ordered returns the piece of fold, its nodes in the order the agent
// will number them: the expansion of fold. That is job order for
// one-dimensional names; a multi-dimensional set may expand a subset in
// another order than the whole, and then the indexes are reordered.
func (j *job) ordered(fold string, idx []uint32) piece {
	set, err := nodeset.Parse(fold)
	if err != nil || set.Len() != len(idx) {
		return piece{nodes: idx, err: fmt.Errorf("the coordinator cannot fold these nodes into a shard: %q parses to %d nodes, not %d (%v)", fold, set.Len(), len(idx), err)}
	}
	k, same := 0, true
	for name := range set.All() {
		if j.nodes[idx[k]] != name {
			same = false
			break
		}
		k++
	}
	if same {
		return piece{fold: fold, nodes: idx}
	}
	pos := make(map[string]uint32, len(idx))
	for _, i := range idx {
		pos[j.nodes[i]] = i
	}
	order := make([]uint32, 0, len(idx))
	for name := range set.All() {
		order = append(order, pos[name])
	}
	return piece{fold: fold, nodes: order}
}

// jsonLen is the length of s encoded as a JSON string.
func jsonLen(s string) int {
	data, err := json.Marshal(s)
	if err != nil {
		return len(s) * 6
	}
	return len(data)
}
