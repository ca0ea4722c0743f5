package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/pkg/fleet/site"
)

// runOut runs the command and returns its exit status and stderr.
func runOut(args ...string) (int, string) {
	var b bytes.Buffer
	code := run(args, &b, nil)
	return code, b.String()
}

func TestInitSite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "site")
	args := []string{"init-site", dir, "--user", "alice", "--user", "bob", "--admin", "root",
		"--agent", "gw1", "--agent", "gw2:name=gw2,groups=compute+gpu",
		"--host", "coord.example.org", "--ip", "10.0.0.5", "--url", "tls://coord.example.org:4222"}
	if code, out := runOut(args...); code != 0 || !strings.Contains(out, "coordinator --config "+filepath.Join(dir, "coordinator.yaml")) ||
		!strings.Contains(out, "nats-server -c "+filepath.Join(dir, "nats-server.conf")) {
		t.Fatalf("init-site: exit %d, %s", code, out)
	}
	s, err := site.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Identities) != 6 || s.Identities[5].Name != "gw2" || strings.Join(s.Identities[5].Groups, "+") != "compute+gpu" {
		t.Errorf("identities %+v", s.Identities)
	}
	// Flags before DIR work too.
	if code, out := runOut("init-site", "--user", "x", filepath.Join(t.TempDir(), "s2")); code != 0 {
		t.Errorf("flags before DIR: exit %d, %s", code, out)
	}
	// Again: refused, exit 2, until --force.
	if code, out := runOut(args...); code != 2 || !strings.Contains(out, "--force") {
		t.Errorf("init-site over a site: exit %d, %s", code, out)
	}
	if code, out := runOut(append(args, "--force")...); code != 0 {
		t.Errorf("init-site --force: exit %d, %s", code, out)
	}

	for _, c := range []struct {
		args []string
		want int
		says string
	}{
		{[]string{"site", "add-user", dir, "--user", "carol", "--admin", "dave"}, 0, "done"},
		{[]string{"site", "add-agent", dir, "--agent", "gw3:groups=gw[1-2,5]"}, 0, "done"},
		{[]string{"site", "rotate", dir, "user", "alice"}, 0, "restart the coordinator"},
		{[]string{"site", "rotate", dir, "agent", "gw3"}, 0, "done"},
		{[]string{"site", "rotate", dir, "coordinator"}, 0, "done"},
		{[]string{"site", "rotate", dir, "server-cert", "--host", "coord2.example.org"}, 0, "done"},
		{[]string{"site", "add-user", dir, "--user", "erin"}, 0, "done"},
		{[]string{"site", "remove", dir, "user", "erin"}, 0, "done"},
		{[]string{"site", "remove", dir, "user", "erin"}, 2, `user "erin": not in the site`},
		{[]string{"site", "remove", dir, "agent"}, 2, "want DIR and one of: user ID, agent ID"},
		{[]string{"site", "add-user", dir, "--user", "alice"}, 2, `user "alice": already in the site`},
		{[]string{"site", "add-user", dir}, 2, "want DIR and --user or --admin"},
		{[]string{"site", "add-agent", dir, "--agent", "gw.4"}, 2, `"gw.4"`},
		{[]string{"site", "rotate", dir, "user", "mallory"}, 2, `"mallory": not in the site`},
		{[]string{"site", "rotate", dir, "user"}, 2, "want DIR and one of"},
		{[]string{"site", "rotate", dir, "everything"}, 2, "want DIR and one of"},
		{[]string{"site", "rotate", dir, "user", "alice", "--host", "x"}, 2, "server-cert only"},
		{[]string{"site", "rotate", t.TempDir(), "coordinator"}, 2, "is it a site?"},
		{[]string{"site", "rename", dir}, 2, `unknown verb "rename"`},
		{[]string{"site"}, 2, "Usage:"},
		{[]string{"site", "--help"}, 0, "init-site DIR"},
		{[]string{"init-site"}, 2, "want one site directory"},
		{[]string{"init-site", "a", "b"}, 2, "want one site directory"},
		{[]string{"init-site", filepath.Join(t.TempDir(), "s"), "--user", "al ice"}, 2, `"al ice"`},
		{[]string{"init-site", filepath.Join(t.TempDir(), "s"), "--agent", "gw1:nmae=x"}, 2, `unknown key "nmae"`},
		{[]string{"init-site", filepath.Join(t.TempDir(), "s"), "--url", "nats://localhost:4222"}, 2, "want tls://"},
		{[]string{"init-site", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"init-site", "--help"}, 0, "Flags of init-site"},
		{[]string{"--help"}, 0, "coordinator init-site DIR"},
	} {
		code, out := runOut(c.args...)
		if code != c.want || !strings.Contains(out, c.says) {
			t.Errorf("%q: exit %d, want %d; output %q should say %q", c.args, code, c.want, out, c.says)
		}
	}
	if _, err := site.Load(dir); err != nil {
		t.Errorf("after the verbs: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "agents", "gw3", "agent.seed")); err != nil {
		t.Error(err)
	}
}
