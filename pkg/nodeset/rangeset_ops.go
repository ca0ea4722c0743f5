package nodeset

import (
	"iter"
	"slices"
)

type setOp int

const (
	opUnion setOp = iota
	opIntersection
	opDifference
	opSymDiff
)

// mergeClasses combines two class lists with op, width by width. The
// result may share span arrays with a (never with b): callers that keep a
// must copy.
func mergeClasses(a, b []rsClass, op setOp) []rsClass {
	out := make([]rsClass, 0, max(len(a), len(b)))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j >= len(b) || (i < len(a) && a[i].width < b[j].width):
			if op != opIntersection {
				out = append(out, a[i])
			}
			i++
		case i >= len(a) || b[j].width < a[i].width:
			if op == opUnion || op == opSymDiff {
				out = append(out, rsClass{b[j].width, append([]span(nil), b[j].spans...)})
			}
			j++
		default:
			if s := mergeSpans(a[i].spans, b[j].spans, op); len(s) > 0 {
				out = append(out, rsClass{a[i].width, s})
			}
			i++
			j++
		}
	}
	return out
}

// mergeSpans combines two sorted, coalesced span lists with op.
func mergeSpans(a, b []span, op setOp) []span {
	switch op {
	case opUnion:
		return unionSpans(a, b)
	case opIntersection:
		return intersectSpans(a, b)
	case opDifference:
		return subtractSpans(a, b)
	default:
		return subtractSpans(unionSpans(a, b), intersectSpans(a, b))
	}
}

func unionSpans(a, b []span) []span {
	out := make([]span, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var s span
		if j >= len(b) || (i < len(a) && a[i].lo <= b[j].lo) {
			s = a[i]
			i++
		} else {
			s = b[j]
			j++
		}
		if n := len(out); n > 0 && out[n-1].hi+1 >= s.lo {
			out[n-1].hi = max(out[n-1].hi, s.hi)
		} else {
			out = append(out, s)
		}
	}
	return out
}

// intersectSpans and subtractSpans size their result for the worst case
// (a run of one list cut by every run of the other adds at most one run
// per cut): growing it by appends would copy a large list several times.

func intersectSpans(a, b []span) []span {
	out := make([]span, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		lo, hi := max(a[i].lo, b[j].lo), min(a[i].hi, b[j].hi)
		if lo <= hi {
			out = append(out, span{lo, hi})
		}
		if a[i].hi < b[j].hi {
			i++
		} else {
			j++
		}
	}
	return out
}

func subtractSpans(a, b []span) []span {
	out := make([]span, 0, len(a)+len(b))
	j := 0
	for _, s := range a {
		lo := s.lo
		for j < len(b) && b[j].hi < lo {
			j++
		}
		k := j
		for k < len(b) && b[k].lo <= s.hi {
			if b[k].lo > lo {
				out = append(out, span{lo, b[k].lo - 1})
			}
			lo = max(lo, b[k].hi+1)
			if b[k].hi >= s.hi {
				break
			}
			k++
		}
		if lo <= s.hi {
			out = append(out, span{lo, s.hi})
		}
	}
	return out
}

func (rs *RangeSet) apply(o *RangeSet, op setOp) {
	rs.normalize()
	o.normalize()
	rs.classes = mergeClasses(rs.classes, o.classes, op)
}

// Update adds every index of o (set union, in place).
func (rs *RangeSet) Update(o *RangeSet) {
	// Adding names one by one is the common case (a shuffled host list):
	// queue small sets and merge them all at once when rs is next read.
	if len(o.pending) == 0 && len(o.classes) == 1 && len(o.classes[0].spans) == 1 {
		if s := o.classes[0].spans[0]; s.hi-s.lo < 8 {
			for v := s.lo; v <= s.hi; v++ {
				rs.push(member{o.classes[0].width, v})
			}
			return
		}
	}
	rs.normalize()
	o.normalize()
	rs.classes = mergeClasses(rs.classes, o.classes, opUnion)
}

// IntersectionUpdate keeps only the indexes also in o.
func (rs *RangeSet) IntersectionUpdate(o *RangeSet) { rs.apply(o, opIntersection) }

// DifferenceUpdate removes the indexes of o.
func (rs *RangeSet) DifferenceUpdate(o *RangeSet) { rs.apply(o, opDifference) }

// SymmetricDifferenceUpdate keeps the indexes in exactly one of both sets.
func (rs *RangeSet) SymmetricDifferenceUpdate(o *RangeSet) { rs.apply(o, opSymDiff) }

// Union returns a new set with the indexes of both.
func (rs *RangeSet) Union(o *RangeSet) *RangeSet {
	rs.normalize()
	o.normalize()
	cls := mergeClasses(rs.classes, o.classes, opUnion)
	for i := range cls { // unshare what came from rs
		cls[i].spans = slices.Clip(cls[i].spans)
		if len(rs.classes) > 0 && sameArray(cls[i].spans, rs.classes) {
			cls[i].spans = slices.Clone(cls[i].spans)
		}
	}
	return &RangeSet{autostep: rs.autostep, classes: cls}
}

// sameArray reports whether spans is the span array of one of cls.
func sameArray(spans []span, cls []rsClass) bool {
	for _, c := range cls {
		if len(c.spans) > 0 && len(spans) > 0 && &c.spans[0] == &spans[0] {
			return true
		}
	}
	return false
}

// updated returns a copy of s changed by update with o: the set operation
// of NodeSet and RangeSet that returns a new set, from the one that
// updates in place.
func updated[S interface{ Clone() S }](s S, update func(S, S), o S) S {
	c := s.Clone()
	update(c, o)
	return c
}

// Intersection returns a new set with the indexes in both.
func (rs *RangeSet) Intersection(o *RangeSet) *RangeSet {
	return updated(rs, (*RangeSet).IntersectionUpdate, o)
}

// Difference returns a new set with the indexes of rs not in o.
func (rs *RangeSet) Difference(o *RangeSet) *RangeSet {
	return updated(rs, (*RangeSet).DifferenceUpdate, o)
}

// SymmetricDifference returns a new set with the indexes in exactly one.
func (rs *RangeSet) SymmetricDifference(o *RangeSet) *RangeSet {
	return updated(rs, (*RangeSet).SymmetricDifferenceUpdate, o)
}

// IsSuperset reports whether every index of o is in rs.
func (rs *RangeSet) IsSuperset(o *RangeSet) bool {
	return o.Difference(rs).Len() == 0
}

// IsSubset reports whether every index of rs is in o.
func (rs *RangeSet) IsSubset(o *RangeSet) bool { return o.IsSuperset(rs) }

// Disjoint reports whether the sets share no index.
func (rs *RangeSet) Disjoint(o *RangeSet) bool { return rs.Intersection(o).Len() == 0 }

// Contains reports whether index v written with pad digits is a member.
func (rs *RangeSet) Contains(v int64, pad int) bool {
	rs.normalize()
	m := memberOf(v, pad)
	for _, c := range rs.classes {
		if c.width != m.width {
			continue
		}
		for _, s := range c.spans {
			if s.lo <= m.value && m.value <= s.hi {
				return true
			}
		}
	}
	return false
}

// members yields every member in ClusterShell's order: negative values,
// then by width of the written form, then by value.
func (rs *RangeSet) members() iter.Seq[member] {
	rs.normalize()
	return func(yield func(member) bool) {
		for _, c := range rs.classes {
			for _, s := range c.spans {
				for v := s.lo; ; v++ {
					if !yield(member{c.width, v}) {
						return
					}
					if v == s.hi {
						break
					}
				}
			}
		}
	}
}

// All yields every index as written ("01", "7", "-3"), in order.
func (rs *RangeSet) All() iter.Seq[string] {
	return func(yield func(string) bool) {
		var buf []byte
		for m := range rs.members() {
			buf = m.appendTo(buf[:0])
			if !yield(string(buf)) {
				return
			}
		}
	}
}

// first and last return the first and last member; rs must not be empty.
func (rs *RangeSet) first() member {
	rs.normalize()
	c := rs.classes[0]
	return member{c.width, c.spans[0].lo}
}

func (rs *RangeSet) last() member {
	rs.normalize()
	c := rs.classes[len(rs.classes)-1]
	return member{c.width, c.spans[len(c.spans)-1].hi}
}

// Slice returns the members at positions start, start+step, ... < stop
// (Python's sorted(rs)[start:stop:step] for 0 <= start, step >= 1).
func (rs *RangeSet) Slice(start, stop, step int) *RangeSet {
	rs.normalize()
	out := &RangeSet{autostep: rs.autostep}
	if step < 1 {
		step = 1
	}
	pos := 0 // position of the first value of the current span
	next := start
	for _, c := range rs.classes {
		for _, s := range c.spans {
			n := int(s.hi - s.lo + 1)
			for next < stop && next < pos+n {
				if step == 1 {
					end := min(stop, pos+n) // exclusive position
					lo := s.lo + int64(next-pos)
					hi := s.lo + int64(end-pos) - 1
					out.classes = appendSpan(out.classes, c.width, lo, hi)
					next = end
				} else {
					v := s.lo + int64(next-pos)
					out.classes = appendSpan(out.classes, c.width, v, v)
					next += step
				}
			}
			pos += n
			if next >= stop {
				return out
			}
		}
	}
	return out
}

// appendSpan appends a span known to sort after everything in cls.
func appendSpan(cls []rsClass, w int, lo, hi int64) []rsClass {
	n := len(cls)
	if n == 0 || cls[n-1].width != w {
		return append(cls, rsClass{w, []span{{lo, hi}}})
	}
	c := &cls[n-1]
	if last := &c.spans[len(c.spans)-1]; last.hi+1 >= lo {
		last.hi = max(last.hi, hi)
	} else {
		c.spans = append(c.spans, span{lo, hi})
	}
	return cls
}

// Split divides rs into at most n parts of nearly equal size, the first
// ones one index larger (ClusterShell's RangeSet.split).
func (rs *RangeSet) Split(n int) []*RangeSet {
	total := rs.Len()
	if n < 1 {
		n = 1
	}
	size, left := total/n, total%n
	var out []*RangeSet
	begin := 0
	for i := 0; i < min(n, total); i++ {
		length := size
		if i < left {
			length++
		}
		out = append(out, rs.Slice(begin, begin+length, 1))
		begin += length
	}
	return out
}
