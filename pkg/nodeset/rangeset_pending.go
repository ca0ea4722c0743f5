package nodeset

import (
	stdbits "math/bits"
	"slices"
)

// Members added one at a time (names read from a file, stepped ranges)
// wait in RangeSet.pending and are merged into runs on the next read: one
// sort or bitmap pass instead of an insertion per member.

// pendWidth holds pending values of one width: sorting plain int64s per
// width is faster, and lighter on memory, than sorting (width, value)
// pairs. Values are kept in chunks that are never copied: growing one
// slice would copy a long list of names several times over, and in a
// short-lived process every page written for the first time costs a page
// fault (10-20 µs on the virtual machines of bench/nodeset). Once enough
// values are known to be dense, they move to a bitmap of their range,
// which holds a node in a bit rather than in 8 bytes.
type pendWidth struct {
	width  int
	chunks [][]int64 // in order of arrival; all full but the last
	n      int       // values in all chunks
	base   int64     // bits[d/64] bit d%64 stands for base+d
	bits   []uint64
	inBits int // values set in bits, repeats included
	tryAt  int // n at which to try a bitmap again (sparse values)
}

// maxPendChunk bounds a chunk (512 KiB of values); densifyAt is how many
// values wait in chunks before a bitmap is tried.
const (
	maxPendChunk = 1 << 16
	densifyAt    = 4096
)

func (b *pendWidth) add(v int64) {
	// Values are within ±maxIndex: v-base cannot overflow.
	if d := uint64(v - b.base); d < uint64(len(b.bits))*64 {
		b.bits[d/64] |= 1 << (d % 64)
		b.inBits++
		return
	}
	if k := len(b.chunks); k > 0 {
		if c := &b.chunks[k-1]; len(*c) < cap(*c) {
			*c = append(*c, v)
			b.n++
			return
		}
	}
	if b.n >= max(densifyAt, b.tryAt) {
		if b.densify() {
			b.add(v)
			return
		}
		b.tryAt = 2 * b.n // sparse so far: scan again only when twice as many
	}
	// Chunks double in size (up to maxPendChunk), so there are few.
	b.chunks = append(b.chunks, append(make([]int64, 0, min(max(16, b.n), maxPendChunk)), v))
	b.n++
}

// densify moves the chunked values into a bitmap spanning them and the
// current bitmap, when there are at least as many values as 64-bit words
// in that range (as spansOfChunks decides). It reports whether it did.
func (b *pendWidth) densify() bool {
	lo, hi := b.chunks[0][0], b.chunks[0][0]
	for _, c := range b.chunks {
		for _, v := range c {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	if b.bits != nil {
		lo, hi = min(lo, b.base), max(hi, b.base+int64(len(b.bits))*64-1)
	}
	if uint64(hi-lo)/64 > uint64(b.n+b.inBits) {
		return false
	}
	nb := make([]uint64, uint64(hi-lo)/64+1)
	if b.bits != nil {
		// Re-base the old bitmap: shift its words into the new one.
		for i, w := range b.bits {
			for w != 0 {
				j := stdbits.TrailingZeros64(w)
				d := uint64(b.base+int64(i*64+j)) - uint64(lo)
				nb[d/64] |= 1 << (d % 64)
				w &= w - 1
			}
		}
	}
	for _, c := range b.chunks {
		for _, v := range c {
			d := uint64(v - lo)
			nb[d/64] |= 1 << (d % 64)
		}
	}
	b.base, b.bits = lo, nb
	b.inBits += b.n
	b.chunks, b.n = nil, 0
	return true
}

// spans returns the pending values as sorted runs.
func (b *pendWidth) spans() []span {
	if b.bits != nil && b.n > 0 {
		b.densify() // values near the bitmap join it: one list of runs
	}
	var fromBits, fromChunks []span
	if b.bits != nil {
		fromBits = runsOfBits(b.bits, b.base, b.base+int64(len(b.bits))*64-1)
	}
	if b.n > 0 {
		fromChunks = spansOfChunks(b.chunks, b.n)
	}
	switch {
	case fromChunks == nil:
		return fromBits
	case fromBits == nil:
		return fromChunks
	}
	return unionSpans(fromBits, fromChunks)
}

// push queues a member; it is merged into the classes on the next read.
func (rs *RangeSet) push(m member) {
	for i := len(rs.pending) - 1; i >= 0; i-- {
		if b := &rs.pending[i]; b.width == m.width {
			b.add(m.value)
			return
		}
	}
	rs.pending = append(rs.pending, pendWidth{width: m.width})
	rs.pending[len(rs.pending)-1].add(m.value)
}

func (rs *RangeSet) flush() {
	p := rs.pending
	rs.pending = nil
	slices.SortFunc(p, func(a, b pendWidth) int { return a.width - b.width })
	add := make([]rsClass, 0, len(p))
	for _, b := range p {
		if sp := b.spans(); len(sp) > 0 {
			add = append(add, rsClass{width: b.width, spans: sp})
		}
	}
	if len(rs.classes) == 0 {
		rs.classes = add
		return
	}
	rs.classes = mergeClasses(rs.classes, add, opUnion)
}

// spansOfChunks turns n values held in chunks (none empty; in any order,
// with repeats) into sorted runs. Node indexes are usually dense: then a
// bitmap of the range does it in linear time and less memory than sorting.
func spansOfChunks(chunks [][]int64, n int) []span {
	lo, hi := chunks[0][0], chunks[0][0]
	for _, c := range chunks {
		for _, v := range c {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	if width := uint64(hi - lo); width/64 <= uint64(n) {
		bits := make([]uint64, width/64+1)
		for _, c := range chunks {
			for _, v := range c {
				d := uint64(v - lo)
				bits[d/64] |= 1 << (d % 64)
			}
		}
		return runsOfBits(bits, lo, hi)
	}
	vals := chunks[0]
	if len(chunks) > 1 {
		vals = make([]int64, 0, n)
		for _, c := range chunks {
			vals = append(vals, c...)
		}
	}
	slices.Sort(vals)
	var out []span
	for _, v := range vals {
		if n := len(out); n > 0 && v <= out[n-1].hi+1 {
			out[n-1].hi = max(out[n-1].hi, v)
		} else {
			out = append(out, span{v, v})
		}
	}
	return out
}

// runsOfBits returns the runs of set bits of bits, bit d standing for
// lo+d, clipped at hi. The runs are counted first, so that the result is
// allocated once: a fragmented set has tens of thousands of runs, and
// growing the slice run by run would write several times its size.
func runsOfBits(bits []uint64, lo, hi int64) []span {
	n, carry := 0, uint64(0) // carry: the top bit of the previous word
	for _, w := range bits {
		n += stdbits.OnesCount64(w &^ (w<<1 | carry)) // bits that start a run
		carry = w >> 63
	}
	out := make([]span, 0, n)
	var start int64
	inRun := false
	for i, w := range bits {
		if w == 0 && !inRun {
			continue
		}
		for j := 0; j < 64; j++ {
			v := lo + int64(i*64+j)
			switch set := w&(1<<j) != 0; {
			case set && !inRun:
				start, inRun = v, true
			case !set && inRun:
				out = append(out, span{start, v - 1})
				inRun = false
			}
			if w == ^uint64(0) && inRun {
				break // the whole word is set: the run goes on
			}
		}
	}
	if inRun {
		out = append(out, span{start, lo + int64(len(bits)*64) - 1})
	}
	// the last word may run past hi: clip the final run
	if n := len(out); n > 0 && out[n-1].hi > hi {
		out[n-1].hi = hi
	}
	return out
}
