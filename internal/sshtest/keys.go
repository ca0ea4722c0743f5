package sshtest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"

	"golang.org/x/crypto/ssh"
)

// ClientKey is a client key pair for tests.
type ClientKey struct {
	// Signer signs with the private key.
	Signer ssh.Signer
	// Private is the ed25519 private key.
	Private ed25519.PrivateKey
}

// GenerateClientKey makes a new ed25519 client key pair.
func GenerateClientKey() (*ClientKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sshtest: generate client key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("sshtest: client key signer: %w", err)
	}
	return &ClientKey{Signer: signer, Private: priv}, nil
}

// PublicKey is the key's public half.
func (k *ClientKey) PublicKey() ssh.PublicKey { return k.Signer.PublicKey() }

// AuthorizedKey is the public key as an authorized_keys (and .pub) line,
// without the newline.
func (k *ClientKey) AuthorizedKey() string {
	return string(bytes.TrimSpace(ssh.MarshalAuthorizedKey(k.PublicKey())))
}

// WriteFiles writes the private key in OpenSSH format to path (mode 0600)
// and the public key to path+".pub", as ssh-keygen does.
func (k *ClientKey) WriteFiles(path string) error {
	return k.write(path, "")
}

// WriteEncrypted is WriteFiles with the private key encrypted under
// passphrase.
func (k *ClientKey) WriteEncrypted(path, passphrase string) error {
	return k.write(path, passphrase)
}

func (k *ClientKey) write(path, passphrase string) error {
	var (
		block *pem.Block
		err   error
	)
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(k.Private, "sshtest")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(k.Private, "sshtest", []byte(passphrase))
	}
	if err != nil {
		return fmt.Errorf("sshtest: marshal private key: %w", err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return fmt.Errorf("sshtest: %w", err)
	}
	if err := os.WriteFile(path+".pub", []byte(k.AuthorizedKey()+" sshtest\n"), 0o644); err != nil {
		return fmt.Errorf("sshtest: %w", err)
	}
	return nil
}
