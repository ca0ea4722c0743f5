// Package pydifflib is the part of Python's difflib that clush --diff
// prints with: SequenceMatcher (with its default "autojunk" heuristic,
// since it decides which lines a diff pairs) and unified_diff. A diff of
// the same lines is the same text as Python's, hunk for hunk.
package pydifflib

import (
	"cmp"
	"slices"
	"strconv"
)

// match is difflib's Match: a[a:a+size] == b[b:b+size].
type match struct{ a, b, size int }

// OpCode is one of SequenceMatcher.get_opcodes' tuples: Tag is "equal",
// "replace", "delete" or "insert"; a[I1:I2] becomes b[J1:J2].
type OpCode struct {
	Tag            string
	I1, I2, J1, J2 int
}

// matcher is SequenceMatcher(None, a, b) with autojunk on.
type matcher struct {
	a, b []string
	b2j  map[string][]int
}

func newMatcher(a, b []string) *matcher {
	m := &matcher{a: a, b: b, b2j: make(map[string][]int)}
	for i, s := range b {
		m.b2j[s] = append(m.b2j[s], i)
	}
	// autojunk: in a long b, lines found more than 1% of the time are
	// "popular" and never start a match (they can still extend one).
	if n := len(b); n >= 200 {
		ntest := n/100 + 1
		for s, idx := range m.b2j {
			if len(idx) > ntest {
				delete(m.b2j, s)
			}
		}
	}
	return m
}

// longest is find_longest_match(alo, ahi, blo, bhi) without junk (no
// isjunk function): the longest matching block, earliest in a, then in b.
func (m *matcher) longest(alo, ahi, blo, bhi int) match {
	besti, bestj, bestsize := alo, blo, 0
	j2len := map[int]int{}
	for i := alo; i < ahi; i++ {
		newj2len := map[int]int{}
		for _, j := range m.b2j[m.a[i]] {
			if j < blo {
				continue
			}
			if j >= bhi {
				break
			}
			k := j2len[j-1] + 1
			newj2len[j] = k
			if k > bestsize {
				besti, bestj, bestsize = i-k+1, j-k+1, k
			}
		}
		j2len = newj2len
	}
	// Extend with equal (popular) lines on both sides.
	for besti > alo && bestj > blo && m.a[besti-1] == m.b[bestj-1] {
		besti, bestj, bestsize = besti-1, bestj-1, bestsize+1
	}
	for besti+bestsize < ahi && bestj+bestsize < bhi && m.a[besti+bestsize] == m.b[bestj+bestsize] {
		bestsize++
	}
	return match{besti, bestj, bestsize}
}

// matchingBlocks is get_matching_blocks, ending with the (len(a), len(b),
// 0) sentinel.
func (m *matcher) matchingBlocks() []match {
	la, lb := len(m.a), len(m.b)
	type span struct{ alo, ahi, blo, bhi int }
	queue := []span{{0, la, 0, lb}}
	var blocks []match
	for len(queue) > 0 {
		q := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		x := m.longest(q.alo, q.ahi, q.blo, q.bhi)
		if x.size == 0 {
			continue
		}
		blocks = append(blocks, x)
		if q.alo < x.a && q.blo < x.b {
			queue = append(queue, span{q.alo, x.a, q.blo, x.b})
		}
		if x.a+x.size < q.ahi && x.b+x.size < q.bhi {
			queue = append(queue, span{x.a + x.size, q.ahi, x.b + x.size, q.bhi})
		}
	}
	slices.SortFunc(blocks, func(x, y match) int {
		if c := cmp.Compare(x.a, y.a); c != 0 {
			return c
		}
		if c := cmp.Compare(x.b, y.b); c != 0 {
			return c
		}
		return cmp.Compare(x.size, y.size)
	})
	// Merge adjacent blocks.
	var out []match
	cur := match{}
	for _, x := range blocks {
		if cur.a+cur.size == x.a && cur.b+cur.size == x.b {
			cur.size += x.size
			continue
		}
		if cur.size > 0 {
			out = append(out, cur)
		}
		cur = x
	}
	if cur.size > 0 {
		out = append(out, cur)
	}
	return append(out, match{la, lb, 0})
}

// OpCodes is SequenceMatcher(None, a, b).get_opcodes().
func OpCodes(a, b []string) []OpCode {
	var out []OpCode
	i, j := 0, 0
	for _, x := range newMatcher(a, b).matchingBlocks() {
		tag := ""
		switch {
		case i < x.a && j < x.b:
			tag = "replace"
		case i < x.a:
			tag = "delete"
		case j < x.b:
			tag = "insert"
		}
		if tag != "" {
			out = append(out, OpCode{tag, i, x.a, j, x.b})
		}
		i, j = x.a+x.size, x.b+x.size
		if x.size > 0 {
			out = append(out, OpCode{"equal", x.a, i, x.b, j})
		}
	}
	return out
}

// GroupedOpCodes is get_grouped_opcodes(n): the changes with up to n
// lines of context, split into hunks where more than 2n lines are equal.
func GroupedOpCodes(a, b []string, n int) [][]OpCode {
	codes := OpCodes(a, b)
	if len(codes) == 0 {
		codes = []OpCode{{"equal", 0, 1, 0, 1}}
	}
	if c := &codes[0]; c.Tag == "equal" {
		c.I1, c.J1 = max(c.I1, c.I2-n), max(c.J1, c.J2-n)
	}
	if c := &codes[len(codes)-1]; c.Tag == "equal" {
		c.I2, c.J2 = min(c.I2, c.I1+n), min(c.J2, c.J1+n)
	}
	var groups [][]OpCode
	var group []OpCode
	for _, c := range codes {
		if c.Tag == "equal" && c.I2-c.I1 > 2*n {
			group = append(group, OpCode{c.Tag, c.I1, min(c.I2, c.I1+n), c.J1, min(c.J2, c.J1+n)})
			groups = append(groups, group)
			group = nil
			c.I1, c.J1 = max(c.I1, c.I2-n), max(c.J1, c.J2-n)
		}
		group = append(group, c)
	}
	if len(group) > 0 && !(len(group) == 1 && group[0].Tag == "equal") {
		groups = append(groups, group)
	}
	return groups
}

// formatRange is _format_range_unified: "start,length", 1-based, or just
// "start" for one line.
func formatRange(start, stop int) string {
	beginning, length := start+1, stop-start
	if length == 1 {
		return strconv.Itoa(beginning)
	}
	if length == 0 {
		beginning-- // an empty range begins at the line before it
	}
	return strconv.Itoa(beginning) + "," + strconv.Itoa(length)
}

// UnifiedDiff is difflib.unified_diff(a, b, fromfile, tofile, n=3,
// lineterm=""): the diff's lines without line ends, nothing when a and b
// are equal.
func UnifiedDiff(a, b []string, fromfile, tofile string) []string {
	var out []string
	for _, g := range GroupedOpCodes(a, b, 3) {
		if out == nil {
			out = append(out, "--- "+fromfile, "+++ "+tofile)
		}
		first, last := g[0], g[len(g)-1]
		out = append(out, "@@ -"+formatRange(first.I1, last.I2)+" +"+formatRange(first.J1, last.J2)+" @@")
		for _, c := range g {
			if c.Tag == "equal" {
				for _, l := range a[c.I1:c.I2] {
					out = append(out, " "+l)
				}
				continue
			}
			if c.Tag == "replace" || c.Tag == "delete" {
				for _, l := range a[c.I1:c.I2] {
					out = append(out, "-"+l)
				}
			}
			if c.Tag == "replace" || c.Tag == "insert" {
				for _, l := range b[c.J1:c.J2] {
					out = append(out, "+"+l)
				}
			}
		}
	}
	return out
}
