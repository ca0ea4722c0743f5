package csub

import (
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/fleet/coordinator"
	"github.com/fleetsh/fleetsh/pkg/fleet/policy"
)

// A job the coordinator's policy denies ends csub with the policy's one
// line, "csub: <reason>", and status 1.
func TestSubmitDeniedByPolicy(t *testing.T) {
	p, err := policy.Parse([]byte(`rules: [{name: only-true, users: ["*"], commands: ["true"], nodes: "n[1-2]"}]`), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	url := startFleetWith(t, coordinator.Config{Policy: p})
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-w", "n1", "true; id"}, `rule "only-true" does not allow the command "true; id"`},
		{[]string{"-w", "n[1-3]", "true"}, `rule "only-true" allows the command but not on "n3"`},
	} {
		var out, errb testutil.SyncBuffer
		rc := runCSub(t, map[string]string{envFleet: url}, nil, &out, &errb, c.args...)
		line := errb.String()
		if rc != 1 || !strings.HasPrefix(line, "csub: denied by policy: ") || !strings.Contains(line, c.want) ||
			strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") || out.String() != "" {
			t.Errorf("%q: rc %d, stdout %q, stderr %q, want one line with %q", c.args, rc, out.String(), line, c.want)
		}
	}
}
