package nodeset

import (
	"strings"
	"testing"
)

// maxFuzzExpand keeps the fold(expand(x)) property cheap to check.
const maxFuzzExpand = 20000

func fuzzSeeds(f *testing.F) {
	for _, c := range parseCases {
		f.Add(c.expr)
	}
	for _, s := range []string{"", ",", "[", "]", "@", "a[1-2]b[3-4]c[5-6]", "n[1-3/2]0", "x[-5--1]",
		"node[0-4/2]-[1-2]", "r[1-50]n[1-1000]!r2n5", "a%sb[1-2]", "1_0", "n[1_0-2_0]", "n[+1-+3]"} {
		f.Add(s)
	}
}

// FuzzParse checks that no input panics or hangs the parser, and that
// folding the expanded nodes gives the fold of the expression.
func FuzzParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, expr string) {
		ns, err := Parse(expr)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("Parse(%q): empty error", expr)
			}
			return
		}
		fold := ns.String()
		if ns.Len() > maxFuzzExpand || hasNegative(ns) {
			// "node-5" from node[-5] reads back as node-[5], in
			// ClusterShell too: the property holds for indexes >= 0.
			return
		}
		again := New()
		for n := range ns.All() {
			one, err := Parse(n)
			if err != nil {
				// A name may hold characters that are operators once
				// parsed again (never from real input: " " or ",").
				if strings.ContainsAny(n, ",!&^[]") {
					return
				}
				t.Fatalf("expanded name %q of %q does not parse: %v", n, expr, err)
			}
			again.Update(one)
		}
		if got := again.String(); got != fold {
			t.Fatalf("fold(expand(%q)) = %q, fold = %q", expr, got, fold)
		}
		if again.Len() != ns.Len() {
			t.Fatalf("count(expand(%q)) = %d, count = %d", expr, again.Len(), ns.Len())
		}
	})
}

// FuzzRangeSet checks range set parsing and the set algebra on two inputs.
func FuzzRangeSet(f *testing.F) {
	f.Add("1-10", "5-15")
	f.Add("01-10,1", "009-011")
	f.Add("-5--2,0", "1-10/3")
	f.Fuzz(func(t *testing.T, a, b string) {
		x, err1 := ParseRangeSet(a)
		y, err2 := ParseRangeSet(b)
		if err1 != nil || err2 != nil {
			return
		}
		u, i, d, s := x.Union(y), x.Intersection(y), x.Difference(y), x.SymmetricDifference(y)
		if u.Len() != i.Len()+s.Len() || x.Len() != d.Len()+i.Len() {
			t.Fatalf("%q %q: |u|=%d |i|=%d |s|=%d |x|=%d |d|=%d", a, b, u.Len(), i.Len(), s.Len(), x.Len(), d.Len())
		}
		back, err := ParseRangeSet(x.String())
		if err != nil || !back.Equal(x) {
			t.Fatalf("ParseRangeSet(String(%q)) = %v, %v", a, back, err)
		}
	})
}

func hasNegative(ns *NodeSet) bool {
	neg := func(rs *RangeSet) bool {
		rs.normalize()
		return len(rs.classes) > 0 && rs.classes[0].width == 0
	}
	for _, p := range ns.pats {
		if p.rs != nil && neg(p.rs) {
			return true
		}
		if p.nd != nil {
			for _, v := range p.nd.vecs {
				for _, rs := range v {
					if neg(rs) {
						return true
					}
				}
			}
		}
	}
	return false
}

// pythonRangeSet parses pattern part by part with Python's rules only, as
// the RangeSet parser did before its fast path.
func pythonRangeSet(pattern string) (*RangeSet, error) {
	rs := &RangeSet{}
	for _, sub := range strings.Split(pattern, ",") {
		if err := rs.parsePython(sub); err != nil {
			return nil, err
		}
	}
	return rs, nil
}

// FuzzRangeSetFastPath checks that the fast path of the range set parser
// (simpleSub, parseAscending) reads every input as Python's rules do: the
// same members, or the same error.
func FuzzRangeSetFastPath(f *testing.F) {
	for _, s := range []string{"1-10", "01-10,1", "0-9,10-99,100", "00,0,000", "5,3,1-2", "1-3,2-8,9",
		"01-9", "1-09", "00-10", "10-1", "0-999999999", "0-1000000000", "1,,2", "", "1-", "-1", "1-2-3",
		"0001-0010,001-010,01-10,1-10", "9-11,07-08", "1_0", " 1", "١-٣", "1-10/2,3", "999999999999999999",
		"0999999999999999999", "1000000000000000000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pattern string) {
		got, err := ParseRangeSet(pattern)
		want, werr := pythonRangeSet(pattern)
		if (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
			t.Fatalf("ParseRangeSet(%q): error %v, Python's rules: %v", pattern, err, werr)
		}
		if err != nil {
			return
		}
		if !got.Equal(want) || got.String() != want.String() || got.Len() != want.Len() {
			t.Fatalf("ParseRangeSet(%q) = %s (%d), Python's rules: %s (%d)", pattern, got, got.Len(), want, want.Len())
		}
		// A parsed set must take more members as any other does.
		got.Update(want)
		if got.String() != want.String() {
			t.Fatalf("%q: union with itself = %s, want %s", pattern, got, want)
		}
	})
}
