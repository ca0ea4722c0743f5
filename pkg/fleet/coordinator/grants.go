package coordinator

import (
	"fmt"
	"slices"

	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
)

// LocalAgentID is the id of the local agent a coordinator process runs
// beside itself when it grants agents from a site's identities: no
// identity of the site may take it.
const LocalAgentID = "coordinator-local"

// Grants returns the Admins and Agents settings that a site's identities
// make: the user ids of its admins, and each agent's grant (its gateway
// name and groups); with local, the coordinator's own local agent
// (LocalAgentID) is granted the nodes under no gateway.
func Grants(ids []auth.Identity, local bool) (admins []string, agents map[string]AgentGrant, err error) {
	agents = map[string]AgentGrant{}
	for _, id := range ids {
		switch id.Role {
		case auth.Admin:
			admins = append(admins, id.ID)
		case auth.Agent:
			if id.ID == LocalAgentID {
				return nil, nil, fmt.Errorf("agent identity %q: the id of the coordinator's own local agent", id.ID)
			}
			agents[id.ID] = AgentGrant{Name: id.Name, Groups: slices.Clone(id.Groups), Local: id.Local}
		}
	}
	if local {
		agents[LocalAgentID] = AgentGrant{Local: true}
	}
	return admins, agents, nil
}
