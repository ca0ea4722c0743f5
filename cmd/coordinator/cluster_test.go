package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
