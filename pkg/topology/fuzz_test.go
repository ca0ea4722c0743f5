package topology

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// FuzzParse feeds arbitrary files to Parse: it must not panic or hang,
// every error must be an *Error with a kind, and an accepted topology must
// give a Router whose Split is a partition of its input.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		rioConf,
		"[Main]\nrio0: rio[10-13]\n",
		"[DEFAULT]\na: x\n[routes]\na: b\nbase: n\nc: %(base)s[1-2],x%%\n",
		"[routes]\na: b[1-2],\n   b3\n\n  # c\n   b4\n",
		"[routes]\nc: a\nd: x\na: c,d\n",
		"[routes]\na: b\nb: c\nc: a\n",
		"[routes]\na[1-3]: b\nc: a[1-2]\n",
		"[routes]\nadm: gw[1-3]\ngw[1-2]: a[1-10]\ngw[2-3]: b[1-10]\n",
		"[routes]\nr[1-2]n[1-2]: r[1-4]n[3-64]\n",
		"[routes]\r\na = b\rc: d!d\n[]]\n",
		"[routes]\na: %(a)s\n",
		"\ufeff[routes]\na: b # c\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(fuzzParse)
}

func fuzzParse(t *testing.T, conf string) {
	{
		topo, err := Parse(strings.NewReader(conf), "fuzz.conf", Options{})
		if err != nil {
			var te *Error
			if !errors.As(err, &te) || te.Kind == nil || !strings.HasPrefix(err.Error(), "fuzz.conf") {
				t.Fatalf("error %#v", err)
			}
			return
		}
		for _, root := range []string{"", firstSource(topo)} {
			r, err := topo.Router(root)
			if err != nil {
				t.Fatalf("Router(%q) of an accepted topology: %v", root, err)
			}
			in := nodeset.New()
			size := 0
			for _, rt := range topo.Routes {
				in.Update(rt.Src)
				in.Update(rt.Dst)
				size += rt.Src.Len() + rt.Dst.Len()
			}
			if size > 100_000 {
				// pkg/nodeset re-folds a multi-dimensional union of up to
				// 2^20 nodes point by point: seconds, not a topology matter.
				continue
			}
			in.Update(nodeset.MustParse("unrouted[1-3]"))
			groups, local := r.Split(in)
			total := local.Len()
			union := local.Clone()
			for name, part := range groups {
				if _, ok := r.Group(name); !ok {
					t.Fatalf("Split gave unknown group %q", name)
				}
				total += part.Len()
				union.Update(part)
			}
			if total != in.Len() || !union.Equal(in) {
				t.Fatalf("Split(%s) is not a partition", in)
			}
			for _, g := range r.Groups() {
				if g.Gateways.Len() != 1 {
					continue // naming a member could expand a huge set
				}
				name := g.Gateways.String()
				if !g.Gateways.Contains(name) {
					continue // "A[-1]" prints as "A-1", another name (as in ClusterShell)
				}
				if !slices.Contains(r.GroupsOfGateway(name), g.Name) {
					t.Fatalf("GroupsOfGateway(%q) misses %q", name, g.Name)
				}
			}
		}
	}
}

// firstSource returns the first route's source if it is one node, else "".
func firstSource(topo *Topology) string {
	if len(topo.Routes) == 0 || topo.Routes[0].Src.Len() != 1 {
		return ""
	}
	name := topo.Routes[0].Src.String()
	if !topo.Routes[0].Src.Contains(name) {
		return "" // "A[-1]" prints as "A-1", another name
	}
	return name
}
