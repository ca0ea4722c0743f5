package nodeset_test

import (
	"errors"
	"fmt"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// Parse, combine and fold node sets, as ClusterShell's NodeSet does.
func Example() {
	ns := nodeset.MustParse("node[1-10],gpu[01-04]")
	down := nodeset.MustParse("node[3-4],gpu02")
	up := ns.Difference(down)
	fmt.Println(up, up.Len())
	for _, part := range up.Split(2) {
		fmt.Println(part)
	}
	fmt.Println(nodeset.MustParse("r[1-2]n[1-3]-ib0").Nodes())
	// Output:
	// gpu[01,03-04],node[1-2,5-10] 11
	// gpu[01,03-04],node[1-2,5]
	// node[6-10]
	// [r1n1-ib0 r1n2-ib0 r1n3-ib0 r2n1-ib0 r2n2-ib0 r2n3-ib0]
}

// Resolve @groups and regroup a set with a resolver built in Go (a
// groups.conf would be loaded with LoadResolver).
func ExampleParser_Regroup() {
	r, err := nodeset.NewStaticResolver(map[string]map[string]string{
		"racks": {"rack1": "node[1-4]", "rack2": "node[5-8]"},
	}, "racks")
	if err != nil {
		fmt.Println(err)
		return
	}
	p := &nodeset.Parser{Resolver: r}
	ns, err := p.Parse("@rack1,node[5-6]")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ns)
	ns, _ = p.Parse("@rack1,@rack2!node7")
	folded, err := p.Regroup(ns, "", false)
	fmt.Println(folded, err)
	// Output:
	// node[1-6]
	// @rack1,node[5-6,8] <nil>
}

// Parse reports malformed input with a typed error whose message reads
// as ClusterShell's.
func ExampleParse_error() {
	_, err := nodeset.Parse("node[3-1]")
	var re *nodeset.RangeParseError
	fmt.Println(errors.As(err, &re))
	fmt.Println(err)
	// Output:
	// true
	// bad range: "invalid values in range : "3-1""
}
