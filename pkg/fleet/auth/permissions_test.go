package auth_test

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth/authtest"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// docs/SECURITY.md's role table is the one the code enforces.
func TestRoleTableInSecurityDoc(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/SECURITY.md")
	if err != nil {
		t.Fatal(err)
	}
	want := auth.RoleTable(protocol.Subjects{})
	if !strings.Contains(string(doc), want) {
		t.Errorf("docs/SECURITY.md does not hold the role table the code enforces; put this in it:\n%s", want)
	}
}

// Each role may publish and subscribe to exactly its own subjects: what
// it may do reaches the coordinator, what it may not is refused by the
// server.
func TestPermissionsEnforced(t *testing.T) {
	site := authtest.NewSite(t)
	subj := protocol.Subjects{Prefix: "t"}
	coSeed := site.Add(auth.Coordinator, "coord")
	aliceSeed := site.Add(auth.Submitter, "alice")
	gw1Seed := site.Add(auth.Agent, "gw1")
	_, url := secureServer(t, site, subj)

	co := mustDial(t, url, subj, auth.Identity{Role: auth.Coordinator, ID: "coord"}, site.Creds(coSeed))
	all, err := co.nc.SubscribeSync("t.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := co.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	alice := mustDial(t, url, subj, auth.Identity{Role: auth.Submitter, ID: "alice"}, site.Creds(aliceSeed))
	gw1 := mustDial(t, url, subj, auth.Identity{Role: auth.Agent, ID: "gw1"}, site.Creds(gw1Seed))

	// allowed publishes arrive, in order, after the refused ones: so a
	// refused message would have arrived before the next allowed one.
	for _, c := range []struct {
		who     *conn
		allowed string
		denied  []string
	}{
		{alice, "t.submit.alice", []string{"t.submit.bob", "t.jobs.bob", "t.register.alice", "t.agent.gw1",
			"t.ctl.gw1", "t.ev.gw1.j1", "t.done.gw1.j1", "t.out.alice.j1", "$JS.API.INFO", "t.inbox.u.bob.x"}},
		{alice, "t.outack.alice.j1", []string{"t.outack.bob.j1", "t.in.bob.j1", "t.hb.gw1"}},
		{gw1, "t.hb.gw1", []string{"t.hb.gw2", "t.register.gw2", "t.ev.gw2.j1", "t.done.gw2.j1", "t.submit.gw1",
			"t.agent.gw2", "t.ctl.gw1", "t.out.alice.j1", "$SYS.REQ.SERVER.PING"}},
		{gw1, "t.ev.gw1.j1", nil},
	} {
		for _, d := range c.denied {
			c.who.pubDenied(d)
		}
		if err := c.who.nc.Publish(c.allowed, []byte("ok")); err != nil {
			t.Fatal(err)
		}
		m, err := all.NextMsg(wait)
		if err != nil {
			t.Fatalf("%s: %v", c.allowed, err)
		}
		if m.Subject != c.allowed {
			t.Fatalf("the coordinator got %s, want %s", m.Subject, c.allowed)
		}
	}
	for _, s := range []string{"t.>", "t.out.bob.j1", "t.out.*.j1", "t.inbox.u.bob.>", "_INBOX.>", "t.agent.gw1", "$JS.>"} {
		alice.subDenied(s)
	}
	for _, s := range []string{"t.>", "t.agent.gw2", "t.ctl.*", "t.out.alice.>", "t.inbox.a.gw2.>", "t.submit.*"} {
		gw1.subDenied(s)
	}
}

// Without a credential, or with one the site did not make, nobody
// connects to a secure server.
func TestAttackNoCredential(t *testing.T) {
	site := authtest.NewSite(t)
	subj := protocol.Subjects{}
	aliceSeed := site.Add(auth.Submitter, "alice")
	_, url := secureServer(t, site, subj)
	alice := auth.Identity{Role: auth.Submitter, ID: "alice"}

	stranger := authtest.NewSite(t)
	strangerSeed := stranger.Add(auth.Submitter, "alice")
	for _, c := range []struct {
		name  string
		url   string
		creds auth.Credentials
		want  string
	}{
		{"no credential", url, auth.Credentials{CA: site.CA}, "authorization"},
		{"unknown key", url, auth.Credentials{Seed: strangerSeed, CA: site.CA}, "authorization"},
	} {
		_, err := dial(t, c.url, subj, alice, c.creds)
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), c.want) {
			t.Errorf("%s: %v, want an error about %s", c.name, err, c.want)
		} else {
			t.Logf("%s: %v", c.name, err)
		}
	}
	if _, err := dial(t, url, subj, alice, site.Creds(aliceSeed)); err != nil {
		t.Fatalf("the right credential: %v", err)
	}
}

// A client that trusts another CA than the site's refuses the server
// (as it would a man in the middle): it never sends its credential.
func TestAttackWrongCA(t *testing.T) {
	site := authtest.NewSite(t)
	aliceSeed := site.Add(auth.Submitter, "alice")
	_, url := secureServer(t, site, protocol.Subjects{})
	alice := auth.Identity{Role: auth.Submitter, ID: "alice"}
	_, err := dial(t, url, protocol.Subjects{}, alice, auth.Credentials{Seed: aliceSeed, CA: site.OtherCA()})
	var uerr x509.UnknownAuthorityError
	if !errors.As(err, &uerr) {
		t.Fatalf("%v, want x509.UnknownAuthorityError", err)
	}
}

// A plaintext client of a TLS-only server gets nothing but the server's
// INFO (which says TLS is required): its CONNECT and PING are read as a
// bad TLS handshake and the connection is closed, with no PONG.
func TestAttackPlaintextClient(t *testing.T) {
	site := authtest.NewSite(t)
	site.Add(auth.Submitter, "alice")
	_, url := secureServer(t, site, protocol.Subjects{})
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "tls://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Only against a hang: the server closes the connection at once.
	_ = conn.SetDeadline(time.Now().Add(wait))
	r := bufio.NewReader(conn)
	info, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(info, "INFO ") || !strings.Contains(info, `"tls_required":true`) {
		t.Fatalf("first line %q, want an INFO requiring TLS", info)
	}
	if _, err := conn.Write([]byte("CONNECT {\"verbose\":true}\r\nPING\r\nSUB fleet.> 1\r\n")); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(r)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server kept the plaintext connection open; it sent %q", rest)
	}
	if bytes.Contains(rest, []byte("PONG")) || bytes.Contains(rest, []byte("+OK")) {
		t.Fatalf("the server answered a plaintext client: %q", rest)
	}
}
