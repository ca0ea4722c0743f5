package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/fleetsh/fleetsh/pkg/fleet/site"
)

// init-site --cluster-route writes a nats-server.conf for one server of
// a cluster and says how to run it; a bad route exits 2.
func TestInitSiteCluster(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "site")
	code, out := runOut("init-site", dir, "--user", "alice", "--cluster-route", "nats-route://n1.example.org:6222",
		"--cluster-route", "n2.example.org:6222", "--cluster-listen", "0.0.0.0:7222")
	if code != 0 || !strings.Contains(out, "on each of its 2 servers") || !strings.Contains(out, "FLEETSH_NATS_SERVER_NAME") {
		t.Fatalf("init-site: exit %d, %s", code, out)
	}
	conf, err := os.ReadFile(filepath.Join(dir, "nats-server.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`listen: "0.0.0.0:7222"`, `"nats-route://n1.example.org:6222", "nats-route://n2.example.org:6222"`, "server_name: $FLEETSH_NATS_SERVER_NAME"} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("nats-server.conf lacks %s:\n%s", want, conf)
		}
	}
	if code, out := runOut("init-site", filepath.Join(t.TempDir(), "s"), "--cluster-route", "http://x:1"); code != 2 || !strings.Contains(out, "nats-route://HOST:PORT") {
		t.Errorf("bad route: exit %d, %s", code, out)
	}
}

// init-site --leaf writes a leaf server's directory per gateway site and
// points its agents at it; --hub-url and --leaf-listen reach the confs;
// rotate leaf issues the leaf a new key; bad leaves exit 2.
func TestInitSiteLeaves(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "site")
	code, out := runOut("init-site", dir, "--user", "alice", "--host", "hub.example.org", "--url", "tls://hub.example.org:4222",
		"--agent", "gw1:leaf=west", "--agent", "gw2:leaf=east", "--agent", "gw9",
		"--leaf", "west=tls://leaf-west.example.org:4222", "--leaf", "east=tls://leaf-east.example.org:4222",
		"--leaf-listen", "0.0.0.0:7433", "--hub-url", "tls://hub.example.org:7433")
	if code != 0 || !strings.Contains(out, "leaf west: copy "+filepath.Join(dir, "leaves", "west")) {
		t.Fatalf("init-site: exit %d, %s", code, out)
	}
	read := func(parts ...string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(append([]string{dir}, parts...)...))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if hub := read("nats-server.conf"); !strings.Contains(hub, `listen: "0.0.0.0:7433"`) || !strings.Contains(hub, `allowed_connection_types: ["LEAFNODE"]`) {
		t.Errorf("nats-server.conf without the leaf listener and users:\n%s", hub)
	}
	if leaf := read("leaves", "west", "nats-leaf.conf"); !strings.Contains(leaf, `urls: ["tls://hub.example.org:7433"]`) {
		t.Errorf("west's nats-leaf.conf:\n%s", leaf)
	}
	for agent, url := range map[string]string{"gw1": "tls://leaf-west.example.org:4222", "gw2": "tls://leaf-east.example.org:4222", "gw9": "tls://hub.example.org:4222"} {
		if a := read("agents", agent, "agent.yaml"); !strings.Contains(a, "nats: "+url+"\n") {
			t.Errorf("%s's agent.yaml does not connect to %s:\n%s", agent, url, a)
		}
	}
	seed := read("leaves", "east", "leaf-seed.conf")
	if code, out := runOut("site", "rotate", dir, "leaf", "east"); code != 0 || read("leaves", "east", "leaf-seed.conf") == seed {
		t.Errorf("rotate leaf east: exit %d, %s", code, out)
	}
	if code, out := runOut("site", "add-agent", dir, "--agent", "gw3:leaf=west"); code != 0 ||
		!strings.Contains(read("agents", "gw3", "agent.yaml"), "nats: tls://leaf-west.example.org:4222\n") {
		t.Errorf("add-agent gw3:leaf=west: exit %d, %s", code, out)
	}
	for _, bad := range [][]string{
		{"--leaf", "west"},
		{"--leaf", "west=nats://x:1"},
		{"--agent", "gw1:leaf=nowhere"},
		{"--leaf", "west=tls://x.example.org:1", "--hub-url", "tls://other.example.org:7422"},
	} {
		if code, out := runOut(append([]string{"init-site", filepath.Join(t.TempDir(), "s")}, bad...)...); code != 2 {
			t.Errorf("%v: exit %d, %s", bad, code, out)
		}
	}
}

// The init-site command of deploy/README.md, "Many sites", runs as
// written (in a temporary directory), and nats-server parses every conf
// it writes: the cluster's and each leaf's.
func TestDeployManySitesCommand(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "deploy", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Many sites")
	if !ok {
		t.Fatal("deploy/README.md has no section Many sites")
	}
	_, block, ok := strings.Cut(section, "```sh\ncoordinator init-site ")
	if !ok {
		t.Fatal("deploy/README.md, Many sites: no coordinator init-site command")
	}
	block, _, _ = strings.Cut(block, "```")
	args := strings.Fields(strings.ReplaceAll(block, "\\\n", " "))
	if len(args) == 0 || args[0] != "/etc/fleetsh/site" {
		t.Fatalf("the command writes %q, want /etc/fleetsh/site", args)
	}
	dir := filepath.Join(t.TempDir(), "site")
	args[0] = dir
	if code, out := runOut(append([]string{"init-site"}, args...)...); code != 0 {
		t.Fatalf("coordinator init-site %s: exit %d, %s", strings.Join(args, " "), code, out)
	}
	t.Setenv(site.ServerNameEnv, "nats1")
	confs := []string{filepath.Join(dir, site.NATSServerConfFile)}
	for _, leaf := range []string{"west", "east"} {
		confs = append(confs, filepath.Join(dir, site.LeavesDir, leaf, site.LeafConfFile))
	}
	for _, c := range confs {
		if _, err := server.ProcessConfigFile(c); err != nil {
			t.Errorf("nats-server -c %s: %v", c, err)
		}
	}
}
