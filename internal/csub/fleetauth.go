package csub

import (
	"errors"
	"io/fs"
	"path/filepath"

	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/fleet/site"
)

// envFleetConfig names the fleet.yaml csub reads for --fleet's
// credential (default ~/.config/fleetsh/fleet.yaml).
const envFleetConfig = "FLEETSH_FLEET_CONFIG"

// fleetAuth is who csub is on an external fleet: the credential it
// presents and the user id its subjects carry.
type fleetAuth struct {
	creds auth.Credentials
	// user is the credential's user id ("": none known; the login name
	// serves, which only a fleet without identities accepts).
	user string
	// config is the fleet.yaml read ("" when none).
	config string
}

// fleetConfigPath returns the fleet.yaml to read, and whether the user
// named it (then it must exist).
func fleetConfigPath(env *environ) (string, bool) {
	if p := env.getenv(envFleetConfig); p != "" {
		return p, true
	}
	if d := env.getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "fleetsh", "fleet.yaml"), false
	}
	if h := env.getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "fleetsh", "fleet.yaml"), false
	}
	return "", false
}

// resolveFleetAuth works out csub's credential on the fleet s.fleet:
// --fleet-creds and --fleet-ca, else the fleet.yaml ($FLEETSH_FLEET_CONFIG
// or ~/.config/fleetsh/fleet.yaml) pkg/fleet/site writes for each user
// (site.ClientConfig).
// The user id is the fleet.yaml's; the NATS server refuses any subject
// not carrying the credential's own id, so it is checked, not trusted.
func resolveFleetAuth(s *settings, env *environ) (fleetAuth, error) {
	fa := fleetAuth{creds: auth.Credentials{Seed: s.fleetCreds, CA: s.fleetCA}}
	path, named := fleetConfigPath(env)
	if path == "" || (s.fleetCreds != "" && !named) {
		return fa, nil
	}
	c, err := site.LoadClientConfig(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && !named {
			return fa, nil
		}
		return fa, err
	}
	fa.config, fa.user = path, c.User
	if fa.creds.Seed == "" {
		fa.creds.Seed = c.Creds
	}
	if fa.creds.CA == "" {
		fa.creds.CA = c.CA
	}
	return fa, nil
}
