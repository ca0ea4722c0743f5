package site

import (
	"bytes"
	"fmt"

	"github.com/nats-io/nkeys"
)

// maxSeedFile bounds a seed file: a user seed is 58 characters; room is
// left for a decorated (nsc-style) file.
const maxSeedFile = 4 << 10

// newSeedFile makes a new nkey user key, writes its seed to path (mode
// 0600) and returns its public key. The file holds the seed alone, with
// no newline, so that nkeys.FromSeed of the file's bytes,
// nats.NkeyOptionFromSeed and ReadSeed all accept it.
func newSeedFile(path string) (pub string, err error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return "", fmt.Errorf("new nkey: %w", err)
	}
	defer kp.Wipe()
	seed, err := kp.Seed()
	if err != nil {
		return "", fmt.Errorf("new nkey: %w", err)
	}
	defer wipe(seed)
	if pub, err = kp.PublicKey(); err != nil {
		return "", fmt.Errorf("new nkey: %w", err)
	}
	return pub, writeFile(path, seed)
}

// ReadSeed reads the nkey user seed file at path: at most a few KiB, and
// only if its group and others can neither read nor write it (as OpenSSH
// refuses an unprotected private key). It accepts the bare seed, with or
// without surrounding white space, and a decorated nsc-style file. The
// caller should Wipe the key pair when done.
func ReadSeed(path string) (nkeys.KeyPair, error) {
	data, err := readBounded(path, maxSeedFile, true)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	defer wipe(data)
	var kp nkeys.KeyPair
	if t := bytes.TrimSpace(data); bytes.HasPrefix(t, []byte("SU")) && !bytes.ContainsAny(t, " \t\r\n") {
		kp, err = nkeys.FromSeed(t)
	} else {
		kp, err = nkeys.ParseDecoratedUserNKey(data)
	}
	if err != nil {
		return nil, fmt.Errorf("seed %s: not an nkey user seed: %w", path, err)
	}
	pub, err := kp.PublicKey()
	if err != nil || !nkeys.IsValidPublicUserKey(pub) {
		return nil, fmt.Errorf("seed %s: not an nkey user seed", path)
	}
	return kp, nil
}

// wipe overwrites secret bytes once they are no longer needed.
func wipe(b []byte) {
	for i := range b {
		b[i] = 'x'
	}
}
