package site

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/nats-io/nkeys"
)

// Bounds of an identities file: ten thousand identities of a few hundred
// bytes each fit in MaxIdentitiesFile.
const (
	MaxIdentitiesFile = 4 << 20
	MaxIdentities     = 10000
	maxGroups         = 64
	maxNameLen        = 255
)

// LoadIdentities reads and checks the identities file at path (bounded
// by MaxIdentitiesFile). See ParseIdentities.
func LoadIdentities(path string) ([]auth.Identity, error) {
	data, err := readBounded(path, MaxIdentitiesFile, false)
	if err != nil {
		return nil, fmt.Errorf("identities: %w", err)
	}
	ids, err := ParseIdentities(data)
	if err != nil {
		return nil, fmt.Errorf("identities %s: %w", path, err)
	}
	return ids, nil
}

// ParseIdentities decodes an identities file: a JSON array of
// auth.Identity with public keys only. Each identity must Validate, carry
// a public nkey user key ("U..."), and be the only one with its nkey (the
// NATS server knows a user by its key) and with its id in its namespace
// (users and admins share one, agents have theirs); at most one is the
// coordinator. Unknown fields are refused, so a typo is not ignored.
func ParseIdentities(data []byte) ([]auth.Identity, error) {
	if len(data) > MaxIdentitiesFile {
		return nil, fmt.Errorf("over %d bytes", MaxIdentitiesFile)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var ids []auth.Identity
	if err := dec.Decode(&ids); err != nil {
		return nil, fmt.Errorf("want a JSON array of identities: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("data after the JSON array")
	}
	if err := checkIdentities(ids); err != nil {
		return nil, err
	}
	return ids, nil
}

// checkIdentities checks a site's identities together (see ParseIdentities).
func checkIdentities(ids []auth.Identity) error {
	if len(ids) > MaxIdentities {
		return fmt.Errorf("%d identities: over %d", len(ids), MaxIdentities)
	}
	keys := map[string]string{}
	names := map[string]auth.Role{}
	coordinators := 0
	for i, id := range ids {
		if err := id.Validate(); err != nil {
			return fmt.Errorf("identity %d: %w", i+1, err)
		}
		if !nkeys.IsValidPublicUserKey(id.Nkey) {
			return fmt.Errorf("identity %q: nkey %.60q is not a public nkey user key", id.ID, id.Nkey)
		}
		if other, ok := keys[id.Nkey]; ok {
			return fmt.Errorf("identities %q and %q have the same nkey", other, id.ID)
		}
		keys[id.Nkey] = id.ID
		ns := namespace(id.Role) + id.ID
		if r, ok := names[ns]; ok {
			return fmt.Errorf("identity %q (%s): id already used by a %s", id.ID, id.Role, r)
		}
		names[ns] = id.Role
		if id.Role == auth.Coordinator {
			coordinators++
			if coordinators > 1 {
				return fmt.Errorf("identity %q: a second coordinator", id.ID)
			}
		}
		if id.Role != auth.Agent && (id.Name != "" || len(id.Groups) > 0 || id.Local) {
			return fmt.Errorf("identity %q (%s): only an agent has a gateway name, groups or local", id.ID, id.Role)
		}
		if id.Name != "" {
			if err := checkName("gateway name", id.Name); err != nil {
				return fmt.Errorf("agent %q: %w", id.ID, err)
			}
		}
		if len(id.Groups) > maxGroups {
			return fmt.Errorf("agent %q: %d groups: over %d", id.ID, len(id.Groups), maxGroups)
		}
		for _, g := range id.Groups {
			if err := checkName("group", g); err != nil {
				return fmt.Errorf("agent %q: %w", id.ID, err)
			}
		}
	}
	return nil
}

// namespace is the id space of role: users and admins are both users
// (the user token of the subjects), agents are agents.
func namespace(r auth.Role) string {
	switch r {
	case auth.Submitter, auth.Admin:
		return "user:"
	}
	return string(r) + ":"
}

// checkName checks a gateway name or a gateway group name as
// topology.conf names them (a node, or a folded nodeset such as
// "gw[1-2,5]"): printable, no white space, and none of the characters
// the --agent syntax gives meaning to besides a comma.
func checkName(what, s string) error {
	if s == "" {
		return fmt.Errorf("empty %s", what)
	}
	if len(s) > maxNameLen {
		return fmt.Errorf("%s %.16q...: longer than %d characters", what, s, maxNameLen)
	}
	for _, c := range s {
		if c <= ' ' || c == 0x7f || strings.ContainsRune("+:=\"'\\", c) {
			return fmt.Errorf("%s %q: character %q not allowed", what, s, c)
		}
	}
	return nil
}

// marshalIdentities is the identities file of ids.
func marshalIdentities(ids []auth.Identity) ([]byte, error) {
	b, err := json.MarshalIndent(ids, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
