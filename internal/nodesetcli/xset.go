package nodesetcli

import (
	"github.com/fleetsh/fleetsh/internal/pyfmt"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// xset is what the nodeset command computes on: a NodeSet, or a RangeSet
// with -R. ClusterShell's CLI uses both through the same duck-typed calls.
type xset interface {
	// parse reads one operand with the command's autostep.
	parse(s string) (xset, error)
	update(o xset)
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
}

func (x *nodeSet) parse(s string) (xset, error) {
	o, err := x.p.ParseList([]string{s})
	if err != nil {
		return nil, err
	}
	return &nodeSet{o, x.p}, nil
}
func (x *nodeSet) update(o xset)             { x.ns.Update(o.(*nodeSet).ns) }
func (x *nodeSet) intersectionUpdate(o xset) { x.ns.IntersectionUpdate(o.(*nodeSet).ns) }
func (x *nodeSet) differenceUpdate(o xset)   { x.ns.DifferenceUpdate(o.(*nodeSet).ns) }
func (x *nodeSet) symmetricDifferenceUpdate(o xset) {
	x.ns.SymmetricDifferenceUpdate(o.(*nodeSet).ns)
}
func (x *nodeSet) len() int                                   { return x.ns.Len() }
func (x *nodeSet) fold() string                               { return x.ns.String() }
func (x *nodeSet) appendExpanded(b []byte, sep string) []byte { return x.ns.AppendExpanded(b, sep) }
func (x *nodeSet) members() []string                          { return x.ns.Nodes() }
func (x *nodeSet) setAutostep(n int)                          { x.ns.SetAutostep(n) }
func (x *nodeSet) autostep() int                              { return x.ns.Autostep() }
func (x *nodeSet) empty() xset                                { return &nodeSet{nodeset.New(), x.p} }
func (x *nodeSet) sliced(start, stop int64) xset {
	out := nodeset.New()
	out.Update(x.ns.Slice(start, stop))
	return &nodeSet{out, x.p}
}
func (x *nodeSet) split(n int) []xset {
	var out []xset
	for _, s := range x.ns.Split(n) {
		out = append(out, &nodeSet{s, x.p})
	}
	return out
}
func (x *nodeSet) contiguous() ([]xset, error) {
	var out []xset
	subs, err := x.ns.Contiguous()
	for _, s := range subs {
		out = append(out, &nodeSet{s, x.p})
	}
	return out, err
}

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
func (x *rangeSet) members() []string {
	var out []string
	for s := range x.rs.All() {
		out = append(out, s)
	}
	return out
}
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
func (x *rangeSet) split(n int) []xset {
	var out []xset
	for _, s := range x.rs.Split(n) {
		out = append(out, &rangeSet{s, x.autoStep})
	}
	return out
}
func (x *rangeSet) contiguous() ([]xset, error) {
	var out []xset
	subs, err := x.rs.Contiguous()
	for _, s := range subs {
		out = append(out, &rangeSet{s, x.autoStep})
	}
	return out, err
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
