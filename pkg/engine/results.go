package engine

import (
	"bytes"
	"cmp"
	"iter"
	"maps"
	"slices"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// resKey identifies the output of one node for one worker: a task may run
// several workers on the same node.
type resKey struct {
	w    *Worker
	node string
}

// results are what a task's last run produced. They are written on the
// loop goroutine only, and read by handlers or after the run.
type results struct {
	out, err resTree
	rc       map[resKey]int
	fail     map[resKey]*NodeError
	timeouts []resKey
	keepOut  bool
	keepErr  bool
}

type resTree struct{ MsgTree[resKey] }

func newResults() *results {
	return &results{rc: map[resKey]int{}, fail: map[resKey]*NodeError{}, keepOut: true, keepErr: true}
}

func (r *results) reset() {
	r.out.Clear()
	r.err.Clear()
	r.rc = map[resKey]int{}
	r.fail = map[resKey]*NodeError{}
	r.timeouts = nil
}

// walkWorker groups a tree's messages of one worker (nil: all) by node set.
func (t *resTree) walkWorker(w *Worker) iter.Seq2[[]byte, *nodeset.NodeSet] {
	return func(yield func([]byte, *nodeset.NodeSet) bool) {
		type group struct {
			msg   []byte
			nodes *nodeset.NodeSet
		}
		var groups []group
		for msg, keys := range t.Walk() {
			ns := nodeset.New()
			for _, k := range keys {
				if w == nil || k.w == w {
					addNode(ns, k.node)
				}
			}
			if ns.Len() > 0 {
				groups = append(groups, group{msg, ns})
			}
		}
		sortGroups(groups, func(g group) *nodeset.NodeSet { return g.nodes }, func(g group) []byte { return g.msg })
		for _, g := range groups {
			if !yield(g.msg, g.nodes) {
				return
			}
		}
	}
}

// addNode adds a node name or a job key to a result set. Every target
// came from a parsed node set, so it parses back; only an empty key could
// fail, and Options never makes one.
func addNode(ns *nodeset.NodeSet, node string) {
	_ = ns.AddNode(node)
}

// sortGroups orders groups as clush -b prints them: larger node sets
// first, then by their first node, then by content.
func sortGroups[G any](gs []G, nodes func(G) *nodeset.NodeSet, msg func(G) []byte) {
	slices.SortStableFunc(gs, func(a, b G) int {
		na, nb := nodes(a), nodes(b)
		if c := cmp.Compare(nb.Len(), na.Len()); c != 0 {
			return c
		}
		if c := cmp.Compare(firstNode(na), firstNode(nb)); c != 0 {
			return c
		}
		return bytes.Compare(msg(a), msg(b))
	})
}

func firstNode(ns *nodeset.NodeSet) string {
	for n := range ns.All() {
		return n
	}
	return ""
}

func (r *results) iterRetcodes(w *Worker) iter.Seq2[int, *nodeset.NodeSet] {
	return func(yield func(int, *nodeset.NodeSet) bool) {
		by := map[int]*nodeset.NodeSet{}
		for k, rc := range r.rc {
			if w != nil && k.w != w {
				continue
			}
			if by[rc] == nil {
				by[rc] = nodeset.New()
			}
			addNode(by[rc], k.node)
		}
		for _, rc := range slices.Sorted(maps.Keys(by)) {
			if !yield(rc, by[rc]) {
				return
			}
		}
	}
}

// Gathered is one block of gathered output: the nodes that gave the same
// output with the same exit status, as clush -b groups them.
type Gathered struct {
	Nodes  *nodeset.NodeSet
	RC     int
	Output []byte
}

func (r *results) gathered(w *Worker) []Gathered {
	type gk struct {
		msg string
		rc  int
	}
	by := map[gk]*nodeset.NodeSet{}
	var order []gk
	for msg, keys := range r.out.Walk() {
		for _, k := range keys {
			if w != nil && k.w != w {
				continue
			}
			rc, ok := r.rc[k]
			if !ok {
				continue // timed out: clush does not print it
			}
			key := gk{string(msg), rc}
			if by[key] == nil {
				by[key] = nodeset.New()
				order = append(order, key)
			}
			addNode(by[key], k.node)
		}
	}
	out := make([]Gathered, 0, len(order))
	for _, k := range order {
		out = append(out, Gathered{by[k], k.rc, []byte(k.msg)})
	}
	slices.SortStableFunc(out, func(a, b Gathered) int { return cmp.Compare(a.RC, b.RC) })
	// within an exit status: larger sets first, then first node
	for i := 0; i < len(out); {
		j := i
		for j < len(out) && out[j].RC == out[i].RC {
			j++
		}
		sortGroups(out[i:j], func(g Gathered) *nodeset.NodeSet { return g.Nodes }, func(g Gathered) []byte { return g.Output })
		i = j
	}
	return out
}
