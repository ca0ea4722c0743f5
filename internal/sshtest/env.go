package sshtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Env is the client side of a test: a key pair, a known_hosts file and an
// ssh_config that maps node names to test servers
// ("Host node1 node2 / HostName 127.0.0.1 / Port P"), all in a temporary
// directory. Point the driver at ConfigPath (or run "ssh -F ConfigPath
// node1" with OpenSSH) to reach the servers by name.
//
// The config's final "Host *" block names the key (IdentitiesOnly, no
// agent), the known_hosts file (no global one) and StrictHostKeyChecking
// yes, so tests never read the user's ~/.ssh.
type Env struct {
	// Dir is the temporary directory holding the files.
	Dir string
	// ConfigPath is the ssh_config file.
	ConfigPath string
	// KnownHostsPath is the known_hosts file, holding the host keys of
	// the servers added with AddNodes.
	KnownHostsPath string
	// KeyPath is the private key file (KeyPath+".pub" the public key).
	KeyPath string
	// Key is the client key, authorized on every server of AddNodes.
	Key *ClientKey

	mu      sync.Mutex
	extra   []string
	groups  []nodeGroup
	servers map[*Server]bool
}

// nodeGroup is one address and the names (or Host patterns) leading to
// it.
type nodeGroup struct {
	host  string
	port  int
	names []string
	// users names each node's login user after the node: a sink server
	// keeps what it receives by login name.
	users bool
}

// NewEnv makes an Env in a temporary directory of tb, with no node yet.
func NewEnv(tb testing.TB) *Env {
	tb.Helper()
	dir := tb.TempDir()
	key, err := GenerateClientKey()
	if err != nil {
		tb.Fatal(err)
	}
	e := &Env{
		Dir:            dir,
		ConfigPath:     filepath.Join(dir, "ssh_config"),
		KnownHostsPath: filepath.Join(dir, "known_hosts"),
		KeyPath:        filepath.Join(dir, "id_ed25519"),
		Key:            key,
		servers:        make(map[*Server]bool),
	}
	if err := key.WriteFiles(e.KeyPath); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(e.KnownHostsPath, nil, 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := e.write(); err != nil {
		tb.Fatal(err)
	}
	return e
}

// StartNodes starts a server and an Env whose names all lead to it.
func StartNodes(tb testing.TB, cfg Config, names ...string) (*Server, *Env) {
	tb.Helper()
	s := Start(tb, cfg)
	e := NewEnv(tb)
	if err := e.AddNodes(s, names...); err != nil {
		tb.Fatal(err)
	}
	return s, e
}

// NodeNames returns prefix1 ... prefixN.
func NodeNames(prefix string, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = prefix + strconv.Itoa(i+1)
	}
	return names
}

// AddNodes maps names (node names or ssh_config Host patterns) to s in
// the config, authorizes the Env's key on s
// and adds s's host key to known_hosts (once per server). When s has a
// sink (Config.Sink), each name that is not a pattern gets a block of
// its own with "User <name>", so that the sink knows the node by its
// login name.

func (e *Env) AddNodes(s *Server, names ...string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.servers[s] {
		e.servers[s] = true
		s.Authorize(e.Key.PublicKey())
		f, err := os.OpenFile(e.KnownHostsPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("sshtest: %w", err)
		}
		_, err = fmt.Fprintln(f, s.KnownHostsLine())
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("sshtest: %w", err)
		}
	}
	e.groups = append(e.groups, nodeGroup{host: s.Host(), port: s.Port(), names: append([]string(nil), names...), users: s.sink != nil})
	return e.write()
}

// AddHost maps names to host:port in the config, where no Server of
// this package answers: a port nothing listens on (connection refused)
// or another server. Names may be ssh_config Host patterns ("hang*"),
// as in AddNodes; blocks keep the order they were added in, and the
// first that matches a name wins.
func (e *Env) AddHost(host string, port int, names ...string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.groups = append(e.groups, nodeGroup{host: host, port: port, names: append([]string(nil), names...)})
	return e.write()
}

// AddConfig adds lines at the top of the config, before the node blocks,
// so that they win (OpenSSH keeps the first value it reads). For example
// AddConfig("Host node2", "    ProxyJump jump").
func (e *Env) AddConfig(lines ...string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.extra = append(e.extra, lines...)
	return e.write()
}

func quote(path string) string { return `"` + path + `"` }

// write rewrites the config file; e.mu is held.
func (e *Env) write() error {
	var b strings.Builder
	b.WriteString("# written by internal/sshtest\n")
	for _, l := range e.extra {
		b.WriteString(l + "\n")
	}
	for _, g := range e.groups {
		names := g.names
		if g.users {
			names = nil
			for _, n := range g.names {
				if strings.ContainsAny(n, "*?!,") {
					names = append(names, n)
					continue
				}
				fmt.Fprintf(&b, "\nHost %s\n    HostName %s\n    Port %d\n    User %s\n", n, g.host, g.port, n)
			}
		}
		// Several names per Host line keeps a 10 000-node config small.
		for i := 0; i < len(names); i += 64 {
			j := min(i+64, len(names))
			fmt.Fprintf(&b, "\nHost %s\n    HostName %s\n    Port %d\n", strings.Join(names[i:j], " "), g.host, g.port)
		}
	}
	fmt.Fprintf(&b, "\nHost *\n    IdentityFile %s\n    IdentitiesOnly yes\n    IdentityAgent none\n", quote(e.KeyPath))
	fmt.Fprintf(&b, "    UserKnownHostsFile %s\n    GlobalKnownHostsFile /dev/null\n", quote(e.KnownHostsPath))
	b.WriteString("    StrictHostKeyChecking yes\n    BatchMode yes\n")
	tmp := e.ConfigPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("sshtest: %w", err)
	}
	if err := os.Rename(tmp, e.ConfigPath); err != nil {
		return fmt.Errorf("sshtest: %w", err)
	}
	return nil
}
