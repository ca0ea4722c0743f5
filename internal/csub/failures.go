package csub

import (
	"strings"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// maxReasons is how many distinct reasons of one failure state get a line
// of their own; the nodes with further reasons share one line that shows
// the first of them as an example (--json gives every node's).
const maxReasons = 3

// failGroup gathers the nodes that ended in one failure state, by reason.
type failGroup struct {
	state   protocol.State
	nodes   []uint32      // all of them, in the order they ended
	reasons []reasonNodes // the first maxReasons distinct reasons
	// other holds the nodes whose reason is none of those; otherReason is
	// the first such reason.
	other       []uint32
	otherReason string
}

// reasonNodes is one reason and the nodes that gave it.
type reasonNodes struct {
	reason string
	nodes  []uint32
}

// add records that node (named name) ended with reason.
func (g *failGroup) add(node uint32, name, reason string) {
	g.nodes = append(g.nodes, node)
	reason = generalReason(reason, name)
	for i := range g.reasons {
		if g.reasons[i].reason == reason {
			g.reasons[i].nodes = append(g.reasons[i].nodes, node)
			return
		}
	}
	if len(g.reasons) < maxReasons {
		g.reasons = append(g.reasons, reasonNodes{reason, []uint32{node}})
		return
	}
	if len(g.other) == 0 {
		g.otherReason = reason
	}
	g.other = append(g.other, node)
}

// generalReason writes the node's own name in reason as %h (clush's
// placeholder for it), so that nodes failing the same way ("Could not
// resolve hostname n1", "... n2") share one line.
func generalReason(reason, name string) string {
	if name == "" || !strings.Contains(reason, name) {
		return reason
	}
	var b strings.Builder
	rest := reason
	for {
		i := strings.Index(rest, name)
		if i < 0 {
			b.WriteString(rest)
			return b.String()
		}
		end := i + len(name)
		before, after := byte(' '), byte(' ')
		if i > 0 {
			before = rest[i-1]
		}
		if end < len(rest) {
			after = rest[end]
		}
		b.WriteString(rest[:i])
		if nameByte(before) || nameByte(after) {
			b.WriteString(name) // part of a longer name: n1 in n10
		} else {
			b.WriteString("%h")
		}
		rest = rest[end:]
	}
}

// nameByte tells the bytes a node name may continue with.
func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c >= 0x80
}

// printFailures prints one line per failure state clush has no words for
// (connect, auth, host key failures, lost gateway, no agent, cancel,
// error) and reason, naming the state, the folded nodes and the reason
// (with the node's own name as %h); nodes past maxReasons distinct
// reasons share a line with one of theirs as an example. skipCancel
// leaves out the cancel that a Ctrl-C caused (the interrupt message
// lists those nodes).
func (r *renderer) printFailures(level int, skipCancel bool) {
	for _, st := range csubStates {
		for _, g := range r.res.fails {
			if g.state != st || skipCancel && st == protocol.StateCancel {
				continue
			}
			for _, rn := range g.reasons {
				r.printFailure(level, rn.nodes, st, rn.reason)
			}
			if len(g.other) > 0 {
				r.printFailure(level, g.other, st, g.otherReason+" (and other reasons: --json gives each node's)")
			}
		}
	}
}

func (r *renderer) printFailure(level int, nodes []uint32, st protocol.State, reason string) {
	if reason == "" {
		r.d.vprintErr(level, "%s: %s: %s", progName, r.res.nodeSet(nodes), st)
		return
	}
	r.d.vprintErr(level, "%s: %s: %s: %s", progName, r.res.nodeSet(nodes), st, reason)
}
