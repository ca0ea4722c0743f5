package csub

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/fleet/agent"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth/authtest"
	"github.com/fleetsh/fleetsh/pkg/fleet/coordinator"
	"github.com/fleetsh/fleetsh/pkg/fleet/daemon"
	"github.com/fleetsh/fleetsh/pkg/fleet/policy"
	fleetsite "github.com/fleetsh/fleetsh/pkg/fleet/site"
)

// csub runs a job on a fleet that accepts only TLS and the site's
// credentials, with its user's fleet.yaml or with the flags; without a
// credential it is refused.
func TestFleetWithCredentials(t *testing.T) {
	site := authtest.NewSite(t)
	seed := site.Add(auth.Submitter, "alice")
	_, grants := fleetsite.Grants(site.Identities)
	grants[coordinator.LocalAgentID] = coordinator.AgentGrant{Local: true}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f, err := daemon.Start(ctx, daemon.Config{Listen: "127.0.0.1:0", Logger: natstest.Logger(t),
		Identities: site.Identities, TLSCert: site.Cert, TLSKey: site.Key,
		Coordinator: &coordinator.Config{Policy: policy.AllowAll(), Agents: grants},
		Agent:       &agent.Config{ID: coordinator.LocalAgentID, Name: "local", Local: true, Worker: "exec"}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	url := "tls://" + f.Addr()
	conf := filepath.Join(site.Dir, "fleet.yaml")
	if err := os.WriteFile(conf, []byte("url: "+url+"\nuser: alice\ncreds: "+filepath.Base(seed)+"\nca: ca.pem\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		vars map[string]string
		args []string
	}{
		{"fleet.yaml", map[string]string{envFleetConfig: conf}, nil},
		{"flags", map[string]string{"USER": "alice"}, []string{"--fleet", url, "--fleet-creds", seed, "--fleet-ca", site.CA}},
	} {
		var out, errb testutil.SyncBuffer
		args := append(c.args, "-R", "exec", "-w", "n[1-2]", "echo hi %h")
		if rc := runCSub(t, c.vars, nil, &out, &errb, args...); rc != 0 || out.String() != "n1: hi n1\nn2: hi n2\n" &&
			out.String() != "n2: hi n2\nn1: hi n1\n" {
			t.Errorf("%s: rc %d, stdout %q, stderr %q", c.name, rc, out.String(), errb.String())
		}
	}
	var out, errb testutil.SyncBuffer
	rc := runCSub(t, nil, nil, &out, &errb, "--fleet", url, "--fleet-ca", site.CA, "-R", "exec", "-w", "n1", "true")
	if rc != 1 || !strings.Contains(errb.String(), "Authorization Violation") {
		t.Errorf("without a credential: rc %d, stderr %q", rc, errb.String())
	}
}

// A user id that is not the credential's is refused by the server, and
// csub says so (not that the fleet is unreachable).
func TestFleetWrongUser(t *testing.T) {
	site := authtest.NewSite(t)
	seed := site.Add(auth.Submitter, "alice")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f, err := daemon.Start(ctx, daemon.Config{Listen: "127.0.0.1:0", Logger: natstest.Logger(t),
		Identities: site.Identities, TLSCert: site.Cert, TLSKey: site.Key,
		Coordinator: &coordinator.Config{}, Agent: &agent.Config{Local: true, Worker: "exec"}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out, errb testutil.SyncBuffer
	rc := runCSub(t, map[string]string{"USER": "bob"}, nil, &out, &errb, "--fleet", "tls://"+f.Addr(),
		"--fleet-creds", seed, "--fleet-ca", site.CA, "-R", "exec", "-w", "n1", "true")
	if rc != 1 || !strings.Contains(errb.String(), `refused the request on fleet.submit.bob (is "bob" the user id of your credential?)`) {
		t.Errorf("rc %d, stderr %q", rc, errb.String())
	}
}
