package nodeset

import "testing"

// A difference of nD sets past the 2^20 points that are re-merged after an
// operation must leave disjoint vectors: overlapping ones counted and
// expanded nodes twice (a[1-1100]b[1-1100]!a5b5 gave 2 417 800 nodes).
func TestDifferenceNDDisjoint(t *testing.T) {
	for _, c := range []struct {
		expr string
		want int
	}{
		{"a[1-3]b[1-3]!a2b2", 8},
		{"a[1-1100]b[1-1100]!a5b5", 1100*1100 - 1},
		{"a[1-1100]b[1-1100]c[1-2]!a[5-6]b[7-9]c2", 1100*1100*2 - 6},
		{"a[1-1100]b[1-1100]!a[1-1100]b5", 1100 * 1099},
		{"a[1-1100]b[1-1100]!a[2000-3000]b5", 1100 * 1100},
	} {
		ns, err := Parse(c.expr)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		if got := ns.Len(); got != c.want {
			t.Errorf("%s: Len %d, want %d (%s)", c.expr, got, c.want, ns)
		}
		if c.want > 1<<16 {
			continue
		}
		seen := map[string]bool{}
		for n := range ns.All() {
			if seen[n] {
				t.Fatalf("%s: %s twice", c.expr, n)
			}
			seen[n] = true
		}
		if len(seen) != c.want {
			t.Errorf("%s: %d names, want %d", c.expr, len(seen), c.want)
		}
	}
}
