// Package auth says who may do what on a fleet's NATS system: the
// identities a site's credentials name, the role each plays, and the
// subject permissions the NATS server enforces for each role. The
// coordinator reads a sender's identity from the subject a message
// arrived on (see protocol.Subjects); these permissions are what make
// that token impossible to forge.
package auth

import (
	"fmt"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Role is what an identity may do on the fleet.
type Role string

// The roles.
const (
	// Submitter submits jobs, and reads and controls its own jobs only.
	Submitter Role = "submitter"
	// Admin is a submitter that reads and controls every job and may
	// take fleet admin actions.
	Admin Role = "admin"
	// Agent takes the shards addressed to its own id and publishes
	// events, summaries and heartbeats for itself only.
	Agent Role = "agent"
	// Coordinator runs the fleet: every subject.
	Coordinator Role = "coordinator"
)

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool {
	switch r {
	case Submitter, Admin, Agent, Coordinator:
		return true
	}
	return false
}

// Identity is one credential of a site: who holds it and what it may do.
type Identity struct {
	// Role is what the identity may do.
	Role Role `json:"role"`
	// ID is the user id (submitter, admin), the agent id (agent), or the
	// coordinator's name: a protocol.ValidID subject token.
	ID string `json:"id"`
	// Nkey is the public nkey (a "U..." user key) the NATS server checks
	// the connection's signature against.
	Nkey string `json:"nkey"`
	// Name is an agent's gateway name as topology.conf knows it.
	Name string `json:"name,omitempty"`
	// Groups restricts the gateway groups an agent may serve (empty:
	// every group its Name is a gateway of).
	Groups []string `json:"groups,omitempty"`
	// Local lets an agent serve the nodes under no gateway.
	Local bool `json:"local,omitempty"`
}

// Validate checks an identity as read from a site's files.
func (id Identity) Validate() error {
	if !id.Role.Valid() {
		return fmt.Errorf("identity %q: unknown role %q", id.ID, id.Role)
	}
	if err := protocol.ValidID(id.ID); err != nil {
		return fmt.Errorf("identity of role %s: %w", id.Role, err)
	}
	if id.Nkey == "" {
		return fmt.Errorf("identity %q: no public nkey", id.ID)
	}
	return nil
}
