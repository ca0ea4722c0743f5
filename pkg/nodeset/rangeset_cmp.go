package nodeset

// Allocation-free comparisons used by the nD folding loop, which compares
// range sets pairwise many times.

// spanDisjoint reports whether two sorted span lists share no value.
func spanDisjoint(a, b []span) bool {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if max(a[i].lo, b[j].lo) <= min(a[i].hi, b[j].hi) {
			return false
		}
		if a[i].hi < b[j].hi {
			i++
		} else {
			j++
		}
	}
	return true
}

// spanSubset reports whether every value of a is in b.
func spanSubset(a, b []span) bool {
	j := 0
	for _, s := range a {
		for j < len(b) && b[j].hi < s.lo {
			j++
		}
		if j >= len(b) || b[j].lo > s.lo || b[j].hi < s.hi {
			return false
		}
	}
	return true
}

// disjoint reports whether rs and o share no member.
func (rs *RangeSet) disjoint(o *RangeSet) bool {
	rs.normalize()
	o.normalize()
	i, j := 0, 0
	for i < len(rs.classes) && j < len(o.classes) {
		a, b := rs.classes[i], o.classes[j]
		switch {
		case a.width < b.width:
			i++
		case a.width > b.width:
			j++
		default:
			if !spanDisjoint(a.spans, b.spans) {
				return false
			}
			i++
			j++
		}
	}
	return true
}

// subsetOf reports whether every member of rs is in o.
func (rs *RangeSet) subsetOf(o *RangeSet) bool {
	rs.normalize()
	o.normalize()
	j := 0
	for _, a := range rs.classes {
		for j < len(o.classes) && o.classes[j].width < a.width {
			j++
		}
		if j >= len(o.classes) || o.classes[j].width != a.width || !spanSubset(a.spans, o.classes[j].spans) {
			return false
		}
	}
	return true
}
