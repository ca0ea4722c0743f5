// Package authtest makes the credentials of a test fleet: a site CA, a
// server certificate for 127.0.0.1, and nkey seed files per identity,
// all under the test's temporary directory.
package authtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
)

// Site is a test site's files.
type Site struct {
	t testing.TB
	// Dir holds the files.
	Dir string
	// CA is the PEM file of the site CA; Cert and Key the server's.
	CA, Cert, Key string
	// Identities are the identities made so far.
	Identities []auth.Identity
}

// NewSite makes a CA and a server certificate for 127.0.0.1 and
// localhost in a temporary directory.
func NewSite(t testing.TB) *Site {
	t.Helper()
	s := &Site{t: t, Dir: t.TempDir()}
	var caCert *x509.Certificate
	var caKey *ecdsa.PrivateKey
	s.CA, caCert, caKey = s.ca("ca", "fleetsh test CA")
	key := s.key()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "fleetsh test server"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	s.Cert = s.write("server.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	s.Key = s.write("server-key.pem", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
	return s
}

// OtherCA makes another CA, which signed nothing the site's server
// shows, and returns its PEM file.
func (s *Site) OtherCA() string {
	p, _, _ := s.ca("other-ca", "another CA")
	return p
}

// Add makes a credential for role and id (an agent's gateway name is
// its id) and returns its seed file.
func (s *Site) Add(role auth.Role, id string) string {
	s.t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		s.t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	ident := auth.Identity{Role: role, ID: id, Nkey: pub}
	if role == auth.Agent {
		ident.Name = id
	}
	s.Identities = append(s.Identities, ident)
	return s.write(seedName(role, id), seed)
}

// SeedFile is the seed file Add made for role and id.
func (s *Site) SeedFile(role auth.Role, id string) string {
	return filepath.Join(s.Dir, seedName(role, id))
}

func seedName(role auth.Role, id string) string { return string(role) + "-" + id + ".nk" }

// Creds returns the credentials of the seed file (and the site CA).
func (s *Site) Creds(seed string) auth.Credentials { return auth.Credentials{Seed: seed, CA: s.CA} }

func (s *Site) write(name string, data []byte) string {
	s.t.Helper()
	p := filepath.Join(s.Dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		s.t.Fatal(err)
	}
	return p
}

func (s *Site) key() *ecdsa.PrivateKey {
	s.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		s.t.Fatal(err)
	}
	return key
}

func (s *Site) ca(name, cn string) (string, *x509.Certificate, *ecdsa.PrivateKey) {
	s.t.Helper()
	key := s.key()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		s.t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		s.t.Fatal(err)
	}
	return s.write(name+".pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), cert, key
}
