package coordinator

import (
	"reflect"
	"testing"

	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
)

func TestGrants(t *testing.T) {
	ids := []auth.Identity{
		{Role: auth.Admin, ID: "root"},
		{Role: auth.Submitter, ID: "alice"},
		{Role: auth.Agent, ID: "gw1", Name: "gw1", Groups: []string{"compute"}},
		{Role: auth.Agent, ID: "gw9", Name: "gw9", Local: true},
		{Role: auth.Coordinator, ID: "coord"},
	}
	admins, agents, err := Grants(ids, true)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(admins, []string{"root"}) {
		t.Errorf("admins %v", admins)
	}
	want := map[string]AgentGrant{"gw1": {Name: "gw1", Groups: []string{"compute"}}, "gw9": {Name: "gw9", Local: true},
		LocalAgentID: {Local: true}}
	if !reflect.DeepEqual(agents, want) {
		t.Errorf("agents %v, want %v", agents, want)
	}
	if _, _, err := Grants(append(ids, auth.Identity{Role: auth.Agent, ID: LocalAgentID}), true); err == nil {
		t.Error("an identity took the local agent's id")
	}
}
