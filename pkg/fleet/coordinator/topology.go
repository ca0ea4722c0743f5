package coordinator

import (
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/topology"
)

// FromTopology adapts a topology router (nil: no topology, returns nil).
func FromTopology(r *topology.Router) Router {
	if r == nil {
		return nil
	}
	return topoRouter{r}
}

type topoRouter struct{ r *topology.Router }

func (t topoRouter) Split(nodes *nodeset.NodeSet) (map[string]*nodeset.NodeSet, *nodeset.NodeSet) {
	return t.r.Split(nodes)
}

func (t topoRouter) GroupsOfGateway(name string) []string { return t.r.GroupsOfGateway(name) }

func (t topoRouter) HasGroup(group string) bool {
	_, ok := t.r.Group(group)
	return ok
}
