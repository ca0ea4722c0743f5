package site

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/conf"

	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// FuzzLoadIdentities feeds the identities-file loader arbitrary bytes: it
// never panics, whatever it accepts passes every check again after a
// round trip, and input over the bound is refused.
func FuzzLoadIdentities(f *testing.F) {
	dir := filepath.Join(f.TempDir(), "site")
	if err := Init(dir, testOptions()); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(dir, IdentitiesFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	f.Add([]byte(`[{"role":"agent","id":"gw1","nkey":"UA","groups":["a"]}]`))
	f.Add([]byte(`[{"role":"admin","id":"x","nkey":"U","name":"n"}] []`))
	f.Add([]byte(`[{"role":"submitter","id":"a","nkey":"U","extra":1}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > MaxIdentitiesFile+1 {
			data = data[:MaxIdentitiesFile+1]
		}
		ids, err := ParseIdentities(data)
		if err != nil {
			return
		}
		if len(data) > MaxIdentitiesFile || len(ids) > MaxIdentities {
			t.Fatalf("accepted %d bytes, %d identities", len(data), len(ids))
		}
		for _, id := range ids {
			if err := id.Validate(); err != nil {
				t.Fatalf("accepted an invalid identity: %v", err)
			}
		}
		b, err := marshalIdentities(ids)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseIdentities(b)
		if err != nil {
			t.Fatalf("round trip refused: %v", err)
		}
		if !slices.EqualFunc(ids, again, func(a, b auth.Identity) bool {
			return a.Role == b.Role && a.ID == b.ID && a.Nkey == b.Nkey && a.Name == b.Name && slices.Equal(a.Groups, b.Groups) && a.Local == b.Local
		}) {
			t.Fatalf("round trip changed %v into %v", ids, again)
		}
	})
}

func TestParseIdentitiesRefuses(t *testing.T) {
	dir := initSite(t, testOptions())
	s := mustLoad(t, dir)
	k := s.Identities[1].Nkey
	for name, c := range map[string]struct{ data, err string }{
		"not an array":   {`{}`, "JSON array"},
		"trailing":       {`[] []`, "after the JSON array"},
		"unknown field":  {`[{"role":"admin","id":"a","nkey":"` + k + `","x":1}]`, `unknown field "x"`},
		"bad role":       {`[{"role":"root","id":"a","nkey":"` + k + `"}]`, `unknown role "root"`},
		"bad id":         {`[{"role":"admin","id":"a.b","nkey":"` + k + `"}]`, `"a.b"`},
		"seed not pub":   {`[{"role":"admin","id":"a","nkey":"SUAB"}]`, "not a public nkey user key"},
		"same key":       {`[{"role":"admin","id":"a","nkey":"` + k + `"},{"role":"agent","id":"b","nkey":"` + k + `"}]`, "same nkey"},
		"user and admin": {`[{"role":"admin","id":"a","nkey":"` + k + `"},{"role":"submitter","id":"a","nkey":"` + s.Identities[2].Nkey + `"}]`, "already used"},
		"user groups":    {`[{"role":"submitter","id":"a","nkey":"` + k + `","groups":["g"]}]`, "only an agent"},
		"admin local":    {`[{"role":"admin","id":"a","nkey":"` + k + `","local":true}]`, "only an agent"},
		"two coordinators": {`[{"role":"coordinator","id":"a","nkey":"` + k + `"},{"role":"coordinator","id":"b","nkey":"` +
			s.Identities[2].Nkey + `"}]`, "second coordinator"},
		"too big": {"[" + strings.Repeat(" ", MaxIdentitiesFile) + "]", "over"},
	} {
		if _, err := ParseIdentities([]byte(c.data)); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: %v, want %q", name, err, c.err)
		}
	}
	// An agent and a user may share an id: their subjects differ.
	ok := `[{"role":"agent","id":"a","nkey":"` + k + `"},{"role":"submitter","id":"a","nkey":"` + s.Identities[2].Nkey + `"}]`
	if _, err := ParseIdentities([]byte(ok)); err != nil {
		t.Error(err)
	}
	// A file over the bound is refused without reading it all.
	big := filepath.Join(t.TempDir(), "ids.json")
	if err := os.WriteFile(big, []byte("["+strings.Repeat(" ", MaxIdentitiesFile)+"]"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadIdentities(big); err == nil || !strings.Contains(err.Error(), "over") {
		t.Errorf("big file: %v", err)
	}
}

// FuzzParseAgentSpec: the --agent syntax never panics, and what it
// accepts is an agent whose identity the identities file accepts.
func FuzzParseAgentSpec(f *testing.F) {
	for _, s := range []string{"gw1", "gw2:name=gw2,groups=compute+gpu", "a:groups=gw[1-2,5]+x,name=y",
		"a:name=]]", "a:groups=[[,", "a:name=b,name=c", ":", "a:=", "a:groups=+"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAgentSpec(s)
		if err != nil {
			return
		}
		ids := []auth.Identity{a.identity("UA7HW2PYHWAIQNRXQR465EGM22WBCQNS2WZSB53VGAX5B3DIHO7UUIXK")}
		if err := checkIdentities(ids); err != nil {
			t.Fatalf("%q accepted as %+v, which the identities file refuses: %v", s, a, err)
		}
	})
}

// FuzzParseLeafSpec: the --leaf syntax never panics, and what it
// accepts names a valid id and a URL that a nats-server conf reads back
// unchanged and whose host a certificate can carry.
func FuzzParseLeafSpec(f *testing.F) {
	for _, s := range []string{"west=tls://leaf-west.example.org:4222", "e=tls://10.1.0.2:1", "w=tls://[::1]:4222",
		"w=tls://a:0", "w=tls://a:1/x", "=tls://a:1", "w", "w=tls://a\"b:1", "w=tls://u@a:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLeafSpec(s)
		if err != nil {
			return
		}
		if err := protocol.ValidID(l.Name); err != nil {
			t.Fatalf("%q accepted with name %q: %v", s, l.Name, err)
		}
		m, err := conf.Parse("url: " + confString(l.URL))
		if err != nil || m["url"] != l.URL {
			t.Fatalf("%q: url %q reads back as %v (%v)", s, l.URL, m["url"], err)
		}
		u, err := url.Parse(l.URL)
		if err != nil {
			t.Fatal(err)
		}
		if h := u.Hostname(); net.ParseIP(h) == nil && checkHost(h) != nil {
			t.Fatalf("%q accepted with host %q, not a certificate name", s, h)
		}
	})
}

// FuzzParseClientConfig: a fleet.yaml never panics the loader, and what
// it accepts has a valid user id and absolute paths.
func FuzzParseClientConfig(f *testing.F) {
	f.Add([]byte("url: tls://localhost:4222\nuser: alice\ncreds: user.seed\nca: ca.crt\n"))
	f.Add([]byte("url: tls://h:1\nuser: a\ncreds: /x\nca: /y\nextra: 1\n"))
	f.Add([]byte("&a [*a, *a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseClientConfig(data, "/etc/fleetsh")
		if err != nil {
			return
		}
		if protocol.ValidID(c.User) != nil || !filepath.IsAbs(c.Creds) || !filepath.IsAbs(c.CA) {
			t.Fatalf("accepted %+v", c)
		}
	})
}
