package site

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// open reads what changing the existing site in dir needs.
func open(dir string) (*writer, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	w := &writer{dir: dir}
	data, err := readBounded(w.path(MetaFile), maxConfigFile, false)
	if err != nil {
		return nil, &InputError{fmt.Errorf("site %s: %w (is it a site? coordinator init-site writes one)", dir, err)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w.meta); err != nil {
		return nil, fmt.Errorf("site %s: %s: %w", dir, MetaFile, err)
	}
	if w.ids, err = LoadIdentities(w.path(IdentitiesFile)); err != nil {
		return nil, err
	}
	if _, err := readCerts(w.path(CACertFile)); err != nil {
		return nil, fmt.Errorf("site %s: %w", dir, err)
	}
	if w.ca, err = readBounded(w.path(CACertFile), maxPEMFile, false); err != nil {
		return nil, err
	}
	return w, nil
}

// openAt opens the site in dir and finds the identity with id in role's
// namespace, which must be there.
func openAt(dir string, role auth.Role, id string) (*writer, int, error) {
	w, err := open(dir)
	if err != nil {
		return nil, 0, err
	}
	i := w.find(role, id)
	if i < 0 {
		return nil, 0, inputErr("%s %q: not in the site %s", kindOf(role), id, w.dir)
	}
	return w, i, nil
}

// find returns the index of the identity with id in role's namespace, or -1.
func (w *writer) find(role auth.Role, id string) int {
	return slices.IndexFunc(w.ids, func(i auth.Identity) bool {
		return namespace(i.Role) == namespace(role) && i.ID == id
	})
}

func (w *writer) coordinatorKey() (string, error) {
	i := slices.IndexFunc(w.ids, func(i auth.Identity) bool { return i.Role == auth.Coordinator })
	if i < 0 {
		return "", fmt.Errorf("site %s: %s names no coordinator", w.dir, IdentitiesFile)
	}
	return w.ids[i].Nkey, nil
}

// AddUsers adds admins and submitter users to the site in dir: a key and
// a csub config each, and their identities. An id the site already has
// is refused. The coordinator knows them once it reads the identities
// file again (at its next start).
func AddUsers(dir string, admins, users []string) error {
	w, err := open(dir)
	if err != nil {
		return err
	}
	for _, l := range []struct {
		role auth.Role
		ids  []string
	}{{auth.Admin, admins}, {auth.Submitter, users}} {
		for _, id := range l.ids {
			if err := protocol.ValidID(id); err != nil {
				return inputErr("%s: %w", l.role, err)
			}
			if i := w.find(l.role, id); i >= 0 {
				return inputErr("user %q: already in the site (a %s); rotate its key with `coordinator site rotate DIR user %s`", id, w.ids[i].Role, id)
			}
			// Reserve the id before writing, so a repeat in the list is refused.
			w.ids = append(w.ids, auth.Identity{Role: l.role, ID: id})
		}
	}
	return w.writeNew()
}

// AddAgents adds agents to the site in dir: a key and an agent config
// each, and their identities. An agent id the site already has is refused.
func AddAgents(dir string, agents []AgentSpec) error {
	w, err := open(dir)
	if err != nil {
		return err
	}
	for _, a := range agents {
		if err := a.check(); err != nil {
			return err
		}
		if w.find(auth.Agent, a.ID) >= 0 {
			return inputErr("agent %q: already in the site; rotate its key with `coordinator site rotate DIR agent %s`", a.ID, a.ID)
		}
		if err := w.meta.Leaves.join(a); err != nil { // before its config, which names its leaf
			return err
		}
		w.ids = append(w.ids, a.identity(""))
	}
	return w.writeNew()
}

// writeNew issues a key for every identity without one, then writes the
// identities file.
func (w *writer) writeNew() error {
	coord, err := w.coordinatorKey()
	if err != nil {
		return err
	}
	for i, id := range w.ids {
		if id.Nkey != "" {
			continue
		}
		if w.ids[i], err = w.rekey(id, coord); err != nil {
			return err
		}
	}
	return w.writeIdentities()
}

// rekey issues a new key for id, a user or an agent, and writes its files.
func (w *writer) rekey(id auth.Identity, coordinatorKey string) (auth.Identity, error) {
	if id.Role == auth.Agent {
		return w.addAgent(AgentSpec{ID: id.ID, Name: id.Name, Groups: id.Groups, Local: id.Local}, coordinatorKey)
	}
	return w.addUser(id.Role, id.ID)
}

// RotateUser issues a new key for the user (admin or submitter) id,
// replacing users/<id>/user.seed, and its public key in the identities
// file; the old key is refused once the coordinator reads the file again.
func RotateUser(dir, id string) error { return rotate(dir, auth.Submitter, id) }

// RotateAgent is RotateUser for agent id (agents/<id>/agent.seed).
func RotateAgent(dir, id string) error { return rotate(dir, auth.Agent, id) }

func rotate(dir string, role auth.Role, id string) error {
	w, i, err := openAt(dir, role, id)
	if err != nil {
		return err
	}
	coord, err := w.coordinatorKey()
	if err != nil {
		return err
	}
	if w.ids[i], err = w.rekey(w.ids[i], coord); err != nil {
		return err
	}
	return w.writeIdentities()
}

// RotateCoordinator issues a new coordinator key (its NATS identity and
// shard signing key) and rewrites every agent's config with its public
// key (coordinator-key): each agent.yaml must then be redistributed.
func RotateCoordinator(dir string) error {
	w, err := open(dir)
	if err != nil {
		return err
	}
	c := slices.IndexFunc(w.ids, func(i auth.Identity) bool { return i.Role == auth.Coordinator })
	if c < 0 {
		return fmt.Errorf("site %s: %s names no coordinator", w.dir, IdentitiesFile)
	}
	if w.ids[c], err = w.newCoordinatorKey(w.ids[c].ID); err != nil {
		return err
	}
	for _, id := range w.ids {
		if id.Role != auth.Agent {
			continue
		}
		if _, err := w.holderDir(AgentsDir, id.ID); err != nil {
			return err
		}
		if err := w.writeAgentConfig(id, w.ids[c].Nkey); err != nil {
			return err
		}
	}
	return w.writeIdentities()
}

// RotateServerCert issues a new server certificate and key, signed by the
// site CA (ca.key must be in the site directory), for the names of the
// current one plus hosts and ips.
func RotateServerCert(dir string, hosts, ips []string) error {
	return rotateServerCert(dir, hosts, ips, time.Now())
}

func rotateServerCert(dir string, hosts, ips []string, now time.Time) error {
	w, err := open(dir)
	if err != nil {
		return err
	}
	for _, ip := range ips {
		if net.ParseIP(ip) == nil {
			return inputErr("--ip %q: not an IP address", ip)
		}
	}
	for _, h := range hosts {
		if err := checkHost(h); err != nil || net.ParseIP(h) != nil {
			return inputErr("--host %q: not a DNS name", h)
		}
	}
	ca, err := w.readCA()
	if err != nil {
		return err
	}
	var sans []string
	if old, err := readCerts(w.path(ServerCertFile)); err == nil {
		sans = append(sans, old[0].DNSNames...)
		for _, ip := range old[0].IPAddresses {
			sans = append(sans, ip.String())
		}
	}
	sans = sanList(append(sans, hosts...), ips)
	h, i := parseSANs(sans)
	srv, err := newServerCert(ca.cert, ca.signer, h, i, now)
	if err != nil {
		return err
	}
	// The key first: a crash between the two leaves a certificate that
	// does not match its key, which Load and ServerTLS refuse loudly.
	if err := writeFile(w.path(ServerKeyFile), srv.key); err != nil {
		return err
	}
	return writeFile(w.path(ServerCertFile), srv.crt)
}

// RotateLeaf issues a new credential and certificate (signed by the site
// CA: ca.key must be in the site directory) for the leaf server name,
// and rewrites the hub's conf with its new public key: the leaf's
// directory must then be redistributed, and both servers reloaded.
func RotateLeaf(dir, name string) error { return rotateLeaf(dir, name, time.Now()) }

func rotateLeaf(dir, name string, now time.Time) error {
	w, err := open(dir)
	if err != nil {
		return err
	}
	i := w.meta.Leaves.find(name)
	if i < 0 {
		return inputErr("leaf %q: not in the site %s", name, w.dir)
	}
	ca, err := w.readCA()
	if err != nil {
		return err
	}
	if err := w.newLeaf(&w.meta.Leaves.Sites[i], ca, now); err != nil {
		return err
	}
	return w.writeIdentities()
}

// readCA reads the site CA's certificate and key, to issue a certificate.
func (w *writer) readCA() (*issued, error) {
	cas, err := readCerts(w.path(CACertFile))
	if err != nil {
		return nil, err
	}
	if !exists(w.path(CAKeyFile)) {
		return nil, fmt.Errorf("site %s: %w (%s): put it back to issue a certificate", w.dir, errNoCAKey, CAKeyFile)
	}
	caKey, err := readKey(w.path(CAKeyFile))
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	return &issued{cert: cas[0], signer: caKey}, nil
}

// RemoveUser takes the user (admin or submitter) id out of the site: its
// identity out of the identities file, then its users/<id> directory.
// Its key is refused once the coordinator reads the file again.
func RemoveUser(dir, id string) error { return remove(dir, auth.Submitter, id) }

// RemoveAgent is RemoveUser for agent id (agents/<id>).
func RemoveAgent(dir, id string) error { return remove(dir, auth.Agent, id) }

func remove(dir string, role auth.Role, id string) error {
	w, i, err := openAt(dir, role, id)
	if err != nil {
		return err
	}
	if role == auth.Agent {
		w.meta.Leaves.leave(id)
	}
	w.ids = slices.Delete(w.ids, i, i+1)
	if err := w.writeIdentities(); err != nil {
		return err
	}
	sub := UsersDir
	if role == auth.Agent {
		sub = AgentsDir
	}
	return os.RemoveAll(w.path(sub, id))
}

// kindOf names role's namespace in messages: user or agent.
func kindOf(role auth.Role) string {
	if role == auth.Agent {
		return "agent"
	}
	return "user"
}
