package topology

import (
	"fmt"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// A Group is a gateway group: the gateways of one route source and the
// nodes they serve directly (the union of the destinations of the routes
// from that source).
type Group struct {
	// Name identifies the group: the folded source nodeset, "gw[1-2]".
	// Agents of the group take its shards.
	Name string
	// Gateways is the source nodeset of the group's routes.
	Gateways *nodeset.NodeSet
	// Nodes are the nodes the gateways serve directly.
	Nodes *nodeset.NodeSet
}

func (g Group) clone() Group {
	return Group{Name: g.Name, Gateways: g.Gateways.Clone(), Nodes: g.Nodes.Clone()}
}

// A Router tells which gateway group serves each node, seen from one root
// (the coordinator). Build one with Topology.Router.
//
// A nil *Router is a fleet without topology: it has no groups and Split
// keeps every node local. A Router is immutable and safe for concurrent use.
type Router struct {
	root   *nodeset.NodeSet
	groups []Group // gateway groups, in file order
	byName map[string]int
	routed *nodeset.NodeSet // union of the groups' Nodes
}

// Router returns the routing of t seen from root, the node the coordinator
// runs on (its short host name, or a name given on its command line). The
// root must be in the source of a route, else the error is ClusterShell's
// `"<root>" is not a valid root node!` (ErrInvalidRoot), unless t has no
// routes at all.
//
// An empty root stands for every source that is the destination of no
// route (the top of each tree), so that a configuration does not depend on
// the host it runs on.
//
// The routes are validated again (Routes may have been built or changed by
// hand). A nil *Topology gives a nil *Router.
func (t *Topology) Router(root string) (*Router, error) {
	if t == nil {
		return nil, nil
	}
	routes, err := check(t.Routes, t.File)
	if err != nil {
		return nil, err
	}
	// One group per distinct source, in order of first appearance. Equal
	// sources written differently ("gw[1-2]" and "gw1,gw2") share a group.
	var all []Group
	allSrc, allDst := nodeset.New(), nodeset.New()
	for _, rt := range routes {
		allSrc.Update(rt.Src)
		allDst.Update(rt.Dst)
		found := false
		for i := range all {
			if all[i].Gateways.Equal(rt.Src) {
				all[i].Nodes.Update(rt.Dst)
				found = true
				break
			}
		}
		if !found {
			all = append(all, Group{Name: rt.Src.String(), Gateways: rt.Src.Clone(), Nodes: rt.Dst.Clone()})
		}
	}

	var rootSet *nodeset.NodeSet
	switch {
	case root == "":
		rootSet = allSrc.Difference(allDst)
	case len(routes) > 0 && !allSrc.Contains(root):
		return nil, &Error{File: t.File, Kind: ErrInvalidRoot,
			Msg: fmt.Sprintf("%q is not a valid root node! (it is in the source of no route)", root)}
	default:
		rootSet, err = (&nodeset.Parser{}).ParseNode(root)
		if err != nil {
			rootSet = nodeset.New() // no routes: any name is a valid root
		}
	}

	r := &Router{root: rootSet, byName: make(map[string]int), routed: nodeset.New()}
	for _, g := range all {
		if intersects(g.Gateways, rootSet) {
			continue // served by the root: local
		}
		g.Nodes.DifferenceUpdate(rootSet) // the root itself is always local
		if g.Nodes.Len() == 0 {
			continue
		}
		r.byName[g.Name] = len(r.groups)
		r.groups = append(r.groups, g)
		r.routed.Update(g.Nodes)
	}
	// pkg/nodeset folds multi-dimensional sets lazily, on their first read:
	// fold them now, so that concurrent reads do not write.
	for _, g := range r.groups {
		g.Gateways.Len()
		g.Nodes.Len()
	}
	r.routed.Len()
	r.root.Len()
	return r, nil
}

// Root returns the root nodes: the root given to Topology.Router, or the
// top sources when it was empty. Nil for a nil Router.
func (r *Router) Root() *nodeset.NodeSet {
	if r == nil {
		return nil
	}
	return r.root.Clone()
}

// Groups returns the gateway groups, in the order their sources first
// appear in the file. Groups whose gateways include the root are not
// gateway groups: their nodes are local. The sets are copies.
func (r *Router) Groups() []Group {
	if r == nil || len(r.groups) == 0 {
		return nil
	}
	gs := make([]Group, len(r.groups))
	for i, g := range r.groups {
		gs[i] = g.clone()
	}
	return gs
}

// Group returns the gateway group of that name (a copy).
func (r *Router) Group(name string) (Group, bool) {
	if r == nil {
		return Group{}, false
	}
	i, ok := r.byName[name]
	if !ok {
		return Group{}, false
	}
	return r.groups[i].clone(), true
}

// GroupsOfGateway returns the names of the gateway groups whose gateways
// include this node, in file order: the groups whose shards an agent
// running on that gateway takes. A gateway may belong to several groups
// ("gw[1-2]: a[1-10]" and "gw[2-3]: b[1-10]").
func (r *Router) GroupsOfGateway(gateway string) []string {
	if r == nil {
		return nil
	}
	var names []string
	for _, g := range r.groups {
		if g.Gateways.Contains(gateway) {
			names = append(names, g.Name)
		}
	}
	return names
}

// Split partitions nodes: the nodes each gateway group serves, keyed by
// group name (groups without any of the nodes are absent), and the local
// remainder, which the coordinator's own agent runs. Neither result is nil
// and both are new sets, with the autostep of nodes. A nil nodes is empty.
func (r *Router) Split(nodes *nodeset.NodeSet) (groups map[string]*nodeset.NodeSet, local *nodeset.NodeSet) {
	groups = make(map[string]*nodeset.NodeSet)
	if nodes == nil {
		return groups, nodeset.New()
	}
	if r == nil || len(r.groups) == 0 {
		return groups, nodes.Clone()
	}
	// Set operations cost one map lookup per pattern of their argument
	// ("node%s" is one pattern; names without digits are one each): narrow
	// nodes to the routed ones once, then intersect that with each group.
	routed := r.routed.Intersection(nodes)
	local = nodes.Difference(routed)
	if routed.Len() == 0 {
		return groups, local
	}
	for _, g := range r.groups {
		part := g.Nodes.Intersection(routed)
		if part.Len() > 0 {
			part.SetAutostep(nodes.Autostep())
			groups[g.Name] = part
		}
	}
	return groups, local
}
