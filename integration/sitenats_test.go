package integration

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/fleet/site"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// siteNATS is an external NATS server run as a site runs one: from the
// nats-server.conf `coordinator init-site` writes, so TLS with the site's
// CA and one nkey user per identity with its role's permissions. The
// site has the submitter "tester" and the agents it was started with;
// the coordinator joins with its own seed.
type siteNATS struct {
	t          *testing.T
	dir        string // the site directory
	port       int
	maxPayload int32
	srv        *server.Server
}

// startSiteNATS writes a site listening on a free loopback port and
// starts its NATS server in the test process, stopped at test end;
// maxPayload > 0 overrides the server's max_payload.
func startSiteNATS(t *testing.T, maxPayload int32, agents ...site.AgentSpec) *siteNATS {
	t.Helper()
	s := &siteNATS{t: t, dir: filepath.Join(t.TempDir(), "site"), port: freePort(t), maxPayload: maxPayload}
	addr := fmt.Sprintf("127.0.0.1:%d", s.port)
	if err := site.Init(s.dir, site.InitOptions{Users: []string{"tester"}, Agents: agents,
		URL: "tls://" + addr, Listen: addr}); err != nil {
		t.Fatal(err)
	}
	if err := s.run(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

// run starts the server from the site's nats-server.conf.
func (s *siteNATS) run() error {
	opts, err := server.ProcessConfigFile(filepath.Join(s.dir, site.NATSServerConfFile))
	if err != nil {
		return err
	}
	opts.NoSigs, opts.NoLog = true, true
	if s.maxPayload > 0 {
		opts.MaxPayload = s.maxPayload
	}
	srv, err := natstest.RunOptions(opts)
	if err != nil {
		return err
	}
	s.srv = srv
	return nil
}

func (s *siteNATS) stop() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}

// Restart stops the server and starts it again from the same conf, on
// the same port, after pause.
func (s *siteNATS) Restart(pause time.Duration) {
	s.t.Helper()
	natstest.Restart(s.t, s.port, pause, s.stop, s.run)
}

// URL is the server's URL, by a name its certificate carries.
func (s *siteNATS) URL() string { return fmt.Sprintf("tls://127.0.0.1:%d", s.port) }

// coordCreds are the coordinator's flags for its credential with --nats.
func (s *siteNATS) coordCreds() []string {
	return []string{"--creds", filepath.Join(s.dir, site.CoordinatorSeedFile), "--ca", filepath.Join(s.dir, site.CACertFile),
		"--identities", filepath.Join(s.dir, site.IdentitiesFile)}
}

// agentCreds are agent id's flags for its credential.
func (s *siteNATS) agentCreds(id string) []string {
	d := filepath.Join(s.dir, site.AgentsDir, id)
	return []string{"--id", id, "--creds", filepath.Join(d, site.AgentSeedFile), "--ca", filepath.Join(d, site.CACertFile)}
}

// fleetConfig is the fleet.yaml of user id, for csub.
func (s *siteNATS) fleetConfig(id string) string {
	return filepath.Join(s.dir, site.UsersDir, id, site.ClientConfigFile)
}

// csubEnv is the environment csub needs to reach the fleet as user id.
func (s *siteNATS) csubEnv(id string) []string {
	return []string{"FLEETSH_FLEET=" + s.URL(), "FLEETSH_FLEET_CONFIG=" + s.fleetConfig(id)}
}

// userOptions are the nats options of a client connecting as user id.
func (s *siteNATS) userOptions(id string) []nats.Option {
	s.t.Helper()
	d := filepath.Join(s.dir, site.UsersDir, id)
	opts, err := auth.ClientOptions(protocol.Subjects{}, auth.Identity{Role: auth.Submitter, ID: id}, id,
		auth.Credentials{Seed: filepath.Join(d, site.UserSeedFile), CA: filepath.Join(d, site.CACertFile)})
	if err != nil {
		s.t.Fatal(err)
	}
	return opts
}
