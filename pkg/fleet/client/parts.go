package client

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// headerRoom is what a message needs beyond its JSON body: the protocol
// headers and NATS's framing.
const headerRoom = 512

// maxPayload is the largest message the fleet's NATS server takes.
func (c *Client) maxPayload() int {
	if n := int(c.Conn.MaxPayload()); n > 0 {
		return n
	}
	return protocol.MaxPayload
}

// sendNodeParts makes spec fit under the server's max_payload: when the
// JobSpec is too large, its folded node set goes first in SubmitParts
// and spec is left with Nodes empty and NodeParts set (see
// protocol.SubmitPart). The caller keeps its own copy of the spec.
func (c *Client) sendNodeParts(ctx context.Context, spec *protocol.JobSpec) error {
	limit := c.maxPayload() - headerRoom
	data, err := protocol.Marshal(spec)
	if err != nil {
		return err
	}
	if len(data) <= limit {
		return nil
	}
	nodes := spec.Nodes
	bare := *spec
	bare.Nodes, bare.NodeParts = "", protocol.MaxSubmitParts
	if data, err = protocol.Marshal(&bare); err != nil {
		return err
	}
	if len(data) > limit {
		return fmt.Errorf("the job is %d bytes without its nodes, over the %d bytes a message may have on the fleet's NATS server (max_payload)",
			len(data), limit+headerRoom)
	}
	empty, err := protocol.Marshal(protocol.SubmitPart{Job: spec.ID, Part: protocol.MaxSubmitParts})
	if err != nil {
		return err
	}
	pieces := cutJSON(nodes, limit-len(empty))
	if len(pieces) > protocol.MaxSubmitParts {
		return fmt.Errorf("the folded node set is %d bytes: more than %d parts of %d bytes", len(nodes), protocol.MaxSubmitParts, limit-len(empty))
	}
	for i, p := range pieces {
		var reply protocol.SubmitReply
		if err := c.request(ctx, c.Subjects.Submit(c.user()), protocol.TypeSubmitPart,
			protocol.SubmitPart{Job: spec.ID, Part: i, Nodes: p}, &reply); err != nil {
			return err
		}
		if reply.Error != "" {
			return &RefusedError{Job: spec.ID, Reason: reply.Error, Code: reply.Code}
		}
	}
	spec.Nodes, spec.NodeParts = "", len(pieces)
	return nil
}

// cutJSON cuts s at character boundaries into pieces that each encode
// in at most budget bytes of JSON string (quotes included).
func cutJSON(s string, budget int) []string {
	budget = max(budget-2, 6) // the quotes; room for one escaped rune
	var out []string
	start, cost := 0, 0
	for i, r := range s {
		n := 1
		if r >= utf8.RuneSelf || r < 0x20 || r == '"' || r == '\\' || r == '<' || r == '>' || r == '&' {
			n = 6 // \uXXXX: an upper bound for any rune encoding/json escapes
			if r >= utf8.RuneSelf {
				n = max(utf8.RuneLen(r), 6)
			}
		}
		if cost+n > budget {
			out = append(out, s[start:i])
			start, cost = i, 0
		}
		cost += n
	}
	return append(out, s[start:])
}
