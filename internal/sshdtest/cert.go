package sshdtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"testing"

	"golang.org/x/crypto/ssh"
)

// StartCertified is StartWith for a server that presents a host
// certificate valid for principals, signed by a new certificate authority,
// with KnownHosts trusting that authority alone: its only line is
// "@cert-authority [127.0.0.1]:port key", so a client accepts the server
// only through the certificate (the plain host key is not listed).
//
// The CA is made here rather than with internal/sshtest.NewHostCA because
// sshtest's own tests import this package.
func StartCertified(t testing.TB, principals ...string) *Server {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	var ca ssh.Signer
	if err == nil {
		ca, err = ssh.NewSignerFromKey(priv)
	}
	if err != nil {
		t.Fatalf("sshdtest: host CA: %v", err)
	}
	s := StartWith(t, Options{HostCA: ca, HostPrincipals: principals})
	line := fmt.Sprintf("@cert-authority [127.0.0.1]:%d %s", s.Port, ssh.MarshalAuthorizedKey(ca.PublicKey()))
	if err := os.WriteFile(s.KnownHosts, []byte(line), 0o600); err != nil {
		t.Fatalf("sshdtest: %v", err)
	}
	return s
}
