package auth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/nats-io/nkeys"
	"go.yaml.in/yaml/v3"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// maxIdentitiesFile bounds an identities file: a few hundred bytes per
// identity, for tens of thousands of agents.
const maxIdentitiesFile = 16 << 20

// readBounded reads at most limit bytes of the file at path.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: over %d bytes", path, limit)
	}
	return data, nil
}

// LoadIdentities reads a site's identities file (a JSON array of
// Identity, as pkg/fleet/site writes it) and checks each identity, and
// that no two share a public key or a role and id.
func LoadIdentities(path string) ([]Identity, error) {
	data, err := readBounded(path, maxIdentitiesFile)
	if err != nil {
		return nil, fmt.Errorf("identities: %w", err)
	}
	return ParseIdentities(path, data)
}

// ParseIdentities is LoadIdentities on the file's contents; path names
// it in errors.
func ParseIdentities(path string, data []byte) ([]Identity, error) {
	var ids []Identity
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ids); err != nil {
		return nil, fmt.Errorf("identities %s: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("identities %s: data after the array", path)
	}
	keys := map[string]string{}
	names := map[string]bool{}
	for i, id := range ids {
		if err := id.Validate(); err != nil {
			return nil, fmt.Errorf("identities %s: #%d: %w", path, i+1, err)
		}
		if !nkeys.IsValidPublicUserKey(id.Nkey) {
			return nil, fmt.Errorf("identities %s: %q: %q is not a public user nkey (U...)", path, id.ID, id.Nkey)
		}
		if other, ok := keys[id.Nkey]; ok {
			return nil, fmt.Errorf("identities %s: %q and %q share the key %s", path, other, id.ID, id.Nkey)
		}
		keys[id.Nkey] = id.ID
		// A user and an agent may share an id (different subjects), but
		// not two credentials of one kind.
		kind := "user"
		switch id.Role {
		case Agent:
			kind = "agent"
		case Coordinator:
			kind = "coordinator"
		}
		if names[kind+"/"+id.ID] {
			return nil, fmt.Errorf("identities %s: two %s identities %q", path, kind, id.ID)
		}
		names[kind+"/"+id.ID] = true
	}
	return ids, nil
}

// ClientConfig is a user's fleet.yaml, as pkg/fleet/site writes it in
// users/<id>/fleet.yaml: where the fleet is and which credential to
// present. csub reads it with --fleet (see docs/fleet.md).
type ClientConfig struct {
	// URL is the fleet's NATS URL (tls://host:4222).
	URL string `yaml:"url"`
	// User is the user id of the credential: the subjects csub uses carry
	// it, and the server refuses any other.
	User string `yaml:"user"`
	// Creds is the nkey seed file, relative to the config's directory
	// unless absolute.
	Creds string `yaml:"creds"`
	// CA is the site CA file, likewise.
	CA string `yaml:"ca"`
}

// LoadClientConfig reads the fleet.yaml at path; relative file names in
// it are taken from the file's directory.
func LoadClientConfig(path string) (ClientConfig, error) {
	data, err := readBounded(path, 1<<20)
	if err != nil {
		return ClientConfig{}, fmt.Errorf("fleet config: %w", err)
	}
	return ParseClientConfig(path, data)
}

// ParseClientConfig is LoadClientConfig on the file's contents.
func ParseClientConfig(path string, data []byte) (ClientConfig, error) {
	var c ClientConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && err != io.EOF {
		return ClientConfig{}, fmt.Errorf("fleet config %s: %w", path, err)
	}
	if c.User != "" {
		if err := protocol.ValidID(c.User); err != nil {
			return ClientConfig{}, fmt.Errorf("fleet config %s: user: %w", path, err)
		}
	}
	dir := filepath.Dir(path)
	for _, f := range []*string{&c.Creds, &c.CA} {
		if *f != "" && !filepath.IsAbs(*f) {
			*f = filepath.Join(dir, *f)
		}
	}
	return c, nil
}
