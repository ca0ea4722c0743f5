package site

import (
	"crypto/tls"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/fleetsh/fleetsh/internal/natstest"
)

// A site made with --cluster-route writes a nats-server.conf that is one
// server of a cluster: nats-server parses it (the server's name from
// $FLEETSH_NATS_SERVER_NAME), three servers run from it form a cluster
// over TLS routes, and the rotation verbs keep the block.
func TestNATSConfCluster(t *testing.T) {
	t.Setenv(ServerNameEnv, "nats-a")
	// The routes' ports: the cluster natstest starts takes its own, so
	// this site's are rewritten below; the conf's shape is what counts.
	c0 := testOptions()
	c0.ClusterRoutes = []string{"nats-route://coord1.example.org:6222", "coord2.example.org:6222", "nats-route://10.0.0.7:6222"}
	dir := initSite(t, c0)
	opts := loadNATSConf(t, dir)
	if opts.ServerName != "nats-a" || opts.Cluster.Name != DefaultClusterName ||
		opts.Cluster.Host != "0.0.0.0" || opts.Cluster.Port != DefaultClusterPort || len(opts.Routes) != 3 {
		t.Fatalf("cluster: name %q %q listen %s:%d routes %v", opts.ServerName, opts.Cluster.Name, opts.Cluster.Host, opts.Cluster.Port, opts.Routes)
	}
	if opts.Routes[1].String() != "nats-route://coord2.example.org:6222" {
		t.Errorf("route %v, want the nats-route:// form", opts.Routes[1])
	}
	if tc := opts.Cluster.TLSConfig; tc == nil || tc.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Error("cluster routes without verified TLS")
	}
	checkConfUsers(t, dir, opts)
	if err := AddUsers(dir, nil, []string{"carol"}); err != nil {
		t.Fatal(err)
	}
	if opts := loadNATSConf(t, dir); len(opts.Routes) != 3 {
		t.Errorf("after add-user: %d routes, want the cluster kept", len(opts.Routes))
	}

	// Three servers on loopback from the site's own conf (ports and
	// routes set per server, as natstest does): the routes' TLS holds.
	o := testOptions()
	o.URL, o.Listen, o.ClusterRoutes = "tls://127.0.0.1:4222", "127.0.0.1:4222", []string{"127.0.0.1:6222"}
	dir = initSite(t, o)
	conf := filepath.Join(dir, NATSServerConfFile)
	c := natstest.StartCluster(t, natstest.ClusterOptions{Name: DefaultClusterName,
		Base: func() (*server.Options, error) { return server.ProcessConfigFile(conf) }})
	// Each server requires TLS of its routes: the cluster formed over it.
	if c.Server(0).NumRoutes() == 0 {
		t.Error("no route")
	}
}

// Bad cluster options are refused before anything is written.
func TestClusterOptionsRefused(t *testing.T) {
	for _, tc := range []struct {
		routes       []string
		listen, name string
		want         string
	}{
		{nil, "0.0.0.0:6222", "", "need --cluster-route"},
		{[]string{"http://a:1"}, "", "", "want nats-route://HOST:PORT"},
		{[]string{"a"}, "", "", "want nats-route://HOST:PORT"},
		{[]string{"a:1"}, "x", "", "--cluster-listen"},
		{[]string{"a:1"}, "", "a.b", "--cluster-name"},
	} {
		o := testOptions()
		o.ClusterRoutes, o.ClusterListen, o.ClusterName = tc.routes, tc.listen, tc.name
		err := Init(filepath.Join(t.TempDir(), "s"), o)
		if _, ok := err.(*InputError); !ok || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %q %q: %v, want an InputError saying %q", tc.routes, tc.listen, tc.name, err, tc.want)
		}
	}
}
