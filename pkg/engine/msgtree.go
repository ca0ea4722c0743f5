package engine

import "iter"

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
}

// msgElem is one line of the trie. It is kept to 44 bytes (the 48-byte
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
}

func (e *msgElem) child(line []byte) *msgElem {
	if e.first != nil && e.first.line == string(line) {
		return e.first
	}
	if c, ok := e.children[string(line)]; ok {
		return c
	}
	c := &msgElem{parent: e, line: string(line), depth: e.depth + 1}
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
	t.keys[key] = e.child(line)
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

// Remove forgets key.
func (t *MsgTree[K]) Remove(key K) { delete(t.keys, key) }

// Clear forgets everything.
func (t *MsgTree[K]) Clear() { *t = MsgTree[K]{} }
