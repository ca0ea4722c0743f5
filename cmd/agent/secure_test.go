package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth/authtest"
)

func TestBadCredentials(t *testing.T) {
	site := authtest.NewSite(t)
	seed := site.Add(auth.Agent, "gw1")
	open := filepath.Join(site.Dir, "open.nk")
	data, err := os.ReadFile(seed)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(open, data, 0o644); err != nil {
		t.Fatal(err)
	}
	notSeed := filepath.Join(site.Dir, "not.nk")
	if err := os.WriteFile(notSeed, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--creds", seed}, "--id"},
		{[]string{"--id", "gw1", "--creds", filepath.Join(site.Dir, "missing")}, "no such file"},
		{[]string{"--id", "gw1", "--creds", open}, "chmod 600"},
		{[]string{"--id", "gw1", "--creds", notSeed}, "nkey seed"},
		{[]string{"--id", "gw1", "--creds", seed, "--ca", filepath.Join(site.Dir, "missing")}, "site CA"},
	} {
		var logs strings.Builder
		if code := run(append([]string{"--nats", "tls://127.0.0.1:1"}, c.args...), &logs, nil); code != 2 || !strings.Contains(logs.String(), c.want) {
			t.Errorf("%q: exit %d, want 2 and %q\n%s", c.args, code, c.want, logs.String())
		}
	}
}
