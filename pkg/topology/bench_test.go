package topology

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// benchTopology has an admin node, 100 gateways in pairs (50 groups) and
// 1000 nodes per group: 50 000 nodes.
func benchTopology(b *testing.B) *Router {
	conf := pairedRoutes(50, func(g int) string { return fmt.Sprintf("node[%d-%d]", g*1000+1, g*1000+1000) })
	return mustRouter(b, parse(b, conf), "admin")
}

func benchSplit(b *testing.B, nodes *nodeset.NodeSet, wantGroups int) {
	r := benchTopology(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		groups, local := r.Split(nodes)
		if len(groups) != wantGroups || local == nil {
			b.Fatalf("%d groups", len(groups))
		}
	}
}

// BenchmarkSplit50k splits 50 000 contiguous nodes plus 100 unrouted ones.
func BenchmarkSplit50k(b *testing.B) {
	benchSplit(b, nodeset.MustParse("node[1-50000],login[1-100]"), 50)
}

// BenchmarkSplit50kSparse splits every other node of 100 000: 50 000
// nodes, each its own range (the worst case for folded sets).
func BenchmarkSplit50kSparse(b *testing.B) {
	nodes := nodeset.New()
	for i := 1; i <= 100000; i += 2 {
		if err := nodes.AddNode(fmt.Sprintf("node%d", i)); err != nil {
			b.Fatal(err)
		}
	}
	benchSplit(b, nodes, 50)
}

// BenchmarkSplit50kNames splits 50 000 nodes whose names hold no digits
// next to each other's (one pattern per node), half of them routed.
func BenchmarkSplit50kNames(b *testing.B) {
	nodes := nodeset.New()
	for i := 1; i <= 25000; i++ {
		_ = nodes.AddNode(fmt.Sprintf("node%d", i*2))
		_ = nodes.AddNode(fmt.Sprintf("host-%c%c%c", 'a'+i%26, 'a'+i/26%26, 'a'+i/676%26))
	}
	benchSplit(b, nodes, 50)
}

// BenchmarkSplit50kIP splits 50 000 cloud-style names (ip-10-0-X-Y, a
// four-dimensional pattern) over 50 groups of /24 networks.
func BenchmarkSplit50kIP(b *testing.B) {
	conf := pairedRoutes(50, func(g int) string { return fmt.Sprintf("ip-10-0-[%d-%d]-[0-255]", 4*g, 4*g+3) })
	r := mustRouter(b, parse(b, conf), "")
	nodes := nodeset.New()
	for i := range 50000 {
		_ = nodes.AddNode(fmt.Sprintf("ip-10-0-%d-%d", i/250, i%250))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		groups, _ := r.Split(nodes)
		if len(groups) != 50 {
			b.Fatalf("%d groups", len(groups))
		}
	}
}

// twoDConf has 200 gateways, each serving one row of a two-dimensional
// naming (r<N>n[1-500]): 100 000 nodes.
func twoDConf() string {
	var sb strings.Builder
	sb.WriteString("[routes]\nadmin: gw[1-200]\n")
	for i := 1; i <= 200; i++ {
		fmt.Fprintf(&sb, "gw%d: r%dn[1-500]\n", i, i)
	}
	return sb.String()
}

// BenchmarkParse200Routes parses and validates 201 routes.
func BenchmarkParse200Routes(b *testing.B) {
	conf := twoDConf()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(strings.NewReader(conf), "bench.conf", Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRouter200Routes builds the router of 201 routes.
func BenchmarkRouter200Routes(b *testing.B) {
	t, err := Parse(strings.NewReader(twoDConf()), "bench.conf", Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := t.Router(""); err != nil {
			b.Fatal(err)
		}
	}
}
