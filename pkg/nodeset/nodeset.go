package nodeset

import (
	"io"
	"iter"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

// A NodeSet is a set of node names written in ClusterShell's folded syntax:
// "node[1-100],gpu[01-08]", "r[1-2]n[1-64]-ib0", "@compute!@down".
//
// Names are grouped by pattern: "node[1-3]" is the pattern "node%s" with the
// range set 1-3; "r[1-2]n[1-4]" is "r%sn%s" with a two-dimensional set.
// Operations follow ClusterShell 1.9 exactly, including the order in which
// folded names are printed.
//
// The zero value is an empty set that ignores @groups (they are read as
// plain names); use a Parser with a GroupResolver to resolve them. A
// NodeSet is not safe for concurrent mutation.
type NodeSet struct {
	pats     map[string]*patternSet
	autostep int
	foldAxis []int // nil: fold along every axis
	axisSet  bool
}

// patternSet holds the indexes of one pattern: rs for one dimension, nd for
// several, neither for a name without digits.
type patternSet struct {
	rs *RangeSet
	nd *rangeSetND
}

func (p *patternSet) empty() bool {
	switch {
	case p.rs != nil:
		return p.rs.Len() == 0
	case p.nd != nil:
		return p.nd.empty()
	}
	return false
}

func (p *patternSet) hasRange() bool { return p.rs != nil || p.nd != nil }

// updateRange applies an in-place set operation to the ranges of p with
// those of q, a set of the same pattern: rsOp when both are
// one-dimensional, ndOp when both are n-dimensional. It reports false,
// changing nothing, when they are not both ranges of one kind.
func (p *patternSet) updateRange(q *patternSet, rsOp func(*RangeSet, *RangeSet),
	ndOp func(*rangeSetND, *rangeSetND)) bool {
	switch {
	case p.rs != nil && q.rs != nil:
		rsOp(p.rs, q.rs)
	case p.nd != nil && q.nd != nil:
		ndOp(p.nd, q.nd)
	default:
		return false
	}
	return true
}

func (p *patternSet) count() int {
	switch {
	case p.rs != nil:
		return p.rs.Len()
	case p.nd != nil:
		return p.nd.Len()
	}
	return 1
}

// clone is ClusterShell's rangeset.copy().
func (p *patternSet) clone() *patternSet {
	switch {
	case p.rs != nil:
		return &patternSet{rs: p.rs.Clone()}
	case p.nd != nil:
		return &patternSet{nd: p.nd.clone()}
	}
	return &patternSet{}
}

func (p *patternSet) setAutostep(n int) {
	switch {
	case p.rs != nil:
		p.rs.SetAutostep(n)
	case p.nd != nil:
		p.nd.setAutostep(n)
	}
}

// New returns an empty NodeSet.
func New() *NodeSet { return &NodeSet{} }

func (ns *NodeSet) init() {
	if ns.pats == nil {
		ns.pats = make(map[string]*patternSet)
	}
}

// sortedPatterns returns the patterns in ClusterShell's output order: sorted
// as Python sorts the pattern strings ("node%s" < "node%s-ib%s").
func (ns *NodeSet) sortedPatterns() []string {
	return slices.Sorted(maps.Keys(ns.pats))
}

// Len returns the number of nodes.
func (ns *NodeSet) Len() int {
	n := 0
	for _, p := range ns.pats {
		n += p.count()
	}
	return n
}

// Autostep returns the autostep threshold (0: disabled).
func (ns *NodeSet) Autostep() int { return ns.autostep }

// SetAutostep sets the minimum number of equally spaced indexes folded as
// "a-b/step" for every pattern of the set; 0 disables it.
func (ns *NodeSet) SetAutostep(n int) {
	ns.autostep = normAutostep(n)
	for _, p := range ns.pats {
		p.setAutostep(ns.autostep)
	}
}

// SetFoldAxis restricts folding of multi-dimensional names to the given
// axes (0-based; negative counts from the end). nil restores folding along
// every axis.
func (ns *NodeSet) SetFoldAxis(axis []int) {
	ns.foldAxis = slices.Clone(axis)
	ns.axisSet = axis != nil
}

// Clone returns a deep copy.
func (ns *NodeSet) Clone() *NodeSet {
	c := &NodeSet{autostep: ns.autostep, foldAxis: ns.foldAxis, axisSet: ns.axisSet}
	c.init()
	for pat, p := range ns.pats {
		c.pats[pat] = p.clone()
	}
	return c
}

// add is ClusterShell's NodeSetBase._add.
func (ns *NodeSet) add(pat string, p *patternSet, copyRange bool) {
	ns.init()
	if e, ok := ns.pats[pat]; ok {
		switch {
		case e.rs != nil && p.rs != nil:
			e.rs.Update(p.rs)
		case e.nd != nil && p.nd != nil:
			e.nd.update(p.nd)
		}
		return
	}
	if p.hasRange() && copyRange {
		p = p.clone()
		if ns.autostep != 0 {
			p.setAutostep(ns.autostep)
		}
	}
	ns.pats[pat] = p
}

// Update adds every node of o (set union, in place).
func (ns *NodeSet) Update(o *NodeSet) {
	for pat, p := range o.pats {
		ns.add(pat, p, true)
	}
}

// IntersectionUpdate keeps only the nodes also in o.
func (ns *NodeSet) IntersectionUpdate(o *NodeSet) {
	if o == ns {
		return
	}
	tmp := make(map[string]*patternSet)
	for pat, ip := range o.pats {
		p, ok := ns.pats[pat]
		switch {
		case ok && p.rs != nil && ip.rs != nil:
			if r := p.rs.Intersection(ip.rs); r.Len() > 0 {
				tmp[pat] = &patternSet{rs: r}
			}
		case ok && p.nd != nil && ip.nd != nil:
			r := p.nd.clone()
			r.intersectionUpdate(ip.nd)
			if r.Len() > 0 {
				tmp[pat] = &patternSet{nd: r}
			}
		case ok && !p.hasRange() && !ip.hasRange():
			tmp[pat] = &patternSet{}
		}
	}
	ns.pats = tmp
}

// DifferenceUpdate removes the nodes of o.
func (ns *NodeSet) DifferenceUpdate(o *NodeSet) {
	for pat, ep := range o.pats {
		p, ok := ns.pats[pat]
		if !ok {
			continue
		}
		if !p.updateRange(ep, (*RangeSet).DifferenceUpdate, (*rangeSetND).differenceUpdate) && !p.hasRange() {
			delete(ns.pats, pat)
			continue
		}
		if p.count() == 0 || p.empty() {
			delete(ns.pats, pat)
		}
	}
}

// SymmetricDifferenceUpdate keeps the nodes in exactly one of both sets.
func (ns *NodeSet) SymmetricDifferenceUpdate(o *NodeSet) {
	ns.init()
	var purge []string
	for pat, p := range ns.pats {
		bp, ok := o.pats[pat]
		if !ok {
			continue
		}
		if !p.updateRange(bp, (*RangeSet).SymmetricDifferenceUpdate, (*rangeSetND).symmetricDifferenceUpdate) &&
			!bp.hasRange() {
			purge = append(purge, pat)
		}
	}
	for pat, bp := range o.pats {
		if _, ok := ns.pats[pat]; !ok {
			ns.add(pat, bp, true)
		}
	}
	for pat, p := range ns.pats {
		if p.hasRange() && p.count() == 0 {
			purge = append(purge, pat)
		}
	}
	for _, pat := range purge {
		delete(ns.pats, pat)
	}
}

// Union returns a new set holding the nodes of both.
func (ns *NodeSet) Union(o *NodeSet) *NodeSet { return updated(ns, (*NodeSet).Update, o) }

// Intersection returns a new set holding the nodes in both.
func (ns *NodeSet) Intersection(o *NodeSet) *NodeSet {
	return updated(ns, (*NodeSet).IntersectionUpdate, o)
}

// Difference returns a new set holding the nodes of ns not in o.
func (ns *NodeSet) Difference(o *NodeSet) *NodeSet {
	return updated(ns, (*NodeSet).DifferenceUpdate, o)
}

// SymmetricDifference returns a new set with the nodes in exactly one set.
func (ns *NodeSet) SymmetricDifference(o *NodeSet) *NodeSet {
	return updated(ns, (*NodeSet).SymmetricDifferenceUpdate, o)
}

// IsSuperset reports whether every node of o is in ns.
func (ns *NodeSet) IsSuperset(o *NodeSet) bool {
	for pat, ep := range o.pats {
		p, ok := ns.pats[pat]
		if !ok {
			return false
		}
		switch {
		case p.rs != nil && ep.rs != nil:
			if !ep.rs.subsetOf(p.rs) {
				return false
			}
		case p.nd != nil && ep.nd != nil:
			if !p.nd.isSuperset(ep.nd) {
				return false
			}
		case p.hasRange() != ep.hasRange():
			return false
		}
	}
	return true
}

// IsSubset reports whether every node of ns is in o.
func (ns *NodeSet) IsSubset(o *NodeSet) bool { return o.IsSuperset(ns) }

// Equal reports whether both sets hold the same nodes.
func (ns *NodeSet) Equal(o *NodeSet) bool { return ns.Len() == o.Len() && ns.IsSuperset(o) }

// Contains reports whether the node name is in ns.
func (ns *NodeSet) Contains(node string) bool {
	one, err := parseSingle(node, 0)
	if err != nil {
		return false
	}
	return ns.IsSuperset(one)
}

// All yields every node name, in ClusterShell's order.
func (ns *NodeSet) All() iter.Seq[string] {
	return func(yield func(string) bool) {
		var buf []byte
		ns.walk(func(pat *pattern, p []member) bool {
			buf = pat.appendNode(buf[:0], p)
			return yield(string(buf))
		})
	}
}

// walk calls f for every node, in order, with its pattern and indexes.
func (ns *NodeSet) walk(f func(*pattern, []member) bool) {
	for _, key := range ns.sortedPatterns() {
		p := ns.pats[key]
		pat := compilePattern(key)
		switch {
		case p.rs != nil:
			one := make([]member, 1)
			for m := range p.rs.members() {
				one[0] = m
				if !f(pat, one) {
					return
				}
			}
		case p.nd != nil:
			for _, v := range p.nd.folded() {
				if !forEachPoint(v, func(pt []member) bool { return f(pat, pt) }) {
					return
				}
			}
		default:
			if !f(pat, nil) {
				return
			}
		}
	}
}

// AppendExpanded appends every node name to b, separated by sep: the fast
// path of "nodeset -e".
func (ns *NodeSet) AppendExpanded(b []byte, sep string) []byte {
	return ns.appendExpanded(b, sep, nil)
}

// appendExpanded appends every node name to b, separated by sep, and,
// when next is set, passes b to next after each name: next returns the
// buffer to go on with (emptied once written out) and whether to go on.
func (ns *NodeSet) appendExpanded(b []byte, sep string, next func([]byte) ([]byte, bool)) []byte {
	first := true
	ns.walk(func(pat *pattern, p []member) bool {
		if !first {
			b = append(b, sep...)
		}
		first = false
		b = pat.appendNode(b, p)
		if next == nil {
			return true
		}
		var more bool
		b, more = next(b)
		return more
	})
	return b
}

// WriteExpanded writes every node name to w, separated by sep, in chunks:
// "nodeset -e" on millions of nodes never holds the whole text.
func (ns *NodeSet) WriteExpanded(w io.Writer, sep string) error {
	var err error
	buf := ns.appendExpanded(make([]byte, 0, 64<<10), sep, func(buf []byte) ([]byte, bool) {
		if len(buf) >= 60<<10 {
			_, err = w.Write(buf)
			buf = buf[:0]
		}
		return buf, err == nil
	})
	if err == nil && len(buf) > 0 {
		_, err = w.Write(buf)
	}
	return err
}

// Nodes returns every node name, in order.
func (ns *NodeSet) Nodes() []string { return slices.Collect(ns.All()) }

// String returns the folded form, byte for byte as ClusterShell prints it.
func (ns *NodeSet) String() string {
	var b strings.Builder
	first := true
	sep := func() {
		if !first {
			b.WriteByte(',')
		}
		first = false
	}
	for _, key := range ns.sortedPatterns() {
		p := ns.pats[key]
		pat := compilePattern(key)
		switch {
		case !p.hasRange():
			sep()
			b.WriteString(pat.lit[0])
		case p.rs != nil:
			if ns.axisSet && !slices.ContainsFunc(ns.foldAxis, func(x int) bool { return x >= -1 && x < 1 }) {
				for s := range p.rs.All() {
					sep()
					b.WriteString(pat.lit[0])
					b.WriteString(s)
					b.WriteString(pat.lit[1])
				}
				continue
			}
			sep()
			// Sized once: a fold of a large set is long.
			b.Grow(len(key) + p.rs.foldedSizeHint() + 3)
			b.WriteString(pat.lit[0])
			writeBracketed(&b, p.rs)
			b.WriteString(pat.lit[1])
		default:
			for _, s := range ns.ndStrings(pat, p.nd) {
				sep()
				b.WriteString(s)
			}
		}
	}
	return b.String()
}

// ndStrings formats the vectors of a multi-dimensional pattern, expanding
// the axes excluded from folding (ClusterShell's _iter_nd_pat).
func (ns *NodeSet) ndStrings(pat *pattern, nd *rangeSetND) []string {
	dimcnt := nd.dim()
	var out []string
	for _, v := range nd.folded() {
		args := [][]string{nil}
		for axis, rs := range v {
			var strs []string
			if rs.Len() > 1 {
				if ns.foldsAxis(axis, dimcnt) {
					strs = []string{"[" + rs.String() + "]"}
				} else {
					strs = slices.Collect(rs.All())
				}
			} else {
				strs = []string{rs.String()}
			}
			next := make([][]string, 0, len(args)*len(strs))
			for _, s := range strs {
				for _, a := range args {
					next = append(next, append(slices.Clip(a), s))
				}
			}
			args = next
		}
		for _, a := range args {
			out = append(out, pat.format(a))
		}
	}
	return out
}

func (ns *NodeSet) foldsAxis(axis, dimcnt int) bool {
	if !ns.axisSet {
		return true
	}
	for _, x := range ns.foldAxis {
		if x >= -dimcnt && x < dimcnt && ((x%dimcnt)+dimcnt)%dimcnt == axis {
			return true
		}
	}
	return false
}

// AddNode adds one node name taken literally: no operators, brackets or
// groups, exactly as Update(ParseNode(name)) but without building a set
// per name, which makes reading a list of a million names fast. New
// patterns get the autostep of ns.
func (ns *NodeSet) AddNode(name string) error {
	name = pyfmt.Strip(name)
	if name == "" {
		return &ParseError{Msg: "parse error"}
	}
	for i := 0; i < len(name); i++ {
		if name[i] >= utf8.RuneSelf { // may hold non-ASCII digits
			one, err := parseSingle(name, ns.autostep)
			if err != nil {
				return err
			}
			ns.Update(one)
			return nil
		}
	}
	var keyBuf [128]byte
	var idxBuf [8]member
	key, idx := keyBuf[:0], idxBuf[:0]
	for i := 0; i < len(name); {
		c := name[i]
		if !isDigit(c) {
			if c == '%' {
				key = append(key, '%', '%')
			} else {
				key = append(key, c)
			}
			i++
			continue
		}
		j := i
		for j < len(name) && isDigit(name[j]) {
			j++
		}
		m, err := indexMember(name[i:j])
		if err != nil {
			return err
		}
		idx = append(idx, m)
		key = append(key, '%', 's')
		i = j
	}
	ns.init()
	p, ok := ns.pats[string(key)]
	if !ok {
		p = &patternSet{}
		switch len(idx) {
		case 0:
		case 1:
			p.rs = &RangeSet{autostep: ns.autostep}
		default:
			p.nd = &rangeSetND{autostep: ns.autostep}
		}
		ns.pats[string(key)] = p
	}
	switch {
	case p.rs != nil:
		p.rs.push(idx[0])
	case p.nd != nil:
		// Folding all at once at the end gives what folding after each
		// name gives (see rangeSetND.fold), for far less work.
		p.nd.addPoint(idx)
	}
	return nil
}

// singletons returns one single-index range set per member, in four
// allocations whatever the number of dimensions.
func singletons(idx []member, autostep int) []*RangeSet {
	n := len(idx)
	v := make([]*RangeSet, n)
	sets := make([]RangeSet, n)
	cls := make([]rsClass, n)
	spans := make([]span, n)
	for k, m := range idx {
		spans[k] = span{m.value, m.value}
		cls[k] = rsClass{m.width, spans[k : k+1 : k+1]}
		sets[k] = RangeSet{autostep: autostep, classes: cls[k : k+1 : k+1]}
		v[k] = &sets[k]
	}
	return v
}
