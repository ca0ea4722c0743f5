package engine

import (
	"bytes"
	"hash/maphash"
	"iter"
)

// Outputs stores the output of many keys (nodes) for gathering, as
// MsgTree does, at the cost of the output itself: each key's lines are
// one contiguous buffer (the lines joined by '\n'), and once a key's
// output is complete (End) it is folded by hash with the identical
// outputs of keys that ended before, so that identical output is stored
// once. A MsgTree, which stores a line per element of a trie (about 64
// bytes of overhead a line, against the line's own dozen bytes in a
// typical log), holds 3 to 5 times the output it gathers; Outputs holds
// it once, plus what the keys still running have not folded yet.
//
// A running key whose first line is the first line of another running
// key's output follows that output instead of copying it: its message is
// a prefix of the other's bytes, which only grow, for as long as its
// lines are the ones that come next there; at the first line that
// differs it copies that prefix and goes on alone. So nodes printing the
// same output at the same time (an agent's running nodes) hold it once
// while they run too.
//
// Outputs keeps no order of lines across keys: it serves the gathering
// that groups keys by whole message (clush -b, -L); the walk line by line
// of clubak -T needs a MsgTree.
//
// The zero value is empty. An Outputs is not safe for concurrent use.
type Outputs[K comparable] struct {
	keys map[K]*outMsg
	// folded holds the messages of ended keys by hash, each once.
	folded map[uint64][]*outMsg
	// leaders are the running keys' own messages by first line, for the
	// keys that start with the same line to follow.
	leaders map[string]*outMsg
	seed    maphash.Seed
}

// outMsg is one message: a running key's own, a folded one that refs
// ended keys share, or a running key's that follows lead: its bytes are
// lead's first off.
type outMsg struct {
	buf    []byte
	lead   *outMsg
	off    int
	first  string // the first line, under which it leads (own messages)
	hash   uint64
	refs   int
	folded bool
}

// bytes returns the message.
func (m *outMsg) bytes() []byte {
	if m.lead != nil {
		return m.lead.buf[:m.off]
	}
	return m.buf
}

func (o *Outputs[K]) init() {
	if o.keys == nil {
		o.keys = make(map[K]*outMsg)
		o.folded = make(map[uint64][]*outMsg)
		o.leaders = make(map[string]*outMsg)
		o.seed = maphash.MakeSeed()
	}
}

// Add appends one line to the message of key. A key that ended and gets
// more lines starts a message of its own again.
func (o *Outputs[K]) Add(key K, line []byte) {
	o.init()
	m := o.keys[key]
	switch {
	case m == nil:
		if l := o.leaders[string(line)]; l != nil {
			o.keys[key] = &outMsg{lead: l, off: len(line)}
			return
		}
		m = &outMsg{buf: append([]byte(nil), line...), first: string(line)}
		o.keys[key], o.leaders[m.first] = m, m
		return
	case m.lead != nil:
		if lb := m.lead.buf[m.off:]; len(lb) > len(line) && lb[0] == '\n' && bytes.Equal(lb[1:1+len(line)], line) {
			m.off += 1 + len(line)
			return
		}
		// Another line than the one that follows: a message of its own.
		buf := m.bytes()
		m.buf, m.lead = append(make([]byte, 0, len(buf)+1+len(line)), buf...), nil
	case m.folded:
		own := &outMsg{buf: make([]byte, len(m.buf), len(m.buf)+1+len(line))}
		copy(own.buf, m.buf)
		o.unref(m)
		o.keys[key], m = own, own
	}
	m.buf = append(append(m.buf, '\n'), line...)
}

// unlead stops m leading: its key ended or went.
func (o *Outputs[K]) unlead(m *outMsg) {
	if m.lead == nil && !m.folded && o.leaders[m.first] == m {
		delete(o.leaders, m.first)
	}
}

// End marks key's message complete: it is folded with an identical one
// of a key that ended before, or kept as the first of its kind, trimmed
// to its size.
func (o *Outputs[K]) End(key K) {
	m := o.keys[key]
	if m == nil || m.folded {
		return
	}
	o.unlead(m)
	o.keys[key] = o.fold(m)
}

// fold returns the folded message identical to m, m itself (trimmed and
// folded) when there is none yet.
func (o *Outputs[K]) fold(m *outMsg) *outMsg {
	buf := m.bytes()
	h := maphash.Bytes(o.seed, buf)
	for _, f := range o.folded[h] {
		if bytes.Equal(f.buf, buf) {
			f.refs++
			return f
		}
	}
	if m.lead != nil || cap(buf)-len(buf) > len(buf)/16 {
		// A follower copies what it followed; append's growth leaves up
		// to half of a buffer free: copy the message to its size (one
		// message's worth of garbage at a time).
		m.buf, m.lead = append(make([]byte, 0, len(buf)), buf...), nil
	}
	m.hash, m.refs, m.folded = h, 1, true
	o.folded[h] = append(o.folded[h], m)
	return m
}

// unref drops a key's reference to folded message m.
func (o *Outputs[K]) unref(m *outMsg) {
	m.refs--
	if m.refs > 0 {
		return
	}
	fs := o.folded[m.hash]
	for i, f := range fs {
		if f == m {
			fs = append(fs[:i], fs[i+1:]...)
			break
		}
	}
	if len(fs) == 0 {
		delete(o.folded, m.hash)
	} else {
		o.folded[m.hash] = fs
	}
}

// Len returns the number of keys with a message.
func (o *Outputs[K]) Len() int { return len(o.keys) }

// Message returns the lines of key joined by "\n" (no final newline), and
// whether key has a message. The bytes are the store's own: read them
// before the next Add.
func (o *Outputs[K]) Message(key K) ([]byte, bool) {
	m, ok := o.keys[key]
	if !ok {
		return nil, false
	}
	return m.bytes(), true
}

// Remove forgets key and frees its message unless other keys share it.
func (o *Outputs[K]) Remove(key K) {
	m, ok := o.keys[key]
	if !ok {
		return
	}
	delete(o.keys, key)
	o.unlead(m)
	if m.folded {
		o.unref(m)
	}
}

// Walk yields each distinct message once, with the keys that have it
// (ended or not), in no specified order. The bytes are the store's own.
func (o *Outputs[K]) Walk() iter.Seq2[[]byte, []K] {
	return func(yield func([]byte, []K) bool) {
		groups := make(map[*outMsg][]K)
		var order []*outMsg
		// Running keys are grouped by content among themselves and with
		// the folded messages, without being folded.
		var running map[uint64][]*outMsg
		for k, m := range o.keys {
			if !m.folded {
				buf := m.bytes()
				h := maphash.Bytes(o.seed, buf)
				same := func(f *outMsg) bool { return bytes.Equal(f.bytes(), buf) }
				if f := find(o.folded[h], same); f != nil {
					m = f
				} else if f := find(running[h], same); f != nil {
					m = f
				} else {
					if running == nil {
						running = make(map[uint64][]*outMsg)
					}
					running[h] = append(running[h], m)
				}
			}
			if _, ok := groups[m]; !ok {
				order = append(order, m)
			}
			groups[m] = append(groups[m], k)
		}
		for _, m := range order {
			if !yield(m.bytes(), groups[m]) {
				return
			}
		}
	}
}

func find(ms []*outMsg, match func(*outMsg) bool) *outMsg {
	for _, m := range ms {
		if match(m) {
			return m
		}
	}
	return nil
}
