// Package site writes and reads a fleet site's credentials: the CA and
// the coordinator's TLS server certificate, one nkey seed per identity
// (the coordinator, each admin and submitter user, each agent), the
// identities file the coordinator enforces, and ready-to-use configs for
// the coordinator, each agent and each csub user. `coordinator init-site`
// and `coordinator site add-user|add-agent|rotate|remove` are its command line;
// docs/SECURITY.md ("Site credentials") describes the files and the
// rotation procedure.
//
// A site directory (every file 0600, every directory 0700):
//
//	ca.crt, ca.key             the site CA (ECDSA P-256, CAValidity)
//	server.crt, server.key     the coordinator's NATS listener (ServerValidity)
//	coordinator.seed           the coordinator's nkey: NATS identity and shard signing key
//	identities.json            every identity with its public nkey ([]auth.Identity)
//	nats-server.conf           nats-server -c, for an external server: TLS, a user per identity
//	coordinator.yaml           coordinator --config
//	site.json                  the URL and prefix new configs are written with
//	users/<id>/                user.seed, ca.crt, fleet.yaml (csub), for admins and submitters
//	agents/<id>/               agent.seed, ca.crt, agent.yaml (agent --config)
//	leaves/<name>/             a gateway site's NATS leaf server (natsleaf.go):
//	                           nats-leaf.conf, leaf-seed.conf, leaf.crt, leaf.key, ca.crt
//
// Each users/<id>, agents/<id> and leaves/<name> directory holds
// everything its holder needs, to be copied to that user's or gateway's machine as it is.
package site

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// The files of a site, relative to its directory.
const (
	CACertFile          = "ca.crt"
	CAKeyFile           = "ca.key"
	ServerCertFile      = "server.crt"
	ServerKeyFile       = "server.key"
	CoordinatorSeedFile = "coordinator.seed"
	IdentitiesFile      = "identities.json"
	CoordinatorConfig   = "coordinator.yaml"
	MetaFile            = "site.json"
	UsersDir            = "users"
	AgentsDir           = "agents"
	UserSeedFile        = "user.seed"
	AgentSeedFile       = "agent.seed"
	ClientConfigFile    = "fleet.yaml"
	AgentConfigFile     = "agent.yaml"
)

// Defaults of InitOptions.
const (
	DefaultCoordinatorID = "coordinator"
	DefaultPort          = 4222
)

// DefaultSANs are the names the server certificate always carries, so
// that a client on the coordinator's own machine verifies it.
var DefaultSANs = []string{"localhost", "127.0.0.1", "::1"}

// InitOptions says what Init writes.
type InitOptions struct {
	// Users and Admins are the user ids of submitters and admins.
	Users, Admins []string
	// Agents are the agents, each with its own credential.
	Agents []AgentSpec
	// Hosts and IPs are added to DefaultSANs in the server certificate.
	Hosts, IPs []string
	// URL is the coordinator's NATS URL written in agent and csub configs:
	// tls://HOST:PORT, HOST a SAN of the server certificate (default: the
	// first of Hosts, else of IPs, else localhost; port 4222).
	URL string
	// Listen is the coordinator's listen address (default: the URL's port
	// on 127.0.0.1 when the URL's host is loopback, else on 0.0.0.0).
	Listen string
	// Prefix is the fleet's subject prefix (default protocol.DefaultPrefix).
	Prefix string
	// CoordinatorID is the coordinator's identity (default "coordinator").
	CoordinatorID string
	// ClusterRoutes, when not empty, make the site's nats-server.conf one
	// server of a NATS cluster with routes to these URLs
	// (nats-route://HOST:PORT; every server of the cluster, itself
	// included, so that one file serves all): see natscluster.go.
	// ClusterListen is its route listener (default: Listen's host, port
	// DefaultClusterPort), ClusterName the cluster's name
	// (DefaultClusterName).
	ClusterRoutes              []string
	ClusterListen, ClusterName string
	// Leaves, when not empty, are the gateway sites' leaf servers (see
	// natsleaf.go): an agent whose AgentSpec.Leaf names one connects to
	// it. LeafListen is the hub's leaf-node listener (default: Listen's
	// host, port DefaultLeafPort), HubURLs what the leaf servers dial
	// (tls://HOST:PORT, HOST a name of the server certificate; default:
	// each --cluster-route host, else the URL's host, on LeafListen's
	// port).
	Leaves     []LeafSpec
	LeafListen string
	HubURLs    []string
	// Force replaces an existing site: every file, and the users, agents
	// and leaves directories, are written anew.
	Force bool

	now     time.Time    // tests issue certificates in the past
	cluster *natsCluster // from ClusterRoutes, by check
	leaves  *natsLeaves  // from Leaves and the agents' Leaf, by check
}

// AgentSpec is an agent's identity as --agent gives it:
//
//	ID[:KEY=VALUE[,KEY=VALUE...]]
//
// with keys name (its gateway name in topology.conf; default ID), groups
// (the gateway groups it may serve, '+'-separated; default every group
// its name is a gateway of), local=true (it may also serve the nodes
// under no gateway) and leaf (the --leaf whose server it connects to). A comma inside brackets belongs to a group's nodeset
// ("groups=gw[1-2,5]+gw9").
type AgentSpec struct {
	ID, Name string
	Groups   []string
	Local    bool
	Leaf     string
}

// ParseAgentSpec parses the --agent syntax (see AgentSpec).
func ParseAgentSpec(s string) (AgentSpec, error) {
	id, rest, hasRest := strings.Cut(s, ":")
	a := AgentSpec{ID: id}
	if err := protocol.ValidID(id); err != nil {
		return a, inputErr("agent %q: %w", s, err)
	}
	if hasRest {
		seen := map[string]bool{}
		for _, kv := range splitTopLevel(rest) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || v == "" {
				return a, inputErr("agent %q: %q: want KEY=VALUE (keys: name, groups, local, leaf)", s, kv)
			}
			if seen[k] {
				return a, inputErr("agent %q: %s given twice", s, k)
			}
			seen[k] = true
			switch k {
			case "name":
				a.Name = v
			case "groups":
				a.Groups = strings.Split(v, "+")
			case "local":
				b, err := strconv.ParseBool(v)
				if err != nil {
					return a, inputErr("agent %q: local=%q: want true or false", s, v)
				}
				a.Local = b
			case "leaf":
				a.Leaf = v
			default:
				return a, inputErr("agent %q: unknown key %q (keys: name, groups, local, leaf)", s, k)
			}
		}
	}
	if a.Name == "" {
		a.Name = id
	}
	return a, a.check()
}

// splitTopLevel splits s at the commas outside brackets.
func splitTopLevel(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '[':
			depth++
		case ']':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

func (a AgentSpec) check() error {
	if err := protocol.ValidID(a.ID); err != nil {
		return inputErr("agent: %w", err)
	}
	if err := checkName("gateway name", a.Name); err != nil {
		return inputErr("agent %q: %w", a.ID, err)
	}
	if len(a.Groups) > maxGroups {
		return inputErr("agent %q: %d groups: over %d", a.ID, len(a.Groups), maxGroups)
	}
	for _, g := range a.Groups {
		if err := checkName("group", g); err != nil {
			return inputErr("agent %q: %w", a.ID, err)
		}
	}
	if a.Leaf != "" {
		if err := protocol.ValidID(a.Leaf); err != nil {
			return inputErr("agent %q: leaf: %w", a.ID, err)
		}
	}
	return nil
}

// identity is the agent's identity with public key pub.
func (a AgentSpec) identity(pub string) auth.Identity {
	return auth.Identity{Role: auth.Agent, ID: a.ID, Nkey: pub, Name: a.Name, Groups: a.Groups, Local: a.Local}
}

// InputError is an error in what the caller asked for (an id, an option,
// an existing site), as opposed to one writing or reading files: the
// command line exits 2 for it.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputErr(format string, args ...any) error {
	return &InputError{fmt.Errorf(format, args...)}
}

// ErrExists is the InputError of Init without Force on a directory that
// holds a site.
var ErrExists = errors.New("a site already exists there")

// check validates the options and fills in their defaults.
func (o *InitOptions) check() error {
	if o.Prefix == "" {
		o.Prefix = protocol.DefaultPrefix
	}
	if err := protocol.ValidPrefix(o.Prefix); err != nil {
		return inputErr("%w", err)
	}
	if o.CoordinatorID == "" {
		o.CoordinatorID = DefaultCoordinatorID
	}
	if err := protocol.ValidID(o.CoordinatorID); err != nil {
		return inputErr("coordinator: %w", err)
	}
	users := map[string]string{}
	for _, l := range []struct {
		role string
		ids  []string
	}{{"admin", o.Admins}, {"user", o.Users}} {
		for _, id := range l.ids {
			if err := protocol.ValidID(id); err != nil {
				return inputErr("%s: %w", l.role, err)
			}
			if prev, ok := users[id]; ok {
				return inputErr("%s %q: already given as %s", l.role, id, prev)
			}
			users[id] = l.role
		}
	}
	agents := map[string]bool{}
	for _, a := range o.Agents {
		if err := a.check(); err != nil {
			return err
		}
		if agents[a.ID] {
			return inputErr("agent %q: given twice", a.ID)
		}
		agents[a.ID] = true
	}
	sans := sanList(o.Hosts, o.IPs)
	for _, ip := range o.IPs {
		if net.ParseIP(ip) == nil {
			return inputErr("--ip %q: not an IP address", ip)
		}
	}
	for _, h := range o.Hosts {
		if net.ParseIP(h) != nil {
			return inputErr("--host %q: an IP address (use --ip)", h)
		}
		if err := checkHost(h); err != nil {
			return inputErr("--host %q: %w", h, err)
		}
	}
	if o.URL == "" {
		host := "localhost"
		if len(o.Hosts) > 0 {
			host = o.Hosts[0]
		} else if len(o.IPs) > 0 {
			host = o.IPs[0]
		}
		o.URL = "tls://" + net.JoinHostPort(host, strconv.Itoa(DefaultPort))
	}
	host, port, err := checkURL(o.URL, sans)
	if err != nil {
		return err
	}
	if o.Listen == "" {
		bind := "0.0.0.0"
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			bind = "127.0.0.1"
		}
		o.Listen = net.JoinHostPort(bind, port)
	} else if _, _, err := net.SplitHostPort(o.Listen); err != nil {
		return inputErr("--listen %q: %w", o.Listen, err)
	}
	if o.cluster, err = o.clusterOf(); err != nil {
		return err
	}
	if o.leaves, err = o.leavesOf(); err != nil { // natsleaf.go
		return err
	}
	if o.now.IsZero() {
		o.now = time.Now()
	}
	return nil
}

// sanList is DefaultSANs, then hosts and ips, without repeats.
func sanList(hosts, ips []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, l := range [][]string{DefaultSANs, hosts, ips} {
		for _, s := range l {
			k := strings.ToLower(s)
			if ip := net.ParseIP(s); ip != nil {
				k = ip.String()
			}
			if !seen[k] {
				seen[k] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// checkHost checks a DNS name for a certificate SAN.
func checkHost(h string) error {
	if h == "" || len(h) > 253 {
		return fmt.Errorf("not a DNS name")
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("not a DNS name")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '*' && i == 0 && len(label) == 1) {
				return fmt.Errorf("character %q not allowed in a DNS name", c)
			}
		}
	}
	return nil
}

// checkURL checks the coordinator URL clients are given: tls://HOST:PORT
// with HOST one of the certificate's sans, so that clients verify it.
func checkURL(raw string, sans []string) (host, port string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", inputErr("--url %q: %w", raw, err)
	}
	if u.Scheme != "tls" || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return "", "", inputErr("--url %q: want tls://HOST:PORT (clients must insist on TLS)", raw)
	}
	host, port = u.Hostname(), u.Port()
	if port == "" {
		port = strconv.Itoa(DefaultPort)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", "", inputErr("--url %q: bad port %q", raw, port)
	}
	if !hasSAN(sans, host) {
		return "", "", inputErr("--url %q: %s is not a name of the server certificate (%s): add --host or --ip",
			raw, host, strings.Join(sans, ", "))
	}
	return host, port, nil
}

func hasSAN(sans []string, host string) bool {
	hip := net.ParseIP(host)
	for _, s := range sans {
		if hip != nil {
			if ip := net.ParseIP(s); ip != nil && ip.Equal(hip) {
				return true
			}
		} else if strings.EqualFold(s, host) {
			return true
		}
	}
	return false
}

// Init writes a new site in dir (see the package documentation). It
// refuses, with an InputError naming the culprit, bad ids or options, a
// directory that holds a site unless opts.Force, and a directory that is
// not empty and holds no site.
func Init(dir string, opts InitOptions) error {
	if err := opts.check(); err != nil {
		return err
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	empty, err := isDirEmpty(dir)
	if err != nil {
		return fmt.Errorf("site %s: %w", dir, err)
	}
	if !empty {
		isSite := exists(filepath.Join(dir, IdentitiesFile)) || exists(filepath.Join(dir, MetaFile))
		if !isSite {
			// Not even --force: it would delete the directory's users and
			// agents subdirectories, which are not ours.
			return &InputError{fmt.Errorf("site %s: the directory is not empty and holds no site: choose an empty or new directory", dir)}
		}
		if !opts.Force {
			return &InputError{fmt.Errorf("site %s: %w (it holds %s): --force replaces it; `coordinator site add-user|add-agent|rotate|remove` change it",
				dir, ErrExists, IdentitiesFile)}
		}
		for _, sub := range []string{UsersDir, AgentsDir, LeavesDir} {
			if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
				return fmt.Errorf("site %s: %w", dir, err)
			}
		}
	}
	if err := mkdir(dir); err != nil {
		return fmt.Errorf("site %s: %w", dir, err)
	}
	s := &writer{dir: dir, meta: meta{URL: opts.URL, Prefix: opts.Prefix, Listen: opts.Listen, Cluster: opts.cluster, Leaves: opts.leaves}}
	ca, err := newCA(filepath.Base(dir), opts.now)
	if err != nil {
		return err
	}
	hosts, ips := parseSANs(sanList(opts.Hosts, opts.IPs))
	srv, err := newServerCert(ca.cert, ca.signer, hosts, ips, opts.now)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{CACertFile, ca.crt}, {CAKeyFile, ca.key}, {ServerCertFile, srv.crt}, {ServerKeyFile, srv.key}} {
		if err := writeFile(filepath.Join(dir, f.name), f.data); err != nil {
			return err
		}
	}
	s.ca = ca.crt
	if opts.leaves != nil {
		for i := range opts.leaves.Sites {
			if err := s.newLeaf(&opts.leaves.Sites[i], ca, opts.now); err != nil {
				return err
			}
		}
	}
	coord, err := s.newCoordinatorKey(opts.CoordinatorID)
	if err != nil {
		return err
	}
	s.ids = append(s.ids, coord)
	for _, l := range []struct {
		role auth.Role
		ids  []string
	}{{auth.Admin, opts.Admins}, {auth.Submitter, opts.Users}} {
		for _, id := range l.ids {
			ident, err := s.addUser(l.role, id)
			if err != nil {
				return err
			}
			s.ids = append(s.ids, ident)
		}
	}
	for _, a := range opts.Agents {
		ident, err := s.addAgent(a, coord.Nkey)
		if err != nil {
			return err
		}
		s.ids = append(s.ids, ident)
	}
	if err := s.writeCoordinatorConfig(); err != nil {
		return err
	}
	return s.writeIdentities()
}
