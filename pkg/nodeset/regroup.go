package nodeset

import (
	"errors"
	"slices"
	"strings"
)

// GroupMatch tells how a NodeSet meets one group: the group's nodes and
// those of the set that are in it.
type GroupMatch struct {
	Group *NodeSet // every node of the group
	Nodes *NodeSet // the nodes of the set that belong to the group
}

// groupInfo counts the nodes of a set found in one group.
type groupInfo struct {
	count int
	nodes *NodeSet
}

// groupsOf is ClusterShell's NodeSet._groups2: for every group holding at
// least one node of ns, how many of its nodes are in ns. It asks the
// source for each node's groups when it can (reverse upcall), else it maps
// every listed group.
func (p *Parser) groupsOf(ns *NodeSet, source string) (map[string]*groupInfo, []string, error) {
	if p.Resolver == nil {
		return nil, nil, &ExternalError{Msg: "No node group resolver"}
	}
	allList, err := p.groupList(source)
	if err != nil {
		var nu *NoUpcallError
		var qf *QueryFailedError
		if !errors.As(err, &nu) && !errors.As(err, &qf) {
			return nil, nil, err
		}
		allList = nil
	}
	info := make(map[string]*groupInfo)
	var order []string
	type mapped struct {
		name  string
		nodes *NodeSet
	}
	var all []mapped
	useReverse := p.Resolver.HasNodeGroups(source) && (len(allList) == 0 || len(allList) >= ns.Len())
	if !useReverse {
		if len(allList) == 0 {
			return info, nil, nil
		}
		plain := &Parser{Resolver: p.Resolver}
		for _, g := range allList {
			list, err := p.Resolver.GroupNodes(source, g)
			if err != nil {
				var qf *QueryFailedError
				if errors.As(err, &qf) {
					return nil, nil, &ExternalError{Msg: "Unable to map a group previously listed\n\tFailed command: " + qf.Error(), Err: err}
				}
				return nil, nil, err
			}
			gns, err := plain.Parse(strings.Join(list, ","))
			if err != nil {
				return nil, nil, err
			}
			all = append(all, mapped{g, gns})
		}
	}
	for name := range ns.All() {
		node, err := parseSingle(name, 0)
		if err != nil {
			return nil, nil, err
		}
		var groups []string
		if useReverse {
			groups, err = p.Resolver.NodeGroups(source, name)
			if err != nil {
				var qf *QueryFailedError
				if errors.As(err, &qf) {
					return nil, nil, &ExternalError{Msg: "Group source query failed: " + qf.Error(), Err: err}
				}
				return nil, nil, err
			}
		} else {
			for _, m := range all {
				if m.nodes.IsSuperset(node) {
					groups = append(groups, m.name)
				}
			}
		}
		for _, g := range groups {
			if gi, ok := info[g]; ok {
				gi.count++
				continue
			}
			list, err := p.Resolver.GroupNodes(source, g)
			if err != nil {
				return nil, nil, err
			}
			gns, err := (&Parser{Resolver: p.Resolver}).Parse(strings.Join(list, ","))
			if err != nil {
				return nil, nil, err
			}
			info[g] = &groupInfo{1, gns}
			order = append(order, g)
		}
	}
	return info, order, nil
}

func groupKey(source, g string, noprefix bool) string {
	if source != "" && !noprefix {
		return "@" + source + ":" + g
	}
	return "@" + g
}

// Groups returns the groups of source ("" for the default) that hold nodes
// of ns, keyed by their reference ("@rack1", or "@source:rack1" unless
// noprefix), as ClusterShell's NodeSet.groups does.
func (p *Parser) Groups(ns *NodeSet, source string, noprefix bool) (map[string]GroupMatch, error) {
	info, _, err := p.groupsOf(ns, source)
	if err != nil {
		return nil, err
	}
	out := make(map[string]GroupMatch, len(info))
	for g, gi := range info {
		out[groupKey(source, g, noprefix)] = GroupMatch{Group: gi.nodes.Clone(), Nodes: ns.Intersection(gi.nodes)}
	}
	return out, nil
}

// Regroup folds ns using the groups of source: whole groups are written as
// "@group", the rest as nodes (ClusterShell's NodeSet.regroup).
func (p *Parser) Regroup(ns *NodeSet, source string, noprefix bool) (string, error) {
	info, _, err := p.groupsOf(ns, source)
	if err != nil {
		return "", err
	}
	if len(info) == 0 {
		return ns.String(), nil
	}
	type full struct {
		n    int
		name string
	}
	var fulls []full
	for g, gi := range info {
		if gi.count == gi.nodes.Len() {
			fulls = append(fulls, full{gi.count, g})
		}
	}
	slices.SortFunc(fulls, func(a, b full) int {
		if a.n != b.n {
			return b.n - a.n
		}
		return strings.Compare(a.name, b.name)
	})
	rest := ns.Clone()
	regrouped := &NodeSet{}
	for _, f := range fulls {
		nodes := info[f.name].nodes
		if !rest.IsSuperset(nodes) {
			continue
		}
		ref, err := Parse(groupKey(source, f.name, noprefix))
		if err != nil {
			return "", err
		}
		regrouped.Update(ref)
		rest.DifferenceUpdate(nodes)
		if rest.Len() == 0 {
			return regrouped.String(), nil
		}
	}
	if regrouped.Len() > 0 {
		return regrouped.String() + "," + rest.String(), nil
	}
	return rest.String(), nil
}
