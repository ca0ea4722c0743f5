package natstest

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// ClusterOptions configure StartCluster.
type ClusterOptions struct {
	// Servers is the cluster's size (3 when 0: the smallest cluster whose
	// JetStream survives the loss of one server).
	Servers int
	// Name is the cluster's name ("fleet" when empty).
	Name string
	// Base returns the options each server starts from, before the
	// cluster sets its ports, routes, name and store (nil: a plain server
	// like Run's). Integration tests parse a site's nats-server.conf
	// here, so that the test runs the configuration operators run.
	Base func() (*server.Options, error)
	// NoJetStream leaves JetStream off.
	NoJetStream bool
}

// Cluster is a NATS cluster started for a test: servers on loopback,
// each routed to all the others, each with JetStream on its own store
// under t.TempDir(). A server can be killed and restarted on its ports
// and store, as a machine of a real cluster would be.
type Cluster struct {
	t     testing.TB
	opts  ClusterOptions
	mu    sync.Mutex
	nodes []*clusterNode
}

type clusterNode struct {
	name            string
	port, routePort int
	store           string
	srv             *server.Server // nil while killed
}

// StartCluster starts a cluster and waits until every server has a route
// to every other one and, with JetStream, the cluster has elected its
// JetStream leader. It is stopped when the test ends.
func StartCluster(t testing.TB, opts ClusterOptions) *Cluster {
	t.Helper()
	if opts.Servers <= 0 {
		opts.Servers = 3
	}
	if opts.Name == "" {
		opts.Name = "fleet"
	}
	c := &Cluster{t: t, opts: opts}
	dir := t.TempDir()
	for i := range opts.Servers {
		c.nodes = append(c.nodes, &clusterNode{
			name:      fmt.Sprintf("%s-%d", opts.Name, i),
			port:      HoldPort(t), // held: a server restarts there
			routePort: HoldPort(t),
			store:     filepath.Join(dir, fmt.Sprintf("n%d", i)),
		})
	}
	t.Cleanup(c.Stop)
	// Start them together: a JetStream server waits for its peers.
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.start(i)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	c.WaitFormed()
	return c
}

// FreePort returns a port of 127.0.0.1 nobody listens on right now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// RouteURLs are the cluster's route URLs, what a site's
// `coordinator init-site --cluster-route` lists.
func (c *Cluster) RouteURLs() []string {
	var out []string
	for _, n := range c.nodes {
		out = append(out, "nats-route://127.0.0.1:"+strconv.Itoa(n.routePort))
	}
	return out
}

// options builds server i's options.
func (c *Cluster) options(i int) (*server.Options, error) {
	n := c.nodes[i]
	var opts *server.Options
	if c.opts.Base != nil {
		var err error
		if opts, err = c.opts.Base(); err != nil {
			return nil, fmt.Errorf("server %s: %w", n.name, err)
		}
	} else {
		opts = &server.Options{MaxPending: 128 << 20}
	}
	opts.ServerName = n.name
	opts.Host, opts.Port = "127.0.0.1", n.port
	opts.NoSigs, opts.NoLog = true, true
	opts.Cluster.Name = c.opts.Name
	opts.Cluster.Host, opts.Cluster.Port = "127.0.0.1", n.routePort
	opts.Routes = nil
	for _, r := range c.RouteURLs() {
		u, err := url.Parse(r)
		if err != nil {
			return nil, err
		}
		opts.Routes = append(opts.Routes, u)
	}
	if !c.opts.NoJetStream {
		opts.JetStream, opts.StoreDir = true, n.store
	}
	return opts, nil
}

func (c *Cluster) start(i int) error {
	opts, err := c.options(i)
	if err != nil {
		return err
	}
	s, err := RunOptions(opts)
	if err != nil {
		return fmt.Errorf("server %s: %w", c.nodes[i].name, err)
	}
	if !c.opts.NoJetStream && !s.JetStreamEnabled() {
		s.Shutdown()
		return fmt.Errorf("server %s: jetstream did not start", c.nodes[i].name)
	}
	c.mu.Lock()
	c.nodes[i].srv = s
	c.mu.Unlock()
	return nil
}

// WaitFormed waits until every running server has a route to every other
// running one and, with JetStream, agrees on a JetStream leader. A
// cluster forms in a second or two; a minute means it never will.
func (c *Cluster) WaitFormed() {
	c.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		why := c.formed()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("nats cluster did not form: %s", why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// formed says why the cluster is not formed yet ("" when it is).
func (c *Cluster) formed() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var up []*server.Server
	for _, n := range c.nodes {
		if n.srv != nil {
			up = append(up, n.srv)
		}
	}
	leaders := 0
	for _, s := range up {
		// Routes are pooled (several connections per peer): count peers.
		peers := map[string]bool{}
		if rz, err := s.Routez(nil); err == nil {
			for _, r := range rz.Routes {
				peers[r.RemoteName] = true
			}
		}
		if len(peers) < len(up)-1 {
			return fmt.Sprintf("%s routes to %d of %d servers", s.Name(), len(peers), len(up)-1)
		}
		if !c.opts.NoJetStream {
			if !s.JetStreamIsCurrent() {
				return s.Name() + ": jetstream not current"
			}
			if s.JetStreamIsLeader() {
				leaders++
			}
		}
	}
	if !c.opts.NoJetStream && leaders != 1 {
		return fmt.Sprintf("%d jetstream leaders", leaders)
	}
	return ""
}

// Server returns server i (nil while it is killed).
func (c *Cluster) Server(i int) *server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i].srv
}

// URL is server i's client URL.
func (c *Cluster) URL(i int) string {
	return "nats://127.0.0.1:" + strconv.Itoa(c.nodes[i].port)
}

// Ports are the servers' client ports, in order.
func (c *Cluster) Ports() []int {
	var out []int
	for _, n := range c.nodes {
		out = append(out, n.port)
	}
	return out
}

// URLs is every server's client URL, comma-separated: what a client of
// the cluster connects to (nats.Connect tries them all, and learns the
// others from the one it reaches).
func (c *Cluster) URLs() string {
	var out []string
	for i := range c.nodes {
		out = append(out, c.URL(i))
	}
	return strings.Join(out, ",")
}

// Kill stops server i at once, as the loss of its machine would (its
// clients reconnect to another server).
func (c *Cluster) Kill(i int) {
	c.mu.Lock()
	s := c.nodes[i].srv
	c.nodes[i].srv = nil
	c.mu.Unlock()
	if s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// Restart starts killed server i again on its ports and store, and waits
// until the cluster is formed again.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.Kill(i)
	Restart(c.t, c.nodes[i].port, 0, func() {}, func() error { return c.start(i) })
	c.WaitFormed()
}

// Stop stops every server.
func (c *Cluster) Stop() {
	for i := range c.nodes {
		c.Kill(i)
	}
}

// Connect connects a client to the whole cluster (every server's URL),
// reconnecting forever, closed at test end.
func (c *Cluster) Connect(t testing.TB, name string) *nats.Conn {
	t.Helper()
	return Dial(t, c.URLs(), name)
}

// ConnectTo connects a client to server i only at first (it learns the
// others from it and fails over to them), closed at test end.
func (c *Cluster) ConnectTo(t testing.TB, i int, name string) *nats.Conn {
	t.Helper()
	return Dial(t, c.URL(i), name)
}
