package csub

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth/authtest"
)

func TestResolveFleetAuth(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(home, ".config", "fleetsh")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(path, content string) string {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	def := write(filepath.Join(dir, "fleet.yaml"), "url: tls://127.0.0.1:4222\nuser: alice\ncreds: alice.nk\nca: /site/ca.pem\n")
	other := write(filepath.Join(home, "other.yaml"), "url: tls://h:1\nuser: bob\ncreds: /b/bob.nk\nca: /b/ca.pem\n")
	noUser := write(filepath.Join(home, "nouser.yaml"), "url: tls://h:1\ncreds: x.nk\nca: ca.pem\n")
	typo := write(filepath.Join(home, "typo.yaml"), "url: tls://h:1\nusr: bob\n")
	for _, c := range []struct {
		name string
		vars map[string]string
		s    settings
		want fleetAuth
		err  string
	}{
		{name: "default config", vars: map[string]string{"HOME": home},
			want: fleetAuth{user: "alice", config: def}},
		{name: "named config", vars: map[string]string{"HOME": home, envFleetConfig: other},
			want: fleetAuth{user: "bob", config: other}},
		{name: "flags win", vars: map[string]string{"HOME": home, envFleetConfig: other}, s: settings{fleetCA: "/mine.pem"},
			want: fleetAuth{user: "bob", config: other}},
		{name: "creds flag without a named config", vars: map[string]string{"HOME": home}, s: settings{fleetCreds: "/c.nk"},
			want: fleetAuth{}},
		{name: "no config", vars: map[string]string{"HOME": t.TempDir()}, want: fleetAuth{}},
		{name: "named config missing", vars: map[string]string{envFleetConfig: filepath.Join(home, "none.yaml")}, err: "no such file"},
		{name: "no user", vars: map[string]string{envFleetConfig: noUser}, err: "user"},
		{name: "unknown key", vars: map[string]string{envFleetConfig: typo}, err: "usr"},
	} {
		env := &environ{getenv: func(k string) string { return c.vars[k] }}
		got, err := resolveFleetAuth(&c.s, env)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: %v, want %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got.user != c.want.user || got.config != c.want.config {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	env := &environ{getenv: func(k string) string { return map[string]string{"HOME": home}[k] }}
	got, _ := resolveFleetAuth(&settings{fleetCA: "/mine.pem"}, env)
	if got.creds.Seed != filepath.Join(dir, "alice.nk") || got.creds.CA != "/mine.pem" {
		t.Errorf("creds %+v: want the seed beside fleet.yaml and the --fleet-ca file", got.creds)
	}
}

// An explicit fleet.yaml names the fleet when nothing else does; the
// default one does not (csub then runs its own fleet).
func TestFleetConfigNamesTheFleet(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "nats://" + l.Addr().String()
	l.Close() // nothing listens there now
	site := authtest.NewSite(t)
	seed := site.Add(auth.Submitter, "alice")
	conf := filepath.Join(site.Dir, "fleet.yaml")
	if err := os.WriteFile(conf, []byte("url: "+url+"\nuser: alice\ncreds: "+seed+"\nca: ca.pem\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb testutil.SyncBuffer
	rc := runCSub(t, map[string]string{envFleetConfig: conf}, nil, &out, &errb, "-w", "n1", "true")
	if rc != 1 || !strings.HasPrefix(errb.String(), "csub: cannot connect to the fleet at "+url+": ") {
		t.Fatalf("rc %d, stderr %q", rc, errb.String())
	}
	if err := os.WriteFile(conf, []byte("url: "+url+"\nusr: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	errb = testutil.SyncBuffer{}
	if rc := runCSub(t, map[string]string{envFleetConfig: conf}, nil, &out, &errb, "-w", "n1", "true"); rc == 0 ||
		!strings.Contains(errb.String(), "usr") {
		t.Fatalf("rc %d, stderr %q", rc, errb.String())
	}
}
