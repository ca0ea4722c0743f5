package nodeset

// Slice returns the nodes at positions [start:stop] of the iteration order,
// with Python's slice semantics: negative positions count from the end
// (ClusterShell's NodeSet[start:stop]). Like ClusterShell, the slice keeps
// the autostep of ns but not its fold axis.
func (ns *NodeSet) Slice(start, stop int64) *NodeSet {
	out := &NodeSet{autostep: ns.autostep}
	out.init()
	n := int64(ns.Len())
	if start < 0 {
		start = max(0, n+start)
	}
	if stop < 0 {
		stop = max(0, n+stop)
	}
	if stop <= start {
		return out
	}
	next := start
	var length int64
	for _, pat := range ns.sortedPatterns() {
		p := ns.pats[pat]
		var cnt, num int64
		if p.hasRange() {
			cnt = int64(p.count())
			offset := next - length
			if offset >= cnt {
				length += cnt
				continue
			}
			num = min(stop-next, cnt-offset)
			var sub *patternSet
			if p.rs != nil {
				sub = &patternSet{rs: p.rs.Slice(int(offset), int(offset+num), 1)}
			} else {
				sub = &patternSet{nd: p.nd.slice(int(offset), int(offset+num), 1)}
			}
			out.add(pat, sub, true)
		} else {
			cnt, num = 1, 1
			if next > length {
				length += cnt
				continue
			}
			out.add(pat, &patternSet{}, true)
		}
		next += num
		if next >= stop {
			break
		}
		length += cnt
	}
	return out
}

// Split divides ns into at most n sets of nearly equal size, in iteration
// order, the first ones one node larger (ClusterShell's NodeSet.split).
func (ns *NodeSet) Split(n int) []*NodeSet {
	total := int64(ns.Len())
	if n < 1 {
		n = 1
	}
	size, left := total/int64(n), total%int64(n)
	var out []*NodeSet
	var begin int64
	for i := int64(0); i < min(int64(n), total); i++ {
		length := size
		if i < left {
			length++
		}
		out = append(out, ns.Slice(begin, begin+length))
		begin += length
	}
	return out
}

// Contiguous splits ns into sets of consecutive indexes: one per run, per
// pattern (ClusterShell's NodeSet.contiguous). A run of negative indexes
// ending at -1 is an error in ClusterShell; the sets before it are
// returned with the error.
func (ns *NodeSet) Contiguous() ([]*NodeSet, error) {
	var out []*NodeSet
	for _, pat := range ns.sortedPatterns() {
		p := ns.pats[pat]
		switch {
		case p.rs != nil:
			subs, err := p.rs.Contiguous()
			for _, sub := range subs {
				out = append(out, single(pat, &patternSet{rs: sub}))
			}
			if err != nil {
				return out, err
			}
		case p.nd != nil:
			subs, err := p.nd.contiguous()
			if err != nil {
				return out, err
			}
			for _, sub := range subs {
				out = append(out, single(pat, &patternSet{nd: sub}))
			}
		default:
			out = append(out, single(pat, &patternSet{}))
		}
	}
	return out, nil
}
