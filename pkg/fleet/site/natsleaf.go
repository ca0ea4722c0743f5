package site

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// A site with gateway sites (InitOptions.Leaves) runs one NATS leaf-node
// server per gateway site: that site's agents connect to it, and it
// carries their traffic to the site's NATS servers (the hub: one
// server, or the cluster of InitOptions.ClusterRoutes) over one TLS
// connection, so the WAN is crossed once per site. Its files, in
// leaves/<name>/, are copied to the leaf server's machine at the same
// path:
//
//	nats-leaf.conf      nats-server -c: the leaf server (rewritten by every site verb)
//	leaf-seed.conf      its credential at the hub (an nkey seed; nats-leaf.conf includes it)
//	leaf.crt, leaf.key  its TLS certificate: the agents' listener, and the client
//	                    certificate it shows the hub
//	ca.crt              the site CA
//
// Trust: the leaf server authenticates each agent with the agent's own
// nkey and enforces that agent's own permissions (auth.Permissions, as
// the hub does), so at the leaf only an agent's credential acts as that
// agent. The hub knows the leaf link by the leaf's own nkey, usable for
// leaf-node connections only, whose permissions are the union of its
// agents' and nothing else: what crosses the link is what those agents
// may send and receive. docs/SECURITY.md, "Gateway sites behind leaf
// nodes", says why the agents' own users are not authenticated at the hub.
const (
	LeavesDir        = "leaves"
	LeafConfFile     = "nats-leaf.conf"
	LeafSeedConfFile = "leaf-seed.conf"
	LeafCertFile     = "leaf.crt"
	LeafKeyFile      = "leaf.key"
	// DefaultLeafPort is the hub's leaf-node port (NATS's default).
	DefaultLeafPort = 7422
)

// LeafSpec is a gateway site's leaf server as --leaf gives it,
// NAME=tls://HOST:PORT: its name (a directory name and, in --agent
// ID:leaf=NAME, what its agents name it by) and the URL its agents
// connect to (HOST goes in its certificate). The server listens on
// that port on 127.0.0.1 for a loopback host, else on 0.0.0.0.
type LeafSpec struct {
	Name, URL string
}

// ParseLeafSpec parses the --leaf syntax (see LeafSpec).
func ParseLeafSpec(s string) (LeafSpec, error) {
	name, u, ok := strings.Cut(s, "=")
	if !ok {
		return LeafSpec{}, inputErr("leaf %q: want NAME=tls://HOST:PORT", s)
	}
	l := LeafSpec{Name: name, URL: u}
	if _, err := l.site(); err != nil {
		return LeafSpec{}, err
	}
	return l, nil
}

// site checks l and returns its leafSite (no key yet).
func (l LeafSpec) site() (leafSite, error) {
	if err := protocol.ValidID(l.Name); err != nil {
		return leafSite{}, inputErr("leaf: %w", err)
	}
	host, port, err := tlsURL("leaf "+l.Name, l.URL)
	if err != nil {
		return leafSite{}, err
	}
	return leafSite{Name: l.Name, URL: l.URL, Listen: net.JoinHostPort(bindFor(host), port)}, nil
}

// natsLeaves is the leaf-node layout of a site, kept in site.json so that
// every verb rewrites the hub's and the leaves' confs alike.
type natsLeaves struct {
	// Listen is the hub servers' leaf-node listener.
	Listen string `json:"listen"`
	// HubURLs are what every leaf server dials (tls://HOST:PORT, HOST a
	// name of the server certificate).
	HubURLs []string `json:"hub_urls"`
	// Sites are the leaf servers.
	Sites []leafSite `json:"sites"`
}

// leafSite is one leaf server: its name, its agents' URL, its listener,
// its public nkey at the hub, and the agents it serves.
type leafSite struct {
	Name   string   `json:"name"`
	URL    string   `json:"url"`
	Listen string   `json:"listen"`
	Nkey   string   `json:"nkey"`
	Agents []string `json:"agents"`
}

// leavesOf checks and completes the leaf options of o: nil without
// --leaf.
func (o *InitOptions) leavesOf() (*natsLeaves, error) {
	if len(o.Leaves) == 0 {
		if o.LeafListen != "" || len(o.HubURLs) > 0 {
			return nil, inputErr("--leaf-listen and --hub-url need --leaf")
		}
		for _, a := range o.Agents {
			if a.Leaf != "" {
				return nil, inputErr("agent %q: leaf %q: no such --leaf", a.ID, a.Leaf)
			}
		}
		return nil, nil
	}
	l := &natsLeaves{Listen: o.LeafListen}
	host, _, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, inputErr("--listen %q: %w", o.Listen, err)
	}
	if l.Listen == "" {
		l.Listen = net.JoinHostPort(host, strconv.Itoa(DefaultLeafPort))
	} else if _, _, err := net.SplitHostPort(l.Listen); err != nil {
		return nil, inputErr("--leaf-listen %q: %w", l.Listen, err)
	}
	_, leafPort, _ := net.SplitHostPort(l.Listen)
	l.HubURLs = o.HubURLs
	if len(l.HubURLs) == 0 {
		l.HubURLs = defaultHubURLs(o.URL, o.cluster, leafPort)
	}
	sans := sanList(o.Hosts, o.IPs)
	for _, u := range l.HubURLs {
		h, _, err := tlsURL("--hub-url", u)
		if err != nil {
			return nil, err
		}
		if !hasSAN(sans, h) {
			return nil, inputErr("--hub-url %q: %s is not a name of the server certificate (%s): add --host or --ip, or give --hub-url",
				u, h, strings.Join(sans, ", "))
		}
	}
	for _, spec := range o.Leaves {
		s, err := spec.site()
		if err != nil {
			return nil, err
		}
		if l.find(s.Name) >= 0 {
			return nil, inputErr("leaf %q: given twice", s.Name)
		}
		l.Sites = append(l.Sites, s)
	}
	for _, a := range o.Agents {
		if err := l.join(a); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// defaultHubURLs are the leaf-node URLs of the hub: each cluster
// server's route host, else the coordinator URL's host, on leafPort.
func defaultHubURLs(coordURL string, c *natsCluster, leafPort string) []string {
	var hosts []string
	if c != nil {
		for _, r := range c.Routes {
			if u, err := url.Parse(r); err == nil {
				hosts = append(hosts, u.Hostname())
			}
		}
	} else if u, err := url.Parse(coordURL); err == nil {
		hosts = append(hosts, u.Hostname())
	}
	var out []string
	for _, h := range hosts {
		out = append(out, "tls://"+net.JoinHostPort(h, leafPort))
	}
	return out
}

// tlsURL checks a tls://HOST:PORT URL, what names it in errors.
func tlsURL(what, raw string) (host, port string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", inputErr("%s %q: %w", what, raw, err)
	}
	if u.Scheme != "tls" || u.Hostname() == "" || u.Port() == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return "", "", inputErr("%s %q: want tls://HOST:PORT", what, raw)
	}
	if n, err := strconv.Atoi(u.Port()); err != nil || n < 1 || n > 65535 {
		return "", "", inputErr("%s %q: bad port %q", what, raw, u.Port())
	}
	if net.ParseIP(u.Hostname()) == nil {
		if err := checkHost(u.Hostname()); err != nil {
			return "", "", inputErr("%s %q: %w", what, raw, err)
		}
	}
	return u.Hostname(), u.Port(), nil
}

// bindFor is where a server named host listens: loopback for a loopback
// name, else every interface.
func bindFor(host string) string {
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		return "127.0.0.1"
	}
	return "0.0.0.0"
}

// find returns the index of the leaf named name, or -1.
func (l *natsLeaves) find(name string) int {
	if l == nil {
		return -1
	}
	return slices.IndexFunc(l.Sites, func(s leafSite) bool { return s.Name == name })
}

// join puts agent a behind its leaf (none without a.Leaf).
func (l *natsLeaves) join(a AgentSpec) error {
	if a.Leaf == "" {
		return nil
	}
	i := l.find(a.Leaf)
	if i < 0 {
		return inputErr("agent %q: leaf %q: no such --leaf", a.ID, a.Leaf)
	}
	l.Sites[i].Agents = append(l.Sites[i].Agents, a.ID)
	return nil
}

// leave takes agent id out of its leaf, if any.
func (l *natsLeaves) leave(id string) {
	if l == nil {
		return
	}
	for i := range l.Sites {
		l.Sites[i].Agents = slices.DeleteFunc(l.Sites[i].Agents, func(a string) bool { return a == id })
	}
}

// of returns the leaf agent id connects to, or nil.
func (l *natsLeaves) of(id string) *leafSite {
	if l == nil {
		return nil
	}
	for i := range l.Sites {
		if slices.Contains(l.Sites[i].Agents, id) {
			return &l.Sites[i]
		}
	}
	return nil
}

// agentURL is the NATS URL agent id's config names: its leaf server's,
// else the coordinator's.
func (w *writer) agentURL(id string) string {
	if s := w.meta.Leaves.of(id); s != nil {
		return s.URL
	}
	return w.meta.URL
}

// leafAgents are the identities of the agents behind leaf s, in the
// order of the site's identities.
func (w *writer) leafAgents(s leafSite) []auth.Identity {
	var out []auth.Identity
	for _, id := range w.ids {
		if id.Role == auth.Agent && slices.Contains(s.Agents, id.ID) {
			out = append(out, id)
		}
	}
	return out
}

// CoordinatorInbox is where the coordinator's requests are answered
// (NATS's default inbox prefix, auth.InboxPrefix of the coordinator).
const CoordinatorInbox = "_INBOX.>"

// leafPermissions are the hub's permissions of a leaf link: the union
// of its agents' (auth.Permissions), so the hub takes from the link
// only what one of them may publish and sends into it only what one of
// them may receive; with no agent, nothing at all. One subject more:
// the coordinator's inbox, where its agents answer its requests. NATS
// forwards a reply over a leaf link only to subjects the link may
// publish to (the hub advertises no other interest to it), so
// allow_responses alone, which serves agents connected to the hub, does
// not carry the answers back; at the leaf server each agent still
// answers only the requests it received, once (its own
// allow_responses). docs/SECURITY.md says what this leaves to the leaf.
//
// A publish subject ending in '*' ends in '>' here: the hub advertises
// a subscription with wildcards (the coordinator's fleet.ev.*.*) to a
// leaf only if the leaf's publish permissions reverse-match it, and
// nats-server 2.15's reverse match misses a permission's last '*' under
// a subscription's '*' (fleet.ev.gw1.* under fleet.ev.*.*) while it
// finds a '>': with '*', no event would cross the link. The extra
// subjects ('fleet.ev.gw1.a.b') reach no subscriber, and at the leaf
// each agent keeps its exact '*' permissions (TestLeafLink).
func leafPermissions(subj protocol.Subjects, agents []auth.Identity) *server.Permissions {
	if len(agents) == 0 {
		return auth.Permissions(subj, auth.Identity{}) // an unknown role: every subject denied
	}
	var u *server.Permissions
	for _, a := range agents {
		p := auth.Permissions(subj, a)
		if u == nil {
			u = p
			continue
		}
		u.Publish.Allow = append(u.Publish.Allow, p.Publish.Allow...)
		u.Subscribe.Allow = append(u.Subscribe.Allow, p.Subscribe.Allow...)
	}
	for i, a := range u.Publish.Allow {
		if strings.HasSuffix(a, ".*") {
			u.Publish.Allow[i] = strings.TrimSuffix(a, "*") + ">"
		}
	}
	u.Publish.Allow = append(u.Publish.Allow, CoordinatorInbox)
	return u
}

// writeLeafHub renders the hub's side of the leaf links in its
// nats-server.conf: the leaf-node listener, over TLS with the site's
// server certificate, each leaf showing a certificate of the site CA;
// nothing without leaves.
func writeLeafHub(b *strings.Builder, l *natsLeaves, files natsConfFiles) {
	if l == nil {
		return
	}
	b.WriteString("\n# The gateway sites' leaf servers connect here (leaves/<name>/nats-leaf.conf),\n")
	b.WriteString("# each with its own nkey (a user below, leaf-node connections only).\n")
	b.WriteString("leafnodes {\n")
	fmt.Fprintf(b, "  listen: %s\n", confString(l.Listen))
	b.WriteString("  tls {\n")
	writeTLSFiles(b, files.Cert, files.Key, files.CA, "    ")
	b.WriteString("    verify: true\n")
	fmt.Fprintf(b, "    timeout: %d\n", natsTLSTimeout)
	b.WriteString("  }\n}\n")
}

// writeLeafUsers renders the hub's user of each leaf link.
func (w *writer) writeLeafUsers(b *strings.Builder, subj protocol.Subjects) {
	if w.meta.Leaves == nil {
		return
	}
	for _, s := range w.meta.Leaves.Sites {
		fmt.Fprintf(b, "    # leaf %s: the union of its agents' permissions (%s)\n", s.Name, strings.Join(s.Agents, ", "))
		fmt.Fprintf(b, "    {\n      nkey: %s\n", confString(s.Nkey))
		b.WriteString("      allowed_connection_types: [\"LEAFNODE\"]\n")
		writePermissions(b, leafPermissions(subj, w.leafAgents(s)), "      ")
		b.WriteString("    }\n")
	}
}

func writeTLSFiles(b *strings.Builder, cert, key, ca, indent string) {
	fmt.Fprintf(b, "%scert_file: %s\n", indent, confString(cert))
	fmt.Fprintf(b, "%skey_file: %s\n", indent, confString(key))
	fmt.Fprintf(b, "%sca_file: %s\n", indent, confString(ca))
}

// leafConf renders leaf s's nats-leaf.conf: its agents' listener over
// TLS, each of its agents a user with its own permissions (no other
// user), and one remote to the hub with the leaf's credential
// (leaf-seed.conf, included: this file holds no secret) and certificate.
func (w *writer) leafConf(s leafSite) string {
	d := w.path(LeavesDir, s.Name)
	cert, key, ca := filepath.Join(d, LeafCertFile), filepath.Join(d, LeafKeyFile), filepath.Join(d, CACertFile)
	subj := protocol.Subjects{Prefix: w.meta.Prefix}
	var b strings.Builder
	fmt.Fprintf(&b, "# nats-server -c FILE: the leaf server of gateway site %s, written by coordinator\n", s.Name)
	b.WriteString("# init-site and rewritten by coordinator site verbs (edits are lost). Its agents\n")
	b.WriteString("# connect here; one connection carries their traffic to the hub (docs/SECURITY.md).\n")
	fmt.Fprintf(&b, "server_name: %s\n", confString("leaf-"+s.Name))
	fmt.Fprintf(&b, "listen: %s\n", confString(s.Listen))
	fmt.Fprintf(&b, "max_pending: %d\n", natsMaxPending)
	fmt.Fprintf(&b, "ping_interval: %s\n", confString(natsPingInterval))
	fmt.Fprintf(&b, "ping_max: %d\n\n", natsPingMax)
	b.WriteString("tls {\n")
	writeTLSFiles(&b, cert, key, ca, "  ")
	fmt.Fprintf(&b, "  timeout: %d\n", natsTLSTimeout)
	b.WriteString("}\n\n")
	b.WriteString("authorization {\n  users = [\n")
	for _, id := range w.leafAgents(s) {
		fmt.Fprintf(&b, "    # agent %s\n", id.ID)
		fmt.Fprintf(&b, "    {\n      nkey: %s\n", confString(id.Nkey))
		b.WriteString("      allowed_connection_types: [\"STANDARD\"]\n")
		writePermissions(&b, auth.Permissions(subj, id), "      ")
		b.WriteString("    }\n")
	}
	b.WriteString("  ]\n}\n\n")
	b.WriteString("leafnodes {\n  remotes = [\n    {\n")
	fmt.Fprintf(&b, "      urls: %s\n", confList(w.meta.Leaves.HubURLs))
	fmt.Fprintf(&b, "      # nkey: the leaf's seed (mode 0600)\n      include %s\n", confString(LeafSeedConfFile))
	b.WriteString("      tls {\n")
	writeTLSFiles(&b, cert, key, ca, "        ")
	fmt.Fprintf(&b, "        timeout: %d\n", natsTLSTimeout)
	b.WriteString("      }\n    }\n  ]\n}\n")
	return b.String()
}

// newLeafKey writes a new credential for leaf s (leaf-seed.conf) and
// records its public key.
func (w *writer) newLeafKey(s *leafSite) error {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return fmt.Errorf("leaf %s: new nkey: %w", s.Name, err)
	}
	defer kp.Wipe()
	seed, err := kp.Seed()
	if err != nil {
		return fmt.Errorf("leaf %s: new nkey: %w", s.Name, err)
	}
	defer wipe(seed)
	if s.Nkey, err = kp.PublicKey(); err != nil {
		return fmt.Errorf("leaf %s: new nkey: %w", s.Name, err)
	}
	conf := append(append([]byte("nkey: \""), seed...), "\"\n"...)
	defer wipe(conf)
	return writeFile(w.path(LeavesDir, s.Name, LeafSeedConfFile), conf)
}

// newLeaf writes leaf s's directory but its conf: the CA, a certificate
// for its URL's host signed by ca, and a new credential.
func (w *writer) newLeaf(s *leafSite, ca *issued, now time.Time) error {
	if _, err := w.holderDir(LeavesDir, s.Name); err != nil {
		return err
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		return fmt.Errorf("leaf %s: %w", s.Name, err)
	}
	hosts, ips := parseSANs(sanList([]string{u.Hostname()}, nil))
	cert, err := newServerCert(ca.cert, ca.signer, hosts, ips, now)
	if err != nil {
		return fmt.Errorf("leaf %s: %w", s.Name, err)
	}
	d := w.path(LeavesDir, s.Name)
	if err := writeFile(filepath.Join(d, LeafKeyFile), cert.key); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(d, LeafCertFile), cert.crt); err != nil {
		return err
	}
	return w.newLeafKey(s)
}

// writeLeafConfs writes every leaf's nats-leaf.conf.
func (w *writer) writeLeafConfs() error {
	if w.meta.Leaves == nil {
		return nil
	}
	for _, s := range w.meta.Leaves.Sites {
		if err := writeFile(w.path(LeavesDir, s.Name, LeafConfFile), []byte(w.leafConf(s))); err != nil {
			return fmt.Errorf("leaf %s: %w", s.Name, err)
		}
	}
	return nil
}
