package ssh

import (
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/sshdtest"
	"github.com/fleetsh/fleetsh/pkg/engine"
)

// TestSSHDHostCertificate: OpenSSH's sshd presents a host certificate
// (HostCertificate); the native driver trusts it through an
// @cert-authority line alone, and refuses it when its principals do not
// name the host.
func TestSSHDHostCertificate(t *testing.T) {
	for _, tc := range []struct {
		principals []string
		ok         bool
	}{{[]string{"node9.example", "127.0.0.1"}, true}, {[]string{"node9.example"}, false}} {
		srv := sshdtest.StartCertified(t, tc.principals...)
		jr := newJob("node1", "echo ran")
		res := jr.run(t, sshdDriver(t, srv))
		if tc.ok {
			wantCode(t, jr, res, 0)
			if jr.stdout.String() != "ran\n" {
				t.Fatalf("stdout %q", jr.stdout)
			}
			continue
		}
		if engine.ReasonOf(res.Err) != engine.ReasonHostKeyUnknown || !strings.Contains(res.Err.Error(), "name is not a listed principal") ||
			!strings.HasPrefix(res.Err.Error(), "node1: ") || jr.stdout.String() != "" {
			t.Fatalf("principals %q: %v\nstderr %s", tc.principals, res.Err, jr.stderr)
		}
	}
}
