package site

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestServerCertVerifiesForEachSAN(t *testing.T) {
	dir := initSite(t, testOptions())
	s := mustLoad(t, dir)
	leaf := s.Server.Leaf
	for _, name := range []string{"localhost", "127.0.0.1", "::1", "coord.example.org", "10.0.0.5"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: s.CAPool}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, name := range []string{"other.example.org", "10.0.0.6", "coord"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: s.CAPool}); err == nil {
			t.Errorf("%s: verified, but it is no SAN", name)
		}
	}
	if !s.CA.IsCA || s.CA.NotAfter.Sub(s.CA.NotBefore) < CAValidity {
		t.Errorf("CA: IsCA %v, valid %v", s.CA.IsCA, s.CA.NotAfter.Sub(s.CA.NotBefore))
	}
	if d := leaf.NotAfter.Sub(leaf.NotBefore); d < ServerValidity || d > ServerValidity+2*backdate {
		t.Errorf("server certificate valid %v", d)
	}
	// Another site's CA does not vouch for this server.
	other, err := Load(initSite(t, InitOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "localhost", Roots: other.CAPool}); err == nil {
		t.Error("verified against another site's CA")
	}
}

// handshake runs one TLS handshake between a server with srv and a client
// with cli over loopback TCP, and returns the client's error.
func handshake(t *testing.T, srv, cli *tls.Config) error {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		served <- c.(*tls.Conn).Handshake()
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), cli)
	if err == nil {
		c.Close()
	}
	<-served
	return err
}

func TestTLSHandshake(t *testing.T) {
	dir := initSite(t, testOptions())
	srv, err := ServerTLS(filepath.Join(dir, ServerCertFile), filepath.Join(dir, ServerKeyFile), filepath.Join(dir, CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"localhost", "127.0.0.1", "coord.example.org", "10.0.0.5"} {
		cli, err := ClientTLS(filepath.Join(dir, AgentsDir, "gw1", CACertFile))
		if err != nil {
			t.Fatal(err)
		}
		cli.ServerName = name
		if err := handshake(t, srv, cli); err != nil {
			t.Errorf("server name %s: %v", name, err)
		}
	}
	// A client that trusts another CA refuses the server.
	otherDir := initSite(t, InitOptions{})
	cli, err := ClientTLS(filepath.Join(otherDir, CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	cli.ServerName = "localhost"
	err = handshake(t, srv, cli)
	var ua x509.UnknownAuthorityError
	if !errors.As(err, &ua) {
		t.Errorf("client with another CA: %v, want an unknown authority error", err)
	}
	// A name the certificate does not carry is refused too.
	cli, _ = ClientTLS(filepath.Join(dir, CACertFile))
	cli.ServerName = "other.example.org"
	var hn x509.HostnameError
	if err := handshake(t, srv, cli); !errors.As(err, &hn) {
		t.Errorf("wrong server name: %v, want a hostname error", err)
	}
}

func TestCertExpiry(t *testing.T) {
	// Issued long ago: the server certificate ends in 10 days.
	opts := testOptions()
	opts.now = time.Now().Add(-ServerValidity + 10*24*time.Hour)
	dir := initSite(t, opts)
	s := mustLoad(t, dir)
	if len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "rotate DIR server-cert") {
		t.Errorf("warnings %q, want one about the server certificate", s.Warnings)
	}
	// Past its end: refused, by Load and by ServerTLS.
	opts.now = time.Now().Add(-ServerValidity - time.Hour)
	dir = initSite(t, opts)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("Load with an expired server certificate: %v", err)
	}
	if _, err := ServerTLS(filepath.Join(dir, ServerCertFile), filepath.Join(dir, ServerKeyFile), filepath.Join(dir, CACertFile)); err == nil {
		t.Error("ServerTLS accepted an expired certificate")
	}
	// Rotation makes it good again, with the same names.
	if err := RotateServerCert(dir, nil, nil); err != nil {
		t.Fatal(err)
	}
	s = mustLoad(t, dir)
	if len(s.Warnings) != 0 {
		t.Errorf("after rotation: %q", s.Warnings)
	}
	if _, err := s.Server.Leaf.Verify(x509.VerifyOptions{DNSName: "coord.example.org", Roots: s.CAPool}); err != nil {
		t.Error(err)
	}
}

func TestServerKeyMismatch(t *testing.T) {
	a, b := initSite(t, InitOptions{}), initSite(t, InitOptions{})
	_, err := ServerTLS(filepath.Join(a, ServerCertFile), filepath.Join(b, ServerKeyFile), filepath.Join(a, CACertFile))
	if err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("a certificate with another's key: %v", err)
	}
	_, err = ServerTLS(filepath.Join(a, ServerCertFile), filepath.Join(a, ServerKeyFile), filepath.Join(b, CACertFile))
	if err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("a certificate against another CA: %v", err)
	}
}
