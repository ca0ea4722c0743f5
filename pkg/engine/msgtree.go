package engine

import (
	"cmp"
	"iter"
	"slices"
)

// MsgTree stores the output of many keys (nodes) so that identical output
// is stored once: a trie of lines where each key points at the element
// that ends its message, as ClusterShell's MsgTree. Memory grows with the
// distinct output, not with the number of keys.
//
// The zero value is an empty tree. A MsgTree is not safe for concurrent
// use; a Task only touches its trees from its loop goroutine.
type MsgTree[K comparable] struct {
	root msgElem
	keys map[K]*msgElem
	n    uint32 // elements created, for their seq
	// ends counts the keys whose message ends at each element; it is kept
	// only in a pruned tree (see Prune).
	ends map[*msgElem]int32
}

// Prune makes Remove free the lines of the removed key's message that no
// other key's message goes through, so that a tree whose keys come and go
// (an agent's running nodes, gathered until each ends) holds only the
// output of the keys it has. It costs two map updates per Add; a Task's
// trees, which keep every node's output to the end, do without. Call it on
// an empty tree.
func (t *MsgTree[K]) Prune() {
	if t.ends == nil {
		t.ends = make(map[*msgElem]int32)
	}
}

// msgElem is one line of the trie. It is kept to 48 bytes (the 48-byte
// size class): a gathered output of millions of lines has an element per
// distinct line position, so the line is a string (16 bytes, and the same
// string serves as the children's map key) and the depth an int32.
type msgElem struct {
	parent *msgElem
	line   string
	// Most elements have one child (a message goes on the same way for
	// every key), so the first child needs no map.
	first    *msgElem
	children map[string]*msgElem
	depth    int32
	// seq numbers the elements in the order they were created (modulo
	// 2^32), so that WalkTree visits children in ClusterShell's order.
	seq uint32
}

func (e *msgElem) child(line []byte, n *uint32) *msgElem {
	if e.first != nil && e.first.line == string(line) {
		return e.first
	}
	if c, ok := e.children[string(line)]; ok {
		return c
	}
	*n++
	c := &msgElem{parent: e, line: string(line), depth: e.depth + 1, seq: *n}
	if e.first == nil {
		e.first = c
	} else {
		if e.children == nil {
			e.children = make(map[string]*msgElem)
		}
		e.children[c.line] = c
	}
	return c
}

// Add appends one line to the message of key.
func (t *MsgTree[K]) Add(key K, line []byte) {
	if t.keys == nil {
		t.keys = make(map[K]*msgElem)
	}
	e := t.keys[key]
	if e == nil {
		e = &t.root
	}
	c := e.child(line, &t.n)
	t.keys[key] = c
	if t.ends != nil {
		t.unend(e) // e has a child now: it stays
		t.ends[c]++
	}
}

// unend counts one key less ending at e (pruned trees).
func (t *MsgTree[K]) unend(e *msgElem) {
	if n := t.ends[e] - 1; n > 0 {
		t.ends[e] = n
	} else {
		delete(t.ends, e)
	}
}

// free detaches e and its ancestors that no key's message goes through
// any more (pruned trees). A message already taken from e (Message's
// bytes) is a copy: it is not affected.
func (t *MsgTree[K]) free(e *msgElem) {
	for e != &t.root && e.first == nil && t.ends[e] == 0 {
		p := e.parent
		p.drop(e)
		e = p
	}
}

// drop removes child c of e. The first child is always the oldest: when
// it goes, the oldest of the others takes its place.
func (e *msgElem) drop(c *msgElem) {
	if e.first != c {
		delete(e.children, c.line)
	} else {
		var next *msgElem
		for _, o := range e.children {
			if next == nil || o.seq < next.seq {
				next = o
			}
		}
		e.first = next
		if next != nil {
			delete(e.children, next.line)
		}
	}
	if len(e.children) == 0 {
		e.children = nil
	}
}

// Len returns the number of keys with a message.
func (t *MsgTree[K]) Len() int { return len(t.keys) }

// Message returns the lines of key joined by "\n" (no final newline), and
// whether key has a message.
func (t *MsgTree[K]) Message(key K) ([]byte, bool) {
	e, ok := t.keys[key]
	if !ok {
		return nil, false
	}
	return e.message(), true
}

func (e *msgElem) message() []byte {
	n := 0
	for x := e; x.parent != nil; x = x.parent {
		n += len(x.line) + 1
	}
	buf := make([]byte, n-1)
	pos := len(buf)
	for x := e; x.parent != nil; x = x.parent {
		pos -= len(x.line)
		copy(buf[pos:], x.line)
		if pos > 0 {
			pos--
			buf[pos] = '\n'
		}
	}
	return buf
}

// Lines yields the lines of key's message.
func (t *MsgTree[K]) Lines(key K) [][]byte {
	e, ok := t.keys[key]
	if !ok {
		return nil
	}
	out := make([][]byte, e.depth)
	for x := e; x.parent != nil; x = x.parent {
		out[x.depth-1] = []byte(x.line)
	}
	return out
}

// Walk yields each distinct message once, with the keys that have it, in
// the order of first appearance of each message's key set is not
// specified: callers sort (by node set) as they need.
func (t *MsgTree[K]) Walk() iter.Seq2[[]byte, []K] {
	return func(yield func([]byte, []K) bool) {
		groups := make(map[*msgElem][]K)
		var order []*msgElem
		for k, e := range t.keys {
			if _, ok := groups[e]; !ok {
				order = append(order, e)
			}
			groups[e] = append(groups[e], k)
		}
		for _, e := range order {
			if !yield(e.message(), groups[e]) {
				return
			}
		}
	}
}

// MsgLine is one line of a MsgTree as WalkTree visits it.
type MsgLine[K comparable] struct {
	Line     string // the line, without its newline
	Depth    int    // 1 for the first line of a message
	Children int    // how many distinct lines follow this one
	Keys     []K    // the keys whose message ends with this line, in no order
}

// WalkTree visits every line of the tree depth first, in the order
// ClusterShell's MsgTree.walk and walk_trace do: a line before the lines
// that follow it, and of the distinct lines following the same one, the
// last one added first. The keys of a line's subtree are those of the
// lines WalkTree yields from it until the next line of the same or a
// lesser depth (clubak -T's trace mode).
func (t *MsgTree[K]) WalkTree() iter.Seq[MsgLine[K]] {
	return func(yield func(MsgLine[K]) bool) {
		ends := make(map[*msgElem][]K, len(t.keys))
		for k, e := range t.keys {
			ends[e] = append(ends[e], k)
		}
		stack := t.root.appendChildren(nil)
		for len(stack) > 0 {
			e := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			n := len(stack)
			stack = e.appendChildren(stack)
			if !yield(MsgLine[K]{Line: e.line, Depth: int(e.depth), Children: len(stack) - n, Keys: ends[e]}) {
				return
			}
		}
	}
}

// appendChildren appends e's children to stack in the order they were
// created (the first child is always the oldest).
func (e *msgElem) appendChildren(stack []*msgElem) []*msgElem {
	if e.first == nil {
		return stack
	}
	stack = append(stack, e.first)
	start := len(stack)
	for _, c := range e.children {
		stack = append(stack, c)
	}
	slices.SortFunc(stack[start:], func(a, b *msgElem) int { return cmp.Compare(a.seq, b.seq) })
	return stack
}

// Depth returns the number of lines of the longest message (ClusterShell's
// MsgTree._depth), 0 for an empty tree.
func (t *MsgTree[K]) Depth() int {
	d := 0
	for _, e := range t.keys {
		d = max(d, int(e.depth))
	}
	return d
}

// Remove forgets key; in a pruned tree, it frees the lines no other key
// uses.
func (t *MsgTree[K]) Remove(key K) {
	e, ok := t.keys[key]
	if !ok {
		return
	}
	delete(t.keys, key)
	if t.ends != nil {
		t.unend(e)
		t.free(e)
	}
}

// Clear forgets everything (a pruned tree stays pruned).
func (t *MsgTree[K]) Clear() {
	pruned := t.ends != nil
	*t = MsgTree[K]{}
	if pruned {
		t.Prune()
	}
}
