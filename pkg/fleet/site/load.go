package site

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/fleet/coordinator"
)

// Site is a site directory as Load found it, checked.
type Site struct {
	// Dir is the site directory, absolute.
	Dir string
	// URL and Prefix are what the site's configs are written with.
	URL, Prefix string
	// Identities are every identity of the site; Coordinator is the
	// coordinator's among them.
	Identities  []auth.Identity
	Coordinator auth.Identity
	// CA is the site CA; CAPool holds it for verifying the server.
	CA     *x509.Certificate
	CAPool *x509.CertPool
	// Server is the coordinator's TLS listener certificate, with its key.
	Server tls.Certificate
	// Warnings say what will need attention soon (a certificate close
	// to its end).
	Warnings []string
}

// Load reads and checks the site in dir: its identities file; the CA and
// the server certificate, which must chain to the CA, match its key and
// be valid now (a warning when it expires within ExpiryWarning); the
// coordinator's seed, which must be private and match its identity; and
// every user's and agent's seed still in the directory (one may be
// deleted once distributed), which must be private and match too. Every
// read is bounded.
func Load(dir string) (*Site, error) { return load(dir, time.Now()) }

func load(dir string, now time.Time) (*Site, error) {
	w, err := open(dir)
	if err != nil {
		return nil, err
	}
	s := &Site{Dir: w.dir, URL: w.meta.URL, Prefix: w.meta.Prefix, Identities: w.ids}
	cas, err := readCerts(w.path(CACertFile))
	if err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	s.CA = cas[0]
	s.CAPool = x509.NewCertPool()
	s.CAPool.AddCert(s.CA)
	if now.After(s.CA.NotAfter) {
		return nil, fmt.Errorf("CA %s expired on %s: a new CA needs a new site (init-site --force)", w.path(CACertFile), s.CA.NotAfter.UTC().Format(time.DateOnly))
	}
	if s.CA.NotAfter.Sub(now) < ExpiryWarning {
		s.Warnings = append(s.Warnings, fmt.Sprintf("CA %s expires on %s", w.path(CACertFile), s.CA.NotAfter.UTC().Format(time.DateOnly)))
	}
	if exists(w.path(CAKeyFile)) {
		if _, err := readKey(w.path(CAKeyFile)); err != nil {
			return nil, fmt.Errorf("CA key: %w", err)
		}
	}
	var warn string
	s.Server, warn, err = loadServerCert(w.path(ServerCertFile), w.path(ServerKeyFile), w.path(CACertFile), now)
	if err != nil {
		return nil, err
	}
	if warn != "" {
		s.Warnings = append(s.Warnings, warn)
	}
	for _, id := range w.ids {
		if id.Role == auth.Coordinator {
			s.Coordinator = id
		}
		seed := SeedPath(w.dir, id)
		if id.Role != auth.Coordinator && !exists(seed) {
			continue
		}
		if err := checkSeed(seed, id); err != nil {
			return nil, err
		}
	}
	if s.Coordinator.ID == "" {
		return nil, fmt.Errorf("site %s: %s names no coordinator", w.dir, IdentitiesFile)
	}
	return s, nil
}

// checkSeed checks that the seed file at path is private and is id's key.
func checkSeed(path string, id auth.Identity) error {
	kp, err := ReadSeed(path)
	if err != nil {
		return fmt.Errorf("%s %q: %w", id.Role, id.ID, err)
	}
	defer kp.Wipe()
	pub, err := kp.PublicKey()
	if err != nil {
		return fmt.Errorf("%s %q: %w", id.Role, id.ID, err)
	}
	if pub != id.Nkey {
		return fmt.Errorf("%s %q: seed %s is not the key of %s (public key %s, identities say %s)",
			id.Role, id.ID, path, IdentitiesFile, pub, id.Nkey)
	}
	return nil
}

// SeedPath is where the site in dir keeps id's seed file.
func SeedPath(dir string, id auth.Identity) string {
	switch id.Role {
	case auth.Coordinator:
		return filepath.Join(dir, CoordinatorSeedFile)
	case auth.Agent:
		return filepath.Join(dir, AgentsDir, id.ID, AgentSeedFile)
	}
	return filepath.Join(dir, UsersDir, id.ID, UserSeedFile)
}

// Grants is what the coordinator's config takes from a site's identities:
// the admin user ids (the admins of policy.Default) and each agent's grant
// (coordinator.Config.Agents; never nil, so that a site without agents
// lets no agent register rather than any).
func Grants(ids []auth.Identity) (admins []string, agents map[string]coordinator.AgentGrant) {
	agents = map[string]coordinator.AgentGrant{}
	for _, id := range ids {
		switch id.Role {
		case auth.Admin:
			admins = append(admins, id.ID)
		case auth.Agent:
			agents[id.ID] = coordinator.AgentGrant{Name: id.Name, Groups: slices.Clone(id.Groups), Local: id.Local}
		}
	}
	return admins, agents
}
