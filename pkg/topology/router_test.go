package topology

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// describe prints the groups of r as "name: gateways -> nodes".
func describe(r *Router) []string {
	var out []string
	for _, g := range r.Groups() {
		out = append(out, fmt.Sprintf("%s: %s -> %s", g.Name, g.Gateways, g.Nodes))
	}
	return out
}

// splitString prints a Split as "group=nodes ... local=nodes", groups
// sorted by name.
func splitString(groups map[string]*nodeset.NodeSet, local *nodeset.NodeSet) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(groups)) {
		parts = append(parts, name+"="+groups[name].String())
	}
	return strings.Join(append(parts, "local="+local.String()), " ")
}

func TestRouter(t *testing.T) {
	const levels = `[routes]
admin[1-2]: top[1-2]
top[1-2]: mid[1-4]
mid[1-2]: leaf[1-100]
mid[3-4]: leaf[101-200]
`
	tests := []struct {
		name   string
		conf   string
		root   string
		groups []string
		split  string // nodes to split
		want   string
	}{
		{"example from rio0", rioConf, "rio0",
			[]string{"rio[10-11]: rio[10-11] -> rio[100-240]", "rio[12-13]: rio[12-13] -> rio[300-440]"},
			"rio[0,10-13,100,240-241,300,440-441],login1",
			"rio[10-11]=rio[100,240] rio[12-13]=rio[300,440] local=login1,rio[0,10-13,241,441]"},
		{"example from the top", rioConf, "",
			[]string{"rio[10-11]: rio[10-11] -> rio[100-240]", "rio[12-13]: rio[12-13] -> rio[300-440]"},
			"rio[100-101,300]", "rio[10-11]=rio[100-101] rio[12-13]=rio300 local="},
		{"example from a gateway", rioConf, "rio10",
			[]string{"rio0: rio0 -> rio[11-13]", "rio[12-13]: rio[12-13] -> rio[300-440]"},
			"rio[10-13,100,300]", "rio0=rio[11-13] rio[12-13]=rio300 local=rio[10,100]"},
		{"example from a second gateway of a group", rioConf, "rio11",
			[]string{"rio0: rio0 -> rio[10,12-13]", "rio[12-13]: rio[12-13] -> rio[300-440]"},
			"rio[10-13,100,300]", "rio0=rio[10,12-13] rio[12-13]=rio300 local=rio[11,100]"},
		{"several levels: last hop serves", levels, "admin1",
			[]string{"top[1-2]: top[1-2] -> mid[1-4]", "mid[1-2]: mid[1-2] -> leaf[1-100]", "mid[3-4]: mid[3-4] -> leaf[101-200]"},
			"admin[1-2],top[1-2],mid[1-4],leaf[1-200]",
			"mid[1-2]=leaf[1-100] mid[3-4]=leaf[101-200] top[1-2]=mid[1-4] local=admin[1-2],top[1-2]"},
		{"several levels, empty root", levels, "",
			[]string{"top[1-2]: top[1-2] -> mid[1-4]", "mid[1-2]: mid[1-2] -> leaf[1-100]", "mid[3-4]: mid[3-4] -> leaf[101-200]"},
			"leaf[100-101]", "mid[1-2]=leaf100 mid[3-4]=leaf101 local="},
		{"equal sources merge", "[routes]\nadm: gw[1-2]\ngw[1-2]: n[1-10]\ngw1,gw2: n[11-20]\n", "",
			[]string{"gw[1-2]: gw[1-2] -> n[1-20]"},
			"n[1-30]", "gw[1-2]=n[1-20] local=n[21-30]"},
		{"overlapping gateway groups", "[routes]\nadm: gw[1-3]\ngw[1-2]: a[1-10]\ngw[2-3]: b[1-10]\n", "adm",
			[]string{"gw[1-2]: gw[1-2] -> a[1-10]", "gw[2-3]: gw[2-3] -> b[1-10]"},
			"a1,b1,gw2", "gw[1-2]=a1 gw[2-3]=b1 local=gw2"},
		{"several trees, empty root", "[routes]\nadm: gw1\ngw1: a[1-10]\nmgmt: gw2\ngw2: b[1-10]\n", "",
			[]string{"gw1: gw1 -> a[1-10]", "gw2: gw2 -> b[1-10]"},
			"a1,b1,gw[1-2],adm,mgmt", "gw1=a1 gw2=b1 local=adm,gw[1-2],mgmt"},
		{"several trees, one root", "[routes]\nadm: gw1\ngw1: a[1-10]\nmgmt: gw2\ngw2: b[1-10]\n", "adm",
			[]string{"gw1: gw1 -> a[1-10]", "mgmt: mgmt -> gw2", "gw2: gw2 -> b[1-10]"},
			"a1,b1,gw[1-2],adm,mgmt", "gw1=a1 gw2=b1 mgmt=gw2 local=adm,gw1,mgmt"},
		{"root shares a source with another admin node", "[routes]\nadm[1-2]: gw1\ngw1: n[1-4]\n", "adm2",
			[]string{"gw1: gw1 -> n[1-4]"},
			"adm[1-2],gw1,n1", "gw1=n1 local=adm[1-2],gw1"},
		{"a top source that is also a partial gateway", "[routes]\na: b[1-2]\nb1,c: d\n", "",
			nil, "a,b[1-2],c,d", "local=a,b[1-2],c,d"},
		{"no routes", "[routes]\n", "anyhost", nil, "n[1-3]", "local=n[1-3]"},
		{"only empty routes", "[routes]\na:\n", "", nil, "a", "local=a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parse(t, tt.conf).Router(tt.root)
			if err != nil {
				t.Fatal(err)
			}
			if got := describe(r); strings.Join(got, "\n") != strings.Join(tt.groups, "\n") {
				t.Errorf("groups:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.groups, "\n"))
			}
			groups, local := r.Split(nodeset.MustParse(tt.split))
			if got := splitString(groups, local); got != tt.want {
				t.Errorf("Split(%s):\n got %s\nwant %s", tt.split, got, tt.want)
			}
		})
	}
}

func TestRouterRoot(t *testing.T) {
	topo := parse(t, rioConf)
	r, err := topo.Router("")
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Root().String(); got != "rio0" {
		t.Errorf("empty root = %q, want rio0", got)
	}

	// ClusterShell: /usr/bin/python3 -c 'from ClusterShell.Topology import TopologyParser
	// TopologyParser("topology.conf").tree("nosuch")'
	// TopologyError: "nosuch" is not a valid root node!
	for _, root := range []string{"nosuch", "rio100", "rio[10-11]"} {
		_, err := topo.Router(root)
		want := `topology.conf: "` + root + `" is not a valid root node! (it is in the source of no route)`
		if err == nil || err.Error() != want || !errors.Is(err, ErrInvalidRoot) {
			t.Errorf("Router(%q): %v, want %s", root, err, want)
		}
	}
}

func TestRouterRevalidates(t *testing.T) {
	topo := &Topology{Routes: []Route{
		{Src: nodeset.MustParse("a"), Dst: nodeset.MustParse("b"), Line: 1},
		{Src: nodeset.MustParse("c"), Dst: nodeset.MustParse("b"), Line: 2},
	}}
	if _, err := topo.Router(""); !errors.Is(err, ErrConvergentPath) {
		t.Errorf("hand-made convergent routes: %v", err)
	}
	topo = &Topology{Routes: []Route{{Src: nil, Dst: nodeset.MustParse("b")}, {Src: nodeset.MustParse("a"), Dst: nodeset.MustParse("b")}}}
	r, err := topo.Router("a")
	if err != nil || len(r.Groups()) != 0 {
		t.Errorf("nil source not skipped: %v %v", describe(r), err)
	}
}

func TestZeroValues(t *testing.T) {
	var nilTopo *Topology
	r, err := nilTopo.Router("x")
	if r != nil || err != nil {
		t.Errorf("nil Topology: %v %v", r, err)
	}
	for _, r := range []*Router{nil, mustRouter(t, &Topology{}, "host")} {
		if r.Groups() != nil {
			t.Errorf("Groups() = %v", r.Groups())
		}
		if _, ok := r.Group("x"); ok {
			t.Error("Group found")
		}
		if r.GroupsOfGateway("x") != nil {
			t.Error("GroupsOfGateway not nil")
		}
		in := nodeset.MustParse("n[1-5]")
		groups, local := r.Split(in)
		if groups == nil || len(groups) != 0 || !local.Equal(in) {
			t.Errorf("Split: %v %v", groups, local)
		}
		local.Update(nodeset.MustParse("x"))
		if in.Len() != 5 {
			t.Error("Split returned its input")
		}
		groups, local = r.Split(nil)
		if groups == nil || local == nil || local.Len() != 0 {
			t.Errorf("Split(nil): %v %v", groups, local)
		}
	}
	if (*Router)(nil).Root() != nil {
		t.Error("nil Router has a root")
	}
	var rt Route
	if rt.String() != " -> " {
		t.Errorf("zero Route = %q", rt.String())
	}
}

// pairedRoutes is a topology.conf whose admin node reaches 2*groups
// gateways, each pair of them (gw1 and gw2, gw3 and gw4...) serving the
// nodes nodes(g) of group g (from 0).
func pairedRoutes(groups int, nodes func(g int) string) string {
	var conf strings.Builder
	fmt.Fprintf(&conf, "[routes]\nadmin: gw[1-%d]\n", 2*groups)
	for g := range groups {
		fmt.Fprintf(&conf, "gw[%d-%d]: %s\n", 2*g+1, 2*g+2, nodes(g))
	}
	return conf.String()
}

func mustRouter(t testing.TB, topo *Topology, root string) *Router {
	t.Helper()
	r, err := topo.Router(root)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestGroupLookups(t *testing.T) {
	r := mustRouter(t, parse(t, "[routes]\nadm: gw[1-3]\ngw[1-2]: a[1-10]\ngw[2-3]: b[1-10]\ngw3: c1\n"), "")
	for gw, want := range map[string][]string{
		"gw1":   {"gw[1-2]"},
		"gw2":   {"gw[1-2]", "gw[2-3]"},
		"gw3":   {"gw[2-3]", "gw3"},
		"adm":   nil, // serves local nodes only
		"a1":    nil,
		"gw[1]": nil, // a name, not a nodeset
	} {
		if got := r.GroupsOfGateway(gw); !slices.Equal(got, want) {
			t.Errorf("GroupsOfGateway(%q) = %q, want %q", gw, got, want)
		}
	}
	g, ok := r.Group("gw[2-3]")
	if !ok || g.Name != "gw[2-3]" || g.Gateways.String() != "gw[2-3]" || g.Nodes.String() != "b[1-10]" {
		t.Fatalf("Group(gw[2-3]) = %v, %v", g, ok)
	}
	// The returned sets are copies.
	g.Nodes.Update(nodeset.MustParse("z"))
	g.Gateways.Update(nodeset.MustParse("z"))
	r.Groups()[0].Nodes.Update(nodeset.MustParse("z"))
	if g2, _ := r.Group("gw[2-3]"); g2.Nodes.String() != "b[1-10]" || g2.Gateways.String() != "gw[2-3]" {
		t.Errorf("Group sets are shared with the router: %v", g2)
	}
	if g, _ := r.Group("gw[1-2]"); g.Nodes.String() != "a[1-10]" {
		t.Errorf("Groups sets are shared with the router: %v", g)
	}
	if _, ok := r.Group("adm"); ok {
		t.Error("the root's group is a gateway group")
	}
	if _, ok := r.Group("gw1,gw2"); ok {
		t.Error("Group found by an unfolded name")
	}
}

// TestSplitPartitions checks on a large topology that Split is a partition
// of its input and sends each node to the group that serves it.
func TestSplitPartitions(t *testing.T) {
	conf := pairedRoutes(10, func(g int) string { return fmt.Sprintf("node[%d-%d]", g*100+1, g*100+100) })
	r := mustRouter(t, parse(t, conf), "admin")
	in := nodeset.MustParse("node[1-1100/3],gw[1-25],admin,other[1-3]")
	in.SetAutostep(3)
	groups, local := r.Split(in)
	union := local.Clone()
	total := local.Len()
	for name, part := range groups {
		g, ok := r.Group(name)
		if !ok || !g.Nodes.IsSuperset(part) || part.Len() == 0 {
			t.Errorf("group %s got %s", name, part)
		}
		if part.Autostep() != 3 {
			t.Errorf("group %s: autostep %d", name, part.Autostep())
		}
		union.Update(part)
		total += part.Len()
	}
	if !union.Equal(in) || total != in.Len() {
		t.Errorf("Split is not a partition: union %s (%d nodes), input %s", union, total, in)
	}
	if want := "admin,gw[1-25],node[1003-1099/3],other[1-3]"; local.String() != want {
		t.Errorf("local = %s, want %s", local, want)
	}
	if len(groups) != 10 {
		t.Errorf("%d groups", len(groups))
	}
}

func TestSplitConcurrent(t *testing.T) {
	// Two-dimensional names: pkg/nodeset folds them lazily, on first read.
	conf := "[routes]\nrio0: rio[10-13]\nrio[10-11]: r[1-2]n[1-100],r3n[1-50]\nrio[12-13]: r3n[51-100],r[4-9]n[1-100]\n"
	r := mustRouter(t, parse(t, conf), "rio0")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				in := nodeset.MustParse(fmt.Sprintf("r[1-9]n[%d-%d],rio[%d-%d]", j+1, j+20, i, i+12))
				groups, local := r.Split(in)
				n := local.Len()
				for _, g := range groups {
					n += g.Len()
				}
				if n != in.Len() {
					t.Errorf("Split(%s) lost nodes", in)
				}
				if len(groups) != 2 {
					t.Errorf("Split(%s) = %v", in, groups)
				}
				_ = r.GroupsOfGateway("rio10")
				_ = r.Groups()
			}
		})
	}
	wg.Wait()
}
