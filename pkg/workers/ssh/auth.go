package ssh

import (
	"bytes"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// keyCache keeps identity files parsed, keyed by path and checked against
// the file's stamp: parsing an RSA key for each of 10 000 jobs would cost
// more than the handshakes.
type keyCache struct {
	mu    sync.Mutex
	files map[string]cachedKey
}

type cachedKey struct {
	stamp     fileStamp
	certStamp fileStamp
	signers   []ssh.Signer  // certificate first, then the key
	pub       ssh.PublicKey // the public key, even when the private one is encrypted
	encrypted bool
}

// identity loads the identity file at path: its signers (with the
// certificate at path-cert.pub first, if there is one), or, for a key
// encrypted with a passphrase, just its public key (from path.pub), which
// still selects the agent's copy of the key.
func (d *Driver) identity(path string) (cachedKey, error) {
	st := d.stamp(path)
	if st == missing {
		return cachedKey{}, os.ErrNotExist
	}
	certPath := path + "-cert.pub"
	cst := d.stamp(certPath)
	c := &d.cache.keys
	c.mu.Lock()
	if k, ok := c.files[path]; ok && k.stamp == st && k.certStamp == cst {
		c.mu.Unlock()
		return k, nil
	}
	c.mu.Unlock()
	data, err := os.ReadFile(path)
	if err != nil {
		return cachedKey{}, err
	}
	k := cachedKey{stamp: st, certStamp: cst}
	signer, err := ssh.ParsePrivateKey(data)
	var missingPass *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missingPass):
		k.encrypted = true
		k.pub = missingPass.PublicKey
		if k.pub == nil {
			if pubData, perr := os.ReadFile(path + ".pub"); perr == nil {
				k.pub, _, _, _, _ = ssh.ParseAuthorizedKey(pubData)
			}
		}
	case err != nil:
		return cachedKey{}, err
	default:
		k.pub = signer.PublicKey()
		if cst != missing {
			if certData, cerr := os.ReadFile(certPath); cerr == nil {
				if pk, _, _, _, perr := ssh.ParseAuthorizedKey(certData); perr == nil {
					if cert, ok := pk.(*ssh.Certificate); ok {
						if cs, serr := ssh.NewCertSigner(cert, signer); serr == nil {
							k.signers = append(k.signers, cs)
						}
					}
				}
			}
		}
		k.signers = append(k.signers, signer)
	}
	c.mu.Lock()
	if c.files == nil {
		c.files = make(map[string]cachedKey)
	}
	c.files[path] = k
	c.mu.Unlock()
	return k, nil
}

// agentFor returns the agent to ask for t's keys, or nil: Driver.Agent,
// else the one at IdentityAgent or $SSH_AUTH_SOCK. A connection it opens
// is closed when the handshake is over.
func (r *run) agentFor(t *target, hs *handshake) agent.Agent {
	if r.d.Agent != nil {
		return r.d.Agent
	}
	sock := t.IdentityAgent
	switch {
	case strings.EqualFold(sock, "none"):
		return nil
	case sock == "" || sock == "SSH_AUTH_SOCK":
		sock = os.Getenv("SSH_AUTH_SOCK")
	}
	if sock == "" {
		return nil
	}
	conn, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		r.debugf("SSHCLIENT: %s: agent %s: %v", t.Host, sock, err)
		return nil
	}
	hs.mu.Lock()
	hs.closers = append(hs.closers, conn)
	hs.mu.Unlock()
	return agent.NewClient(conn)
}

// signers are the keys offered to t, in OpenSSH's order: the identity
// files (through the agent when it holds the key), then the agent's other
// keys unless IdentitiesOnly. Encrypted identity files the agent does not
// hold are skipped (nothing can ask for their passphrase).
func (r *run) signers(t *target, hs *handshake) ([]ssh.Signer, error) {
	var agentSigners []ssh.Signer
	if ag := r.agentFor(t, hs); ag != nil {
		s, err := ag.Signers()
		if err != nil {
			r.debugf("SSHCLIENT: %s: agent: %v", t.Host, err)
		}
		agentSigners = s
	}
	var out []ssh.Signer
	seen := make(map[string]bool)
	add := func(s ssh.Signer) {
		k := string(s.PublicKey().Marshal())
		if !seen[k] {
			seen[k] = true
			out = append(out, s)
		}
	}
	fromAgent := func(pub ssh.PublicKey) ssh.Signer {
		for _, s := range agentSigners {
			if bytes.Equal(s.PublicKey().Marshal(), pub.Marshal()) {
				return s
			}
		}
		return nil
	}
	explicit := !t.set["defaultidentities"]
	for _, path := range t.IdentityFiles {
		k, err := r.d.identity(path)
		if err != nil {
			if explicit || !errors.Is(err, os.ErrNotExist) {
				r.debugf("SSHCLIENT: %s: identity file %s: %v", t.Host, path, err)
			}
			continue
		}
		if k.pub != nil {
			if s := fromAgent(k.pub); s != nil {
				add(s)
				continue
			}
		}
		if k.encrypted {
			r.debugf("SSHCLIENT: %s: skipping encrypted key %s: no passphrase can be asked for", t.Host, path)
			continue
		}
		for _, s := range k.signers {
			add(s)
		}
	}
	if !t.IdentitiesOnly {
		for _, s := range agentSigners {
			add(s)
		}
	}
	return out, nil
}
