package nodeset

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func shuffled(n int, name func(i int) string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = name(i)
	}
	r := rand.New(rand.NewPCG(1, 2))
	r.Shuffle(n, func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func benchFold(b *testing.B, names []string, want string) {
	b.ReportAllocs()
	for b.Loop() {
		ns := New()
		for _, n := range names {
			if err := ns.AddNode(n); err != nil {
				b.Fatal(err)
			}
		}
		if got := ns.String(); got != want {
			b.Fatalf("fold = %q, want %q", got, want)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(names)), "ns/name")
}

func BenchmarkFold1D100k(b *testing.B) {
	benchFold(b, shuffled(100_000, func(i int) string { return fmt.Sprintf("node%d", i+1) }), "node[1-100000]")
}

func BenchmarkFold1D1M(b *testing.B) {
	benchFold(b, shuffled(1_000_000, func(i int) string { return fmt.Sprintf("node%d", i+1) }), "node[1-1000000]")
}

func BenchmarkFold2D50k(b *testing.B) {
	benchFold(b, shuffled(50_000, func(i int) string { return fmt.Sprintf("r%dn%d", i/1000+1, i%1000+1) }), "r[1-50]n[1-1000]")
}

func BenchmarkExpand1M(b *testing.B) {
	ns := MustParse("node[1-1000000]")
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		buf = ns.AppendExpanded(buf[:0], " ")
	}
}

func BenchmarkCount10M(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if n := MustParse("node[1-10000000]").Len(); n != 10_000_000 {
			b.Fatal(n)
		}
	}
}

func BenchmarkDifference100k(b *testing.B) {
	x := MustParse("node[1-200000/2]")
	y := MustParse("node[1-300000/3]")
	b.ReportAllocs()
	for b.Loop() {
		_ = x.Difference(y).String()
	}
}
