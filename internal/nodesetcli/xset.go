package nodesetcli

import (
	"slices"
	"strings"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// xset is what the nodeset command computes on: a NodeSet, or a RangeSet
// with -R. ClusterShell's CLI uses both through the same duck-typed calls.
type xset interface {
	// parse reads one operand with the command's autostep.
	parse(s string) (xset, error)
	update(o xset)
	// take is update(o) for an o the caller drops afterwards, and which
	// update would copy as it is (see nodeSet.take).
	take(o xset)
	intersectionUpdate(o xset)
	differenceUpdate(o xset)
	symmetricDifferenceUpdate(o xset)
	len() int
	fold() string
	appendExpanded(b []byte, sep string) []byte
	members() []string
	setAutostep(n int)
	autostep() int
	// sliced returns the members at [start:stop] (Python slice semantics)
	// in a set without autostep, as "nodeset -I" builds them.
	sliced(start, stop int64) xset
	split(n int) []xset
	contiguous() ([]xset, error)
	empty() xset
}

type nodeSet struct {
	ns *nodeset.NodeSet
	p  *nodeset.Parser
	// fresh marks the command's result set until something is done to
	// it: take may then adopt its first operand rather than copy it.
	fresh bool
}

func (x *nodeSet) parse(s string) (xset, error) {
	if !singleOperand(s) {
		o, err := x.p.ParseList([]string{s})
		if err != nil {
			return nil, err
		}
		return &nodeSet{ns: o, p: x.p}, nil
	}
	// ParseList([]string{s}) is Parse(s) copied into a set with the
	// parser's autostep. For a single operand the set Parse returns was
	// itself just copied (so multi-dimensional sets are folded) and is
	// owned by nobody else: giving it the autostep gives the same set
	// without copying a large operand once more.
	o, err := x.p.Parse(s)
	if err != nil {
		return nil, err
	}
	if x.p.Autostep != 0 {
		o.SetAutostep(x.p.Autostep)
	}
	return &nodeSet{ns: o, p: x.p}, nil
}

// singleOperand reports whether the expression s has no operator outside
// brackets (no ",", "!", "&" or "^" at the top level), so that Parse
// builds its result from a single operand.
func singleOperand(s string) bool {
	for {
		i := strings.IndexAny(s, "[,!&^")
		if i < 0 {
			return true
		}
		if s[i] != '[' {
			return false
		}
		// Inside brackets only the closing one matters; ranges are most
		// of a large operand, so skip them with IndexByte.
		j := strings.IndexByte(s[i+1:], ']')
		if j < 0 {
			return true
		}
		s = s[i+1+j+1:]
	}
}

func (x *nodeSet) update(o xset)             { x.ns.Update(x.operand(o)) }
func (x *nodeSet) intersectionUpdate(o xset) { x.ns.IntersectionUpdate(x.operand(o)) }
func (x *nodeSet) differenceUpdate(o xset)   { x.ns.DifferenceUpdate(x.operand(o)) }
func (x *nodeSet) symmetricDifferenceUpdate(o xset) {
	x.ns.SymmetricDifferenceUpdate(x.operand(o))
}

// operand returns o's node set for an update of x, which is then no
// longer fresh.
func (x *nodeSet) operand(o xset) *nodeset.NodeSet {
	x.fresh = false
	return o.(*nodeSet).ns
}

// take is update for an operand the caller drops afterwards, and that a
// copy would leave as it is: a set returned by parse (a private copy
// already, see parse) or one without multi-dimensional patterns (copying
// those folds them). A fresh x, which update would fill with a copy of o,
// adopts o instead: for a 100 000-node operand that spares writing
// hundreds of kilobytes of new memory, a large part of the cost of a
// short run.
func (x *nodeSet) take(o xset) {
	on := o.(*nodeSet).ns
	if x.fresh && on.Autostep() == x.ns.Autostep() {
		x.ns, x.fresh = on, false
		return
	}
	x.update(o)
}
func (x *nodeSet) len() int                                   { return x.ns.Len() }
func (x *nodeSet) fold() string                               { return x.ns.String() }
func (x *nodeSet) appendExpanded(b []byte, sep string) []byte { return x.ns.AppendExpanded(b, sep) }
func (x *nodeSet) members() []string                          { return x.ns.Nodes() }
func (x *nodeSet) setAutostep(n int)                          { x.fresh = false; x.ns.SetAutostep(n) }
func (x *nodeSet) autostep() int                              { return x.ns.Autostep() }
func (x *nodeSet) empty() xset                                { return &nodeSet{ns: nodeset.New(), p: x.p} }
func (x *nodeSet) sliced(start, stop int64) xset {
	out := nodeset.New()
	out.Update(x.ns.Slice(start, stop))
	return &nodeSet{ns: out, p: x.p}
}
func (x *nodeSet) split(n int) []xset { return wrapEach(x.ns.Split(n), x.wrap) }
func (x *nodeSet) contiguous() ([]xset, error) {
	subs, err := x.ns.Contiguous()
	return wrapEach(subs, x.wrap), err
}

// wrap makes ns, a part of x, an xset with x's parser.
func (x *nodeSet) wrap(ns *nodeset.NodeSet) xset { return &nodeSet{ns: ns, p: x.p} }

type rangeSet struct {
	rs       *nodeset.RangeSet
	autoStep int
}

func (x *rangeSet) parse(s string) (xset, error) {
	rs, err := nodeset.ParseRangeSet(s)
	if err != nil {
		return nil, err
	}
	rs.SetAutostep(x.autoStep)
	return &rangeSet{rs, x.autoStep}, nil
}
func (x *rangeSet) update(o xset)             { x.rs.Update(o.(*rangeSet).rs) }
func (x *rangeSet) take(o xset)               { x.update(o) }
func (x *rangeSet) intersectionUpdate(o xset) { x.rs.IntersectionUpdate(o.(*rangeSet).rs) }
func (x *rangeSet) differenceUpdate(o xset)   { x.rs.DifferenceUpdate(o.(*rangeSet).rs) }
func (x *rangeSet) symmetricDifferenceUpdate(o xset) {
	x.rs.SymmetricDifferenceUpdate(o.(*rangeSet).rs)
}
func (x *rangeSet) len() int     { return x.rs.Len() }
func (x *rangeSet) fold() string { return x.rs.String() }
func (x *rangeSet) appendExpanded(b []byte, sep string) []byte {
	first := true
	for s := range x.rs.All() {
		if !first {
			b = append(b, sep...)
		}
		first = false
		b = append(b, s...)
	}
	return b
}
func (x *rangeSet) members() []string { return slices.Collect(x.rs.All()) }
func (x *rangeSet) setAutostep(n int) { x.rs.SetAutostep(n) }
func (x *rangeSet) autostep() int     { return x.rs.Autostep() }
func (x *rangeSet) empty() xset       { return &rangeSet{&nodeset.RangeSet{}, 0} }
func (x *rangeSet) sliced(start, stop int64) xset {
	out := &nodeset.RangeSet{}
	n := int64(x.rs.Len())
	start, stop = pySliceBounds(start, stop, n)
	if start < stop {
		out.Update(x.rs.Slice(int(start), int(stop), 1))
	}
	return &rangeSet{out, 0}
}
func (x *rangeSet) split(n int) []xset { return wrapEach(x.rs.Split(n), x.wrap) }
func (x *rangeSet) contiguous() ([]xset, error) {
	subs, err := x.rs.Contiguous()
	return wrapEach(subs, x.wrap), err
}

// wrap makes rs, a part of x, an xset with x's autostep.
func (x *rangeSet) wrap(rs *nodeset.RangeSet) xset { return &rangeSet{rs, x.autoStep} }

// wrapEach returns the xset wrap makes of each of subs (nil for none):
// the parts split and contiguous return.
func wrapEach[S any](subs []S, wrap func(S) xset) []xset {
	var out []xset
	for _, s := range subs {
		out = append(out, wrap(s))
	}
	return out
}

// pySliceBounds resolves Python slice bounds [start:stop] on a sequence of
// length n.
func pySliceBounds(start, stop, n int64) (int64, int64) {
	fix := func(i int64) int64 {
		if i < 0 {
			i += n
			if i < 0 {
				i = 0
			}
		}
		return min(i, n)
	}
	return fix(start), fix(stop)
}

// pyObject stands for a NodeSet or RangeSet given to Python's % operator
// (nodeset -f -O FORMAT): both define __getitem__, so Python treats them
// as mappings and never complains of unused arguments.
type pyObject struct {
	str, typ string
}

func (o pyObject) PyStr() string { return o.str }
func (o pyObject) PyRepr() string {
	if o.typ == "RangeSet" {
		return o.str
	}
	return "<ClusterShell.NodeSet.NodeSet object at 0x7f0000000000>"
}
func (o pyObject) PyType() string { return o.typ }
func (o pyObject) PyGetItem(string) (any, error) {
	return nil, &pyfmt.Error{Kind: "TypeError", Msg: o.typ + " indices must be integers"}
}

func asPyObject(x xset) pyObject {
	if _, ok := x.(*rangeSet); ok {
		return pyObject{x.fold(), "RangeSet"}
	}
	return pyObject{x.fold(), "NodeSet"}
}
