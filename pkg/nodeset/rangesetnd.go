package nodeset

import (
	"bytes"
	"cmp"
	"slices"
)

// rangeSetND is a set of n-dimensional indexes, such as the (rack, node)
// pairs of "r[1-2]n[1-4]": a list of vectors, each the cartesian product of
// one RangeSet per dimension. It is a literal port of ClusterShell's
// RangeSetND, because the way vectors are merged decides the folded output
// ("x[2-3]y1,x1y[1-2],x3y2") and its order, and fleetsh must print the same.
type rangeSetND struct {
	vecs [][]*RangeSet
	// pts holds points added one by one (NodeSet.AddNode), ptsDim members
	// each, not yet made into vectors: folding a long list of names then
	// works on plain indexes and builds range sets only for its result.
	pts          []member
	ptsDim       int
	dirty        bool
	autostep     int
	multivarHint bool
}

func newND(vecs [][]*RangeSet, autostep int) *rangeSetND {
	return &rangeSetND{vecs: vecs, dirty: true, autostep: autostep}
}

// folded returns the vectors after folding them when needed (ClusterShell's
// precond_fold decorator).
func (nd *rangeSetND) folded() [][]*RangeSet {
	if nd.dirty {
		nd.fold()
	}
	return nd.vecs
}

// addPoint queues one point; nd is folded again before it is read.
func (nd *rangeSetND) addPoint(p []member) {
	if len(nd.pts)+len(p) > cap(nd.pts) {
		// Double, as RangeSet.push does, rather than append's 1.25x.
		nd.pts = slices.Grow(nd.pts, max(64, len(nd.pts)))
	}
	nd.pts = append(nd.pts, p...)
	nd.ptsDim = len(p)
	nd.dirty = true
	nd.multivarHint = true
}

// flushPoints turns queued points into single-point vectors, for the
// operations that work on vectors as they are.
func (nd *rangeSetND) flushPoints() {
	if len(nd.pts) == 0 {
		return
	}
	d := nd.ptsDim
	for i := 0; i+d <= len(nd.pts); i += d {
		nd.vecs = append(nd.vecs, singletons(nd.pts[i:i+d], nd.autostep))
	}
	nd.pts = nil
}

func (nd *rangeSetND) setVecs(v [][]*RangeSet) {
	nd.vecs = v
	nd.dirty = true
}

func (nd *rangeSetND) dim() int {
	if len(nd.vecs) == 0 {
		if len(nd.pts) > 0 {
			return nd.ptsDim
		}
		return 0
	}
	return len(nd.vecs[0])
}

func (nd *rangeSetND) empty() bool { return len(nd.vecs) == 0 && len(nd.pts) == 0 }

func vecLen(v []*RangeSet) int {
	n := 1
	for _, rs := range v {
		l := rs.Len()
		if l != 0 && n > int(^uint(0)>>1)/l {
			return int(^uint(0) >> 1) // saturate: beyond any real cluster
		}
		n *= l
	}
	return n
}

func (nd *rangeSetND) Len() int {
	n := 0
	for _, v := range nd.folded() {
		n += vecLen(v)
	}
	return n
}

func (nd *rangeSetND) setAutostep(n int) {
	nd.flushPoints()
	nd.autostep = normAutostep(n)
	for _, v := range nd.vecs {
		for _, rs := range v {
			rs.autostep = nd.autostep
		}
	}
}

// clone is ClusterShell's RangeSetND.copy: it folds first, and the copy
// does not keep the autostep of the set (only its range sets do).
func (nd *rangeSetND) clone() *rangeSetND {
	vecs := nd.folded()
	c := &rangeSetND{dirty: nd.dirty, vecs: make([][]*RangeSet, len(vecs))}
	for i, v := range vecs {
		cv := make([]*RangeSet, len(v))
		for j, rs := range v {
			cv[j] = rs.Clone()
		}
		c.vecs[i] = cv
	}
	return c
}

func (nd *rangeSetND) fold() {
	if len(nd.pts) > 0 && len(nd.vecs) == 0 {
		nd.foldPoints()
		return
	}
	nd.flushPoints()
	if len(nd.vecs) > 1 {
		if !nd.foldUnivariate() {
			nd.foldMultivariate()
		}
	} else {
		nd.dirty = false
	}
}

// foldUnivariate merges all vectors into one when they differ along one
// dimension at most.
func (nd *rangeSetND) foldUnivariate() bool {
	d := nd.dim()
	vardim, dimdiff := 0, 0
	if d > 1 {
		for i := 0; i < d && dimdiff <= 1; i++ {
			first := nd.vecs[0][i]
			for _, v := range nd.vecs[1:] {
				if !v[i].Equal(first) {
					dimdiff++
					vardim = i
					break
				}
			}
		}
	}
	univar := d == 1 || dimdiff == 1
	if univar {
		merged := nd.vecs[0][vardim].Clone()
		for _, v := range nd.vecs[1:] {
			merged.Update(v[vardim])
		}
		v0 := slices.Clone(nd.vecs[0])
		v0[vardim] = merged
		nd.vecs = [][]*RangeSet{v0}
		nd.dirty = false
	}
	nd.multivarHint = !univar
	return univar
}

// maxFoldPoints bounds the points the multivariate fold expands. Beyond
// it (say "x[1-100000]y[1-100000]!x1y1", 10^10 points) ClusterShell would
// run for hours; fleetsh keeps the vectors as they are, sorted: the set
// is exact, only its folded form may be longer than ClusterShell's.
const maxFoldPoints = 1 << 20

func (nd *rangeSetND) foldMultivariate() {
	total := 0
	for _, v := range nd.vecs {
		total += vecLen(v)
		if total > maxFoldPoints || total < 0 {
			nd.sortVecs()
			nd.dirty = false
			return
		}
	}
	nd.expand()
	nd.merge(false)
	nd.dirty = false
}

// expand replaces the vectors by one vector per distinct point.
func (nd *rangeSetND) expand() {
	d := nd.dim()
	var pts []member // d members per point, flattened
	var reuse [][]*RangeSet
	allSingle := true
	for _, v := range nd.vecs {
		for _, rs := range v {
			if rs.autostep != nd.autostep || rs.Len() != 1 {
				allSingle = false
			}
		}
	}
	if allSingle {
		// Names added one by one: each vector already is a point.
		reuse = nd.vecs
		pts = make([]member, 0, len(nd.vecs)*d)
		for _, v := range nd.vecs {
			for _, rs := range v {
				pts = append(pts, rs.first())
			}
		}
	} else {
		for _, v := range nd.vecs {
			forEachPoint(v, func(p []member) bool {
				pts = append(pts, p...)
				return true
			})
		}
	}
	n := len(pts) / d
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	cmpPt := func(a, b int) int {
		for k := 0; k < d; k++ {
			if c := cmpMember(pts[a*d+k], pts[b*d+k]); c != 0 {
				return c
			}
		}
		return 0
	}
	slices.SortFunc(idx, cmpPt)
	idx = slices.CompactFunc(idx, func(a, b int) bool { return cmpPt(a, b) == 0 })
	vecs := make([][]*RangeSet, len(idx))
	for i, p := range idx {
		if reuse != nil {
			vecs[i] = reuse[p]
			continue
		}
		vecs[i] = singletons(pts[p*d:(p+1)*d], nd.autostep)
	}
	nd.vecs = vecs
}

func cmpMember(a, b member) int {
	if c := cmp.Compare(a.width, b.width); c != 0 {
		return c
	}
	return cmp.Compare(a.value, b.value)
}

// forEachPoint calls f with every point of the product of v, last
// dimension varying fastest (itertools.product order).
func forEachPoint(v []*RangeSet, f func([]member) bool) bool {
	d := len(v)
	lists := make([][]member, d)
	for k, rs := range v {
		for m := range rs.members() {
			lists[k] = append(lists[k], m)
		}
		if len(lists[k]) == 0 {
			return true
		}
	}
	pos := make([]int, d)
	p := make([]member, d)
	for {
		for k := range d {
			p[k] = lists[k][pos[k]]
		}
		if !f(p) {
			return false
		}
		k := d - 1
		for ; k >= 0; k-- {
			pos[k]++
			if pos[k] < len(lists[k]) {
				break
			}
			pos[k] = 0
		}
		if k < 0 {
			return true
		}
	}
}

// vecKey is ClusterShell's sort key of a vector: larger vectors first, then
// per dimension larger range sets first, then by the written form of their
// first and last members (compared as strings, as Python does).
type vecKey struct {
	size int
	dims []dimKey
	pos  int // position before sorting: ties keep their order
	v    []*RangeSet
}

type dimKey struct {
	n           int
	first, last member
}

// cmpMemberText compares two members by their written form, as Python
// compares the strings, without building them.
func cmpMemberText(a, b member) int {
	if a == b {
		return 0
	}
	if a.width == b.width && a.value >= 0 && b.value >= 0 {
		return cmp.Compare(a.value, b.value) // same length: digit order
	}
	var ba, bb [24]byte
	return bytes.Compare(a.appendTo(ba[:0]), b.appendTo(bb[:0]))
}

func cmpKey(a, b *vecKey) int {
	if c := cmp.Compare(b.size, a.size); c != 0 {
		return c
	}
	for i := range a.dims {
		x, y := &a.dims[i], &b.dims[i]
		if c := cmp.Compare(y.n, x.n); c != 0 {
			return c
		}
		if c := cmpMemberText(x.first, y.first); c != 0 {
			return c
		}
		if c := cmpMemberText(x.last, y.last); c != 0 {
			return c
		}
	}
	return cmp.Compare(a.pos, b.pos)
}

// sortVecs sorts the vectors as Python's stable list.sort does; the
// position tie-break makes the faster unstable sort give the same order.
func (nd *rangeSetND) sortVecs() {
	d := nd.dim()
	flat := make([]dimKey, len(nd.vecs)*d)
	keys := make([]vecKey, len(nd.vecs))
	for i, v := range nd.vecs {
		k := &keys[i]
		k.dims, k.pos, k.v = flat[i*d:(i+1)*d:(i+1)*d], i, v
		k.size = 1
		for j, rs := range v {
			n := rs.Len()
			k.dims[j] = dimKey{n, rs.first(), rs.last()}
			if n != 0 && k.size > int(^uint(0)>>1)/n {
				k.size = int(^uint(0) >> 1)
			} else {
				k.size *= n
			}
		}
	}
	order := make([]*vecKey, len(keys))
	for i := range keys {
		order[i] = &keys[i]
	}
	slices.SortFunc(order, cmpKey)
	for i, k := range order {
		nd.vecs[i] = k.v
	}
}

// tryMerge returns the union of two vectors when it is itself a vector:
// they differ along one dimension at most, where they are disjoint or one
// contains the other.
func tryMerge(a, b []*RangeSet) ([]*RangeSet, bool) {
	var out []*RangeSet
	diff := 0
	for pos := range a {
		r1, r2 := a[pos], b[pos]
		var merged *RangeSet
		switch {
		case r1.Equal(r2):
			continue
		case r1.disjoint(r2):
			merged = r1.Union(r2)
		case r2.subsetOf(r1): // r1 > r2 (r1 != r2 already)
			merged = r1
		case r1.subsetOf(r2):
			merged = r2
		default:
			return nil, false
		}
		diff++
		if diff > 1 {
			return nil, false
		}
		out = slices.Clone(a)
		out[pos] = merged
	}
	if out == nil {
		out = a
	}
	return out, true
}

// merge is ClusterShell's _fold_multivariate_merge: passes that merge
// neighbours after a sort, then, once those stop helping, passes that try
// every pair.
func (nd *rangeSetND) merge(full bool) {
	for chg := true; chg; {
		chg = false
		nd.sortVecs()
		if !full {
			var out [][]*RangeSet
			acc := newAccum(nd.vecs[0])
			for _, v := range nd.vecs[1:] {
				if acc.tryAdd(v) {
					chg = true
					continue
				}
				out = append(out, acc.vector())
				acc = newAccum(v)
			}
			nd.vecs = append(out, acc.vector())
		} else {
			removed := make([]bool, len(nd.vecs))
			for i := range nd.vecs {
				if removed[i] {
					continue
				}
				for j := i + 1; j < len(nd.vecs); j++ {
					if removed[j] {
						continue
					}
					if m, ok := tryMerge(nd.vecs[i], nd.vecs[j]); ok {
						nd.vecs[i] = m
						removed[j] = true
						chg = true
					}
				}
			}
			out := nd.vecs[:0]
			for i, v := range nd.vecs {
				if !removed[i] {
					out = append(out, v)
				}
			}
			nd.vecs = out
		}
		if !chg && !full {
			chg, full = true, true
		}
	}
}

// update adds the vectors of o (ClusterShell's RangeSetND.update).
func (nd *rangeSetND) update(o *rangeSetND) {
	nd.updateVecs(o.vecs)
}

func (nd *rangeSetND) updateVecs(vecs [][]*RangeSet) {
	nd.flushPoints()
	for _, v := range vecs {
		cv := make([]*RangeSet, len(v))
		for i, rs := range v {
			c := rs.Clone()
			c.autostep = nd.autostep
			cv[i] = c
		}
		nd.vecs = append(nd.vecs, cv)
	}
	nd.dirty = true
	if !nd.multivarHint {
		nd.foldUnivariate()
	}
}

// differenceUpdate removes the points of o, vector by vector, on the
// vectors as they are (folded or not), as ClusterShell does, except that
// the pieces left of a vector are disjoint: piece k keeps only the
// overlap with o's vector in the dimensions before k. ClusterShell's
// pieces overlap and its fold (which expands every point) removes the
// duplicates; past the 2^20 points we re-merge (docs/nodeset.md) nothing
// would, and nodes would be counted and expanded twice.
func (nd *rangeSetND) differenceUpdate(o *rangeSetND) {
	nd.flushPoints()
	o.flushPoints()
	var out [][]*RangeSet
	for _, v1 := range nd.vecs {
		proc := [][]*RangeSet{v1}
		var next [][]*RangeSet
		for _, v2 := range o.vecs {
			for len(proc) > 0 {
				p := proc[0]
				proc = proc[1:]
				if disjointVec(p, v2) {
					next = append(next, p) // nothing of p is in v2
					continue
				}
				cur := slices.Clone(p)
				for pos := range p {
					r1, r2 := p[pos], v2[pos]
					if r1.subsetOf(r2) { // r1 == r2 or r1 < r2
						continue
					}
					t := slices.Clone(cur)
					t[pos] = r1.Difference(r2)
					next = append(next, t)
					cur[pos] = r1.Intersection(r2)
				}
			}
			if len(next) > 0 {
				proc = next
				next = nil
			}
		}
		out = append(out, proc...)
	}
	nd.setVecs(out)
}

// disjointVec tells whether the vectors a and b share no point: they are
// disjoint in some dimension.
func disjointVec(a, b []*RangeSet) bool {
	for pos, r := range a {
		if r.disjoint(b[pos]) {
			return true
		}
	}
	return false
}

// intersectionUpdate keeps the points also in o. Like ClusterShell, the
// result forgets the autostep of nd.
func (nd *rangeSetND) intersectionUpdate(o *rangeSetND) {
	if o == nd {
		return
	}
	nd.flushPoints()
	o.flushPoints()
	tmp := &rangeSetND{}
	for _, v1 := range nd.vecs {
		for _, v2 := range o.vecs {
			iv := make([]*RangeSet, len(v1))
			ok := true
			for i := range v1 {
				iv[i] = v1[i].Intersection(v2[i])
				if iv[i].Len() == 0 {
					ok = false
				}
			}
			if ok {
				tmp.updateVecs([][]*RangeSet{iv})
			}
		}
	}
	nd.setVecs(tmp.folded())
}

func (nd *rangeSetND) symmetricDifferenceUpdate(o *rangeSetND) {
	diff2 := o.clone()
	diff2.differenceUpdate(nd)
	nd.differenceUpdate(o)
	nd.update(diff2)
}

// contains reports whether every point of o is in nd.
func (nd *rangeSetND) isSuperset(o *rangeSetND) bool {
	nd.folded()
	if o.empty() {
		return true
	}
	t := o.clone()
	t.differenceUpdate(nd)
	return t.empty()
}

// contiguous splits nd into vectors whose range sets are each contiguous.
func (nd *rangeSetND) contiguous() ([]*rangeSetND, error) {
	vecs := nd.folded()
	if len(vecs) == 0 {
		return nil, nil
	}
	for d := 0; d < len(vecs[0]); d++ {
		var next [][]*RangeSet
		for _, v := range vecs {
			subs, err := v[d].Contiguous()
			if err != nil {
				return nil, err
			}
			for _, sub := range subs {
				nv := slices.Clone(v)
				nv[d] = sub
				next = append(next, nv)
			}
		}
		vecs = next
	}
	out := make([]*rangeSetND, len(vecs))
	for i, v := range vecs {
		out[i] = newND([][]*RangeSet{v}, 0)
	}
	return out, nil
}

// points yields the points of positions [start, stop) in iteration order.
func (nd *rangeSetND) points(start, stop, step int, f func([]member)) {
	pos := 0
	for _, v := range nd.folded() {
		n := vecLen(v)
		if pos+n <= start {
			pos += n
			continue
		}
		forEachPoint(v, func(p []member) bool {
			if pos >= stop {
				return false
			}
			if pos >= start && (pos-start)%step == 0 {
				f(p)
			}
			pos++
			return true
		})
		if pos >= stop {
			return
		}
	}
}

// slice is ClusterShell's RangeSetND[start:stop:step]: a new set made of
// the selected points, one vector each, to be folded again.
func (nd *rangeSetND) slice(start, stop, step int) *rangeSetND {
	var vecs [][]*RangeSet
	nd.points(start, stop, step, func(p []member) {
		vecs = append(vecs, singletons(p, nd.autostep))
	})
	return newND(vecs, nd.autostep)
}

// accum is the vector a neighbour-merging pass grows. While it only
// absorbs single points that differ from it along one dimension, it just
// collects their indexes, and builds the range set once: merging the 1000
// points of a row one union at a time would cost a copy per point. The
// outcome is what tryMerge would give point by point (the points are
// distinct, so such a point is never already in the row).
type accum struct {
	v     []*RangeSet
	dim   int // the dimension points were collected along; -1: none yet
	extra []member
	point bool // v and everything absorbed so far are single points
}

func newAccum(v []*RangeSet) *accum {
	return &accum{v: v, dim: -1, point: isPoint(v)}
}

func isPoint(v []*RangeSet) bool {
	for _, rs := range v {
		rs.normalize()
		if len(rs.classes) != 1 || len(rs.classes[0].spans) != 1 || rs.classes[0].spans[0].lo != rs.classes[0].spans[0].hi {
			return false
		}
	}
	return true
}

func (a *accum) tryAdd(v []*RangeSet) bool {
	if a.point && isPoint(v) {
		diff := -1
		for d := range v {
			if v[d].first() != a.v[d].first() {
				if d == a.dim || a.dim == -1 && diff == -1 {
					if diff != -1 {
						return false
					}
					diff = d
					continue
				}
				return false
			}
		}
		if diff == -1 {
			return a.dim == -1 // the same point again
		}
		a.dim = diff
		a.extra = append(a.extra, v[diff].first())
		return true
	}
	cur := a.vector()
	m, ok := tryMerge(cur, v)
	if ok {
		a.v, a.dim, a.extra, a.point = m, -1, nil, false
	} else {
		a.v = cur
	}
	return ok
}

// vector returns the grown vector.
func (a *accum) vector() []*RangeSet {
	if len(a.extra) == 0 {
		return a.v
	}
	rs := a.v[a.dim].Clone()
	for _, m := range a.extra {
		rs.push(m)
	}
	rs.normalize()
	v := slices.Clone(a.v)
	v[a.dim] = rs
	a.v, a.extra, a.dim, a.point = v, nil, -1, false
	return v
}

// foldPoints folds a set made only of queued points exactly as fold would
// fold their single-point vectors: univariate merge, or ClusterShell's
// multivariate merge whose first pass (rows of neighbours) runs here on
// plain indexes.
func (nd *rangeSetND) foldPoints() {
	d := nd.ptsDim
	pts := nd.pts
	nd.pts = nil
	nd.dirty = false
	n := len(pts) / d
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	pt := func(i int) []member { return pts[i*d : (i+1)*d] }
	slices.SortFunc(idx, func(a, b int) int { return slices.CompareFunc(pt(a), pt(b), cmpMember) })
	idx = slices.CompactFunc(idx, func(a, b int) bool { return slices.Equal(pt(a), pt(b)) })
	if len(idx) == 1 {
		nd.vecs = [][]*RangeSet{singletons(pt(idx[0]), nd.autostep)}
		return
	}
	vardim, univar := -1, true
	first := pt(idx[0])
	for k := 0; k < d && univar; k++ {
		for _, i := range idx[1:] {
			if pt(i)[k] != first[k] {
				if vardim >= 0 {
					univar = false
				}
				vardim = k
				break
			}
		}
	}
	nd.multivarHint = !univar
	if univar {
		v := singletons(first, nd.autostep)
		rs := v[vardim].Clone()
		for _, i := range idx[1:] {
			rs.push(pt(i)[vardim])
		}
		rs.normalize()
		v[vardim] = rs
		nd.vecs = [][]*RangeSet{v}
		return
	}
	// The first pass of merge: single points sorted as sortVecs sorts
	// them (by the text of each index), neighbours merged into rows.
	slices.SortFunc(idx, func(a, b int) int { return slices.CompareFunc(pt(a), pt(b), cmpMemberText) })
	var vecs [][]*RangeSet
	base, dim := pt(idx[0]), -1
	var extra []member
	emit := func() {
		v := singletons(base, nd.autostep)
		if dim >= 0 {
			rs := v[dim].Clone()
			for _, m := range extra {
				rs.push(m)
			}
			rs.normalize()
			v[dim] = rs
		}
		vecs = append(vecs, v)
	}
	for _, i := range idx[1:] {
		q := pt(i)
		diff, ok := -1, true
		for k := range q {
			if q[k] != base[k] {
				if diff >= 0 || (dim >= 0 && k != dim) {
					ok = false
					break
				}
				diff = k
			}
		}
		if ok && diff >= 0 {
			dim = diff
			extra = append(extra, q[diff])
			continue
		}
		emit()
		base, dim, extra = q, -1, nil
	}
	emit()
	nd.vecs = vecs
	// Rows were built: go on as merge does after a pass that changed
	// something; none: the next pass is a full one.
	nd.merge(len(vecs) == len(idx))
}
