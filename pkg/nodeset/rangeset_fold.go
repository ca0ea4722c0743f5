package nodeset

import (
	"fmt"
	"math/bits"
	"strings"
)

// A foldedSlice is one piece of a folded range set: start..stop-1 by step,
// written with pad digits (0: unpadded).
type foldedSlice struct {
	start, stop, step int64
	pad               int
}

// folder reproduces ClusterShell's RangeSet._slices_padding, the state
// machine that decides how members are folded into "a-b", "a-b/step" and
// single indexes. Its output must match ClusterShell byte for byte, quirks
// included, so it is a literal port, fed member by member, except that runs
// of consecutive values are consumed in one step when the outcome is known.
type folder struct {
	loopAutostep  int // autostep used inside the loop (0: disabled)
	finalAutostep int // autostep used for the last run (ClusterShell uses the set's own)
	emit          func(foldedSlice)

	have              bool
	curStart, lastIdx int64
	curStep           int64 // 0: None
	curPadded         bool
	curPad            int
}

// steppedEnough reports last-start >= (autostep-1)*step, ClusterShell's test
// for folding a stepped run, without overflow.
func steppedEnough(autostep int, last, start, step int64) bool {
	if autostep == 0 {
		return false
	}
	a := uint64(autostep - 1)
	hi, lo := bits.Mul64(a, uint64(step))
	return hi == 0 && uint64(last-start) >= lo
}

func (f *folder) pad() int {
	if f.curPadded {
		return f.curPad
	}
	return 0
}

func (f *folder) add(idx int64, digitlen int, padded bool) {
	if !f.have {
		f.have = true
		f.curPadded, f.curPad, f.curStart, f.curStep, f.lastIdx = padded, digitlen, idx, 0, idx
		return
	}
	var padMismatch bool
	if f.curPadded {
		padMismatch = digitlen != f.curPad
	} else {
		padMismatch = padded
	}
	stepMismatch := !padMismatch && f.curStep != 0 && f.curStep != idx-f.lastIdx
	if padMismatch || stepMismatch {
		stepped, step := true, int64(1)
		if f.curStep != 0 {
			step = f.curStep
			stepped = f.curStep == 1 || steppedEnough(f.loopAutostep, f.lastIdx, f.curStart, f.curStep)
		}
		if stepped {
			f.emit(foldedSlice{f.curStart, f.lastIdx + 1, step, f.pad()})
			f.curStart, f.curPadded, f.curPad = idx, padded, digitlen
		} else {
			stop := f.lastIdx - step + 1
			if padMismatch {
				stop = f.lastIdx + 1
			}
			for j := f.curStart; j < stop; j += step {
				f.emit(foldedSlice{j, j + 1, 1, f.pad()})
			}
			if padMismatch {
				f.curStart, f.curPadded, f.curPad = idx, padded, digitlen
			} else {
				f.curStart = f.lastIdx
			}
		}
		f.curStep = 0
		if stepMismatch {
			f.curStep = idx - f.lastIdx
		}
		f.lastIdx = idx
		return
	}
	f.curStep = idx - f.lastIdx
	f.lastIdx = idx
}

// addRun feeds lo..hi, members that share width and padding.
func (f *folder) addRun(lo, hi int64, digitlen int, padded bool) {
	for v := lo; v <= hi; v++ {
		f.add(v, digitlen, padded)
		// Once the state is "stepping by 1 and v is the last member", the
		// rest of the run only extends it.
		if v < hi && f.lastIdx == v && (f.curStep == 0 || f.curStep == 1) {
			f.curStep = 1
			f.lastIdx = hi
			return
		}
	}
}

func (f *folder) finish() {
	if !f.have {
		return
	}
	stepped := true
	if f.curStep != 0 {
		stepped = steppedEnough(f.finalAutostep, f.lastIdx, f.curStart, f.curStep)
	}
	if stepped || f.curStep == 1 {
		step := f.curStep
		if step == 0 {
			step = 1
		}
		f.emit(foldedSlice{f.curStart, f.lastIdx + 1, step, f.pad()})
		return
	}
	for j := f.curStart; j <= f.lastIdx; j += f.curStep {
		f.emit(foldedSlice{j, j + 1, 1, f.pad()})
	}
}

// runs feeds every member of rs to f, one run of uniform width and padding
// at a time.
func (rs *RangeSet) feed(f *folder) {
	rs.normalize()
	for _, c := range rs.classes {
		limit := paddedLimit(c.width) // values below are zero padded
		for _, s := range c.spans {
			if c.width == 0 { // negative values: never padded
				f.addRun(s.lo, s.hi, 0, false)
				continue
			}
			if c.width > 1 && s.lo < limit {
				f.addRun(s.lo, min(s.hi, limit-1), c.width, true)
				if s.hi >= limit {
					f.addRun(limit, s.hi, c.width, false)
				}
				continue
			}
			f.addRun(s.lo, s.hi, c.width, false)
		}
	}
	f.finish()
}

// foldedSlices returns the slices ClusterShell prints for rs.
func (rs *RangeSet) foldedSlices() []foldedSlice {
	var out []foldedSlice
	rs.feed(&folder{loopAutostep: rs.autostep, finalAutostep: rs.autostep, emit: func(s foldedSlice) { out = append(out, s) }})
	return out
}

// foldTo writes the folded form of rs ("1-3,5,7-11/2") through put, a
// slice at a time.
func (rs *RangeSet) foldTo(put func([]byte)) {
	first := true
	// One scratch for every slice: put may keep nothing of it.
	scratch := make([]byte, 0, 3*(maxIndexDigits+2)+3) // ",-lo--hi/step"
	rs.feed(&folder{loopAutostep: rs.autostep, finalAutostep: rs.autostep, emit: func(s foldedSlice) {
		b := scratch[:0]
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendPadded(b, s.start, s.pad)
		if s.start+1 != s.stop {
			b = append(b, '-')
			b = appendPadded(b, s.stop-1, s.pad)
			if s.step != 1 {
				b = append(b, '/')
				b = appendPadded(b, s.step, 0)
			}
		}
		put(b)
	}})
}

// writeFolded writes the folded form of rs to sb.
func (rs *RangeSet) writeFolded(sb *strings.Builder) {
	rs.foldTo(func(p []byte) { sb.Write(p) })
}

// foldedSizeHint bounds the length of the folded form of rs: each run is
// written at most as "lo-hi," (a stepped slice replaces several runs by
// fewer bytes).
func (rs *RangeSet) foldedSizeHint() int {
	rs.normalize()
	n := 0
	for _, c := range rs.classes {
		w := c.width
		if w == 0 {
			w = maxIndexDigits + 2 // a negative value: sign, digits
		}
		n += len(c.spans) * (2*w + 2)
	}
	return n
}

// String returns the folded form of rs, as ClusterShell prints it.
func (rs *RangeSet) String() string {
	var sb strings.Builder
	sb.Grow(rs.foldedSizeHint())
	rs.writeFolded(&sb)
	return sb.String()
}

// Contiguous splits rs into runs of consecutive indexes of one padding
// (ClusterShell's RangeSet.contiguous). Like ClusterShell, it fails on a
// run that ends at -1; the runs before it are returned with the error.
func (rs *RangeSet) Contiguous() ([]*RangeSet, error) {
	var out []*RangeSet
	var err error
	rs.feed(&folder{finalAutostep: rs.autostep, emit: func(s foldedSlice) {
		if err != nil {
			return
		}
		if s.stop == 0 {
			err = fmt.Errorf("Invalid range upper limit (0)")
			return
		}
		sub := &RangeSet{}
		sub.addRangeMembers(s.start, s.stop, s.step, s.pad)
		out = append(out, sub)
	}})
	return out, err
}

// addRangeMembers adds a folded slice back as members.
func (rs *RangeSet) addRangeMembers(start, stop, step int64, pad int) {
	if step == 1 {
		rs.addSpan(start, stop-1, pad)
		return
	}
	for v := start; v < stop; v += step {
		rs.addMember(memberOf(v, pad))
	}
}

// Slices returns the (start, stop, step) triples of the folded form, as
// ClusterShell's RangeSet.slices does (padding is dropped).
func (rs *RangeSet) Slices() [][3]int64 {
	var out [][3]int64
	for _, s := range rs.foldedSlices() {
		out = append(out, [3]int64{s.start, s.stop, s.step})
	}
	return out
}

// writeBracketed writes "[rs]" to b when rs has more than one member (how
// a pattern's range is shown), else the lone index.
func writeBracketed(b *strings.Builder, rs *RangeSet) {
	if rs.Len() > 1 {
		b.WriteByte('[')
		rs.writeFolded(b)
		b.WriteByte(']')
		return
	}
	rs.writeFolded(b)
}
