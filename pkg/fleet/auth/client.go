package auth

import (
	"fmt"
	"os"

	"github.com/nats-io/nats.go"

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

// checkSeedFile refuses a seed file that is not a small regular file
// only its owner may read and write (as OpenSSH refuses an unprotected
// key). The NATS client reads it at each connection.
func checkSeedFile(path string) error {
	st, err := os.Stat(path)
	switch {
	case err != nil:
		return fmt.Errorf("nkey seed: %w", err)
	case !st.Mode().IsRegular():
		return fmt.Errorf("nkey seed %s: not a regular file", path)
	case st.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("nkey seed %s: mode %v: others may read it (chmod 600)", path, st.Mode().Perm())
	case st.Size() > maxSeedFile:
		return fmt.Errorf("nkey seed %s: over %d bytes: not a seed file", path, maxSeedFile)
	}
	return nil
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
		if err := checkSeedFile(creds.Seed); err != nil {
			return nil, err
		}
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
