package site

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/internal/natstest"
)

// startNATS starts a real NATS server on loopback with the site's server
// certificate and one nkey user per identity: what the coordinator's
// embedded broker does with these files.
func startNATS(t *testing.T, s *Site) *server.Server {
	t.Helper()
	tlsConf, err := ServerTLS(filepath.Join(s.Dir, ServerCertFile), filepath.Join(s.Dir, ServerKeyFile), filepath.Join(s.Dir, CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	opts := &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true,
		TLSConfig: tlsConf, TLS: true, TLSTimeout: 5, AuthTimeout: 5}
	for _, id := range s.Identities {
		opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: id.Nkey})
	}
	return runServer(t, opts)
}

// runServer starts a NATS server with opts, shut down at test end
// (natstest.RunOptions: a server that cannot start says why at once).
func runServer(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	srv, err := natstest.RunOptions(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

func connect(url string, opts ...nats.Option) error {
	nc, err := nats.Connect(url, append(opts, nats.MaxReconnects(0), nats.Timeout(5*time.Second))...)
	if err != nil {
		return err
	}
	defer nc.Close()
	return nc.Flush()
}

// TestNATSWithSiteCredentials: each holder's directory (its fleet.yaml or
// agent seed, and its copy of the CA) is enough to connect; a plaintext
// client, a client trusting another CA and a key the site does not know
// are refused.
func TestNATSWithSiteCredentials(t *testing.T) {
	dir := initSite(t, testOptions())
	s := mustLoad(t, dir)
	srv := startNATS(t, s)
	url := natsURL(srv)

	c, err := LoadClientConfig(filepath.Join(dir, UsersDir, "alice", ClientConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	cli, err := ClientTLS(c.CA)
	if err != nil {
		t.Fatal(err)
	}
	user, err := nats.NkeyOptionFromSeed(c.Creds)
	if err != nil {
		t.Fatal(err)
	}
	if err := connect(url, nats.Secure(cli), user); err != nil {
		t.Errorf("alice with her files: %v", err)
	}
	agent, err := nats.NkeyOptionFromSeed(filepath.Join(dir, AgentsDir, "gw2", AgentSeedFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := connect(url, nats.RootCAs(filepath.Join(dir, AgentsDir, "gw2", CACertFile)), agent); err != nil {
		t.Errorf("gw2 with its files: %v", err)
	}

	// Plaintext: the server insists on TLS. (nats.go upgrades a nats://
	// URL when the server says so, so speak the protocol by hand.)
	if reply := plaintext(t, srv); strings.Contains(reply, "PONG") {
		t.Errorf("a plaintext client got %q", reply)
	}
	// Another site's CA: the client refuses the server.
	other := initSite(t, InitOptions{})
	if err := connect(url, nats.RootCAs(filepath.Join(other, CACertFile)), user); err == nil ||
		!strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client trusting another CA: %v", err)
	}
	// Another site's key: the server refuses the user.
	stranger, err := nats.NkeyOptionFromSeed(filepath.Join(other, CoordinatorSeedFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := connect(url, nats.Secure(cli), stranger); err == nil || !strings.Contains(err.Error(), "Authorization") {
		t.Errorf("a key the site does not know: %v", err)
	}
	// No credential at all.
	if err := connect(url, nats.Secure(cli)); err == nil {
		t.Error("a client without a key connected")
	}
	// After rotation (and the restart that makes the coordinator read
	// identities.json again) the old key is refused, the new one accepted.
	old, err := ReadSeed(c.Creds)
	if err != nil {
		t.Fatal(err)
	}
	oldPub, _ := old.PublicKey()
	if err := RotateUser(dir, "alice"); err != nil {
		t.Fatal(err)
	}
	s = mustLoad(t, dir)
	srv.Shutdown()
	url = natsURL(startNATS(t, s))
	if err := connect(url, nats.Secure(cli), nats.Nkey(oldPub, old.Sign)); err == nil {
		t.Error("alice's old key still connects")
	}
	if user, err = nats.NkeyOptionFromSeed(c.Creds); err != nil {
		t.Fatal(err)
	}
	if err := connect(url, nats.Secure(cli), user); err != nil {
		t.Errorf("alice's new key: %v", err)
	}
}

// plaintext connects to srv without TLS, says CONNECT and PING, and
// returns what the server answered until it closed the connection.
func plaintext(t *testing.T, srv *server.Server) string {
	t.Helper()
	c, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	info := make([]byte, 4096)
	n, err := c.Read(info)
	if err != nil || !strings.Contains(string(info[:n]), `"tls_required":true`) {
		t.Errorf("INFO %q, %v: want tls_required", info[:n], err)
	}
	if _, err := c.Write([]byte("CONNECT {\"verbose\":false}\r\nPING\r\n")); err != nil {
		return err.Error()
	}
	if err := c.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	reply, _ := io.ReadAll(c)
	return string(reply)
}

// natsURL is the TLS URL of srv by the name its certificate carries.
func natsURL(srv *server.Server) string {
	return fmt.Sprintf("tls://localhost:%d", srv.Addr().(*net.TCPAddr).Port)
}
