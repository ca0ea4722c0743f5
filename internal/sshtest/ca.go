package sshtest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"time"

	"golang.org/x/crypto/ssh"
)

// HostCA is a certificate authority for host keys, as "ssh-keygen -s ca
// -h" is: give a server the signer of HostCert as its Config.HostKey and
// the client the CA's @cert-authority line.
type HostCA struct {
	// Signer signs certificates with the CA's private key.
	Signer ssh.Signer
}

// NewHostCA makes a CA with a new ed25519 key.
func NewHostCA() (*HostCA, error) {
	k, err := GenerateClientKey() // any ed25519 key pair will do
	if err != nil {
		return nil, err
	}
	return &HostCA{Signer: k.Signer}, nil
}

// KnownHostsLine is the "@cert-authority patterns key" line trusting the
// CA for the hosts patterns names (as in known_hosts: "*",
// "[127.0.0.1]:2222,node*").
func (ca *HostCA) KnownHostsLine(patterns string) string {
	return "@cert-authority " + patterns + " " + string(bytes.TrimSpace(ssh.MarshalAuthorizedKey(ca.Signer.PublicKey())))
}

// HostCert describes a certificate HostCA signs.
type HostCert struct {
	// Principals are the host names the certificate is valid for.
	Principals []string
	// ValidAfter and ValidBefore bound its validity; zero values mean
	// from the beginning and forever.
	ValidAfter, ValidBefore time.Time
	// UserCert makes a user certificate instead (which no client may
	// accept as a host key).
	UserCert bool
	// Serial and KeyID are recorded in the certificate.
	Serial uint64
	KeyID  string
}

// Certified is a host key and the certificate the CA gave it.
type Certified struct {
	// Signer presents the certificate (a server's Config.HostKey).
	Signer ssh.Signer
	// Cert is the certificate; Cert.Key the plain host key.
	Cert *ssh.Certificate
	// Private is the host's private key.
	Private ed25519.PrivateKey
}

// Sign makes a new ed25519 host key and certifies it as c says.
func (ca *HostCA) Sign(c HostCert) (*Certified, error) {
	host, err := GenerateClientKey() // any ed25519 key pair will do
	if err != nil {
		return nil, err
	}
	cert := &ssh.Certificate{
		Key:             host.PublicKey(),
		Serial:          c.Serial,
		CertType:        ssh.HostCert,
		KeyId:           c.KeyID,
		ValidPrincipals: c.Principals,
		ValidBefore:     ssh.CertTimeInfinity,
	}
	if c.UserCert {
		cert.CertType = ssh.UserCert
	}
	if !c.ValidAfter.IsZero() {
		cert.ValidAfter = uint64(c.ValidAfter.Unix())
	}
	if !c.ValidBefore.IsZero() {
		cert.ValidBefore = uint64(c.ValidBefore.Unix())
	}
	if err := cert.SignCert(rand.Reader, ca.Signer); err != nil {
		return nil, fmt.Errorf("sshtest: sign host certificate: %w", err)
	}
	signer, err := ssh.NewCertSigner(cert, host.Signer)
	if err != nil {
		return nil, fmt.Errorf("sshtest: certificate signer: %w", err)
	}
	return &Certified{Signer: signer, Cert: cert, Private: host.Private}, nil
}

// PlainKnownHostsLine is a known_hosts line for the certificate's plain
// key under name.
func (c *Certified) PlainKnownHostsLine(name string) string {
	return name + " " + string(bytes.TrimSpace(ssh.MarshalAuthorizedKey(c.Cert.Key)))
}

// WriteFiles writes the host key to path (0600, OpenSSH format), its
// public key to path+".pub" and the certificate to path+"-cert.pub", the
// files sshd's HostKey and HostCertificate name.
func (c *Certified) WriteFiles(path string) error {
	block, err := ssh.MarshalPrivateKey(c.Private, "sshtest host")
	if err != nil {
		return fmt.Errorf("sshtest: marshal host key: %w", err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return fmt.Errorf("sshtest: %w", err)
	}
	if err := os.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(c.Cert.Key), 0o644); err != nil {
		return fmt.Errorf("sshtest: %w", err)
	}
	if err := os.WriteFile(path+"-cert.pub", ssh.MarshalAuthorizedKey(c.Cert), 0o644); err != nil {
		return fmt.Errorf("sshtest: %w", err)
	}
	return nil
}
