package auth

import (
	"fmt"
	"io"
	"os"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Credentials is what a fleet client presents to the NATS server: the
// nkey seed file of its identity, and the site CA that must have signed
// the server's certificate. Either may be empty: no seed connects
// without authentication (a fleet without identities), no CA trusts the
// system's roots when the URL says tls://.
type Credentials struct {
	// Seed is the path of an nkey user seed file ("SU...", mode 0600).
	Seed string
	// CA is the path of the PEM file of the site CA.
	CA string
}

// maxSeedFile bounds a seed file: a seed is 58 characters, a decorated
// one a few lines.
const maxSeedFile = 4 << 10

// ReadSeed reads the nkey user key pair of the seed file at path,
// refusing a file others may read or write.
func ReadSeed(path string) (nkeys.KeyPair, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("nkey seed: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("nkey seed: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("nkey seed %s: mode %v: others may read it (chmod 600)", path, st.Mode().Perm())
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSeedFile+1))
	if err != nil {
		return nil, fmt.Errorf("nkey seed %s: %w", path, err)
	}
	defer wipe(data)
	if len(data) > maxSeedFile {
		return nil, fmt.Errorf("nkey seed %s: over %d bytes: not a seed file", path, maxSeedFile)
	}
	kp, err := nkeys.ParseDecoratedNKey(data)
	if err != nil {
		return nil, fmt.Errorf("nkey seed %s: %w", path, err)
	}
	pub, err := kp.PublicKey()
	if err != nil || !nkeys.IsValidPublicUserKey(pub) {
		return nil, fmt.Errorf("nkey seed %s: not a user seed (SU...)", path)
	}
	return kp, nil
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 'x'
	}
}

// ClientOptions returns the NATS options of a client acting as id on the
// fleet subj: its name, its nkey (the seed file is read now, to report a
// bad file at once, and again at each connection, so a rotated seed is
// picked up on reconnect), the site CA to verify the server with, and
// the inbox prefix its role's permissions let it read.
func ClientOptions(subj protocol.Subjects, id Identity, name string, creds Credentials) ([]nats.Option, error) {
	var opts []nats.Option
	if name != "" {
		opts = append(opts, nats.Name(name))
	}
	if creds.Seed != "" {
		kp, err := ReadSeed(creds.Seed)
		if err != nil {
			return nil, err
		}
		kp.Wipe()
		o, err := nats.NkeyOptionFromSeed(creds.Seed)
		if err != nil {
			return nil, fmt.Errorf("nkey seed %s: %w", creds.Seed, err)
		}
		opts = append(opts, o)
	}
	if creds.CA != "" {
		data, err := os.ReadFile(creds.CA)
		if err != nil {
			return nil, fmt.Errorf("site CA: %w", err)
		}
		if len(data) == 0 {
			return nil, fmt.Errorf("site CA %s: empty file", creds.CA)
		}
		opts = append(opts, nats.RootCAs(creds.CA))
	}
	// Without an id (an agent without a credential picks its own) the
	// default inbox serves: no permission restricts it.
	if p := InboxPrefix(subj, id); p != "" && id.ID != "" {
		if err := protocol.ValidID(id.ID); err != nil {
			return nil, fmt.Errorf("%s id: %w", id.Role, err)
		}
		opts = append(opts, nats.CustomInboxPrefix(p))
	}
	return opts, nil
}
