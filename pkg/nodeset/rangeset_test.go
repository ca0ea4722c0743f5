package nodeset

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSpansOfChunksMatchesModel checks both paths of spansOfChunks (the
// bitmap and the sort) against the set model on random dense and sparse
// lists, negative values included.
func TestSpansOfChunksMatchesModel(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	for i := 0; i < 2000; i++ {
		n := 1 + r.IntN(300)
		spread := int64(1 + r.IntN(1000))
		if i%5 == 0 {
			spread = 1 << 40 // sparse: the sort path
		}
		base := r.Int64N(2000) - 1000
		vals := make([]int64, n)
		for j := range vals {
			vals[j] = base + r.Int64N(spread)
		}
		want := modelSpans(vals)
		if got := spansOfChunks([][]int64{slices.Clone(vals)}, n); !slices.Equal(got, want) {
			t.Fatalf("spansOfChunks(%v) = %v, want %v", vals, got, want)
		}
	}
}

// TestPendingMatchesModel checks members pushed one by one (chunks, then a
// bitmap once dense, re-based as values fall outside it) against the set model,
// on lists long enough to go through every path: dense, sparse, dense
// with far outliers, a range that keeps growing, and repeats.
func TestPendingMatchesModel(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 13))
	shapes := map[string]func(i, n int) int64{
		"dense":  func(i, n int) int64 { return r.Int64N(int64(n) * 13 / 10) },
		"sparse": func(i, n int) int64 { return r.Int64N(1 << 40) },
		"outliers": func(i, n int) int64 {
			if i%97 == 0 {
				return r.Int64N(1 << 30)
			}
			return 5000 + r.Int64N(int64(n))
		},
		"growing":   func(i, n int) int64 { return int64(i) * 3 / 2 },
		"shrinking": func(i, n int) int64 { return int64(n-i) * 2 },
		"repeats":   func(i, n int) int64 { return r.Int64N(50) },
		"negative":  func(i, n int) int64 { return -r.Int64N(int64(n)) },
		"edges": func(i, n int) int64 {
			if i%2 == 0 {
				return maxIndex - r.Int64N(int64(n))
			}
			return r.Int64N(int64(n))
		},
	}
	for name, gen := range shapes {
		for _, n := range []int{1, 100, densifyAt, densifyAt + 1, 3*densifyAt + 17, 70_000} {
			rs := &RangeSet{}
			vals := make([]int64, n)
			for i := range vals {
				vals[i] = gen(i, n)
				rs.push(member{7, vals[i]})
			}
			rs.normalize()
			want := modelSpans(vals)
			if len(rs.classes) != 1 || !slices.Equal(rs.classes[0].spans, want) {
				t.Fatalf("%s, %d values: got %v, want %d runs", name, n, rs.classes, len(want))
			}
		}
	}
}

// modelSpans is the oracle of the tests above: the runs of the set of
// vals, found by membership alone (a run starts at each member whose
// predecessor is absent and goes on while the next integer is present),
// not by sorting and merging as the code under test does.
func modelSpans(vals []int64) []span {
	set := make(map[int64]bool, len(vals))
	for _, v := range vals {
		set[v] = true
	}
	var out []span
	for v := range set {
		if set[v-1] {
			continue
		}
		hi := v
		for set[hi+1] {
			hi++
		}
		out = append(out, span{v, hi})
	}
	slices.SortFunc(out, func(a, b span) int { return cmp.Compare(a.lo, b.lo) })
	return out
}

// TestAutostepFolding checks the autostep cases ClusterShell's nodeset
// prints (research/clustershell.md §6.3).
func TestAutostepFolding(t *testing.T) {
	for _, c := range []struct {
		expr     string
		autostep int
		want     string
	}{
		{"1,3,5,7,9", 3, "1-9/2"},
		{"2,4,6,8,10,11,12", 7, "2,4,6,8,10-12"},
		{"0-20/4", 3, "0-20/4"},
		{"1,3,5", 0, "1,3,5"},
	} {
		rs, err := ParseRangeSet(c.expr)
		if err != nil {
			t.Fatal(err)
		}
		rs.SetAutostep(c.autostep)
		if got := rs.String(); got != c.want {
			t.Errorf("autostep %d %q = %q, want %q", c.autostep, c.expr, got, c.want)
		}
	}
}
