package broker

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth/authtest"
)

// Beyond loopback, identities and TLS are both needed (or --insecure).
func TestBeyondLoopbackNeedsTLSAndIdentities(t *testing.T) {
	site := authtest.NewSite(t)
	site.Add(auth.Submitter, "alice")
	const far = "192.0.2.1:0" // TEST-NET-1: no address of this machine
	for _, c := range []struct {
		name string
		cfg  Config
		want bool // refused as not loopback
	}{
		{"identities only", Config{Listen: far, Identities: site.Identities}, true},
		{"tls only", Config{Listen: far, TLSCert: site.Cert, TLSKey: site.Key}, true},
		{"both", Config{Listen: far, Identities: site.Identities, TLSCert: site.Cert, TLSKey: site.Key}, false},
	} {
		s, err := Start(c.cfg)
		if err == nil {
			s.Shutdown()
			t.Fatalf("%s: listening on %s", c.name, far)
		}
		if errors.Is(err, ErrNotLoopback) != c.want {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// On loopback, identities without TLS authenticate: no anonymous client,
// and the in-process key works in process only.
func TestLoopbackIdentitiesWithoutTLS(t *testing.T) {
	site := authtest.NewSite(t)
	seed := site.Add(auth.Submitter, "alice")
	inProc, pub := testutil.UserKey(t)
	s, err := Start(Config{Listen: "127.0.0.1:0", Identities: site.Identities, InProcessKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	url := "nats://" + Addr(s)
	if nc, err := nats.Connect(url); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("anonymous: %v", err)
	}
	if nc, err := nats.Connect(url, nats.Nkey(pub, inProc.Sign)); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("the in-process key over TCP: %v", err)
	}
	nc, err := nats.Connect("", nats.InProcessServer(s), nats.Nkey(pub, inProc.Sign))
	if err != nil {
		t.Fatalf("the in-process key in process: %v", err)
	}
	nc.Close()
	opt, err := nats.NkeyOptionFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	nc, err = nats.Connect(url, opt)
	if err != nil {
		t.Fatalf("alice: %v", err)
	}
	nc.Close()
}

func TestBadSecuritySettings(t *testing.T) {
	site := authtest.NewSite(t)
	site.Add(auth.Agent, "gw1")
	missing := filepath.Join(t.TempDir(), "missing.pem")
	for name, cfg := range map[string]Config{
		"missing cert":     {TLSCert: missing, TLSKey: site.Key},
		"cert without key": {TLSCert: site.Cert},
		"CA alone":         {TLSCA: site.CA},
		"bad identity":     {Identities: []auth.Identity{{Role: "root", ID: "x", Nkey: "U"}}},
		"shared key":       {Identities: append(site.Identities, auth.Identity{Role: auth.Agent, ID: "gw2", Nkey: site.Identities[0].Nkey})},
		"in-process alone": {InProcessKey: site.Identities[0].Nkey},
	} {
		s, err := Start(cfg)
		if err == nil {
			s.Shutdown()
		}
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}
