package csub

import (
	"context"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/natstest"
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
	srv := natstest.Start(t, 0)
	co, err := coordinator.New(srv.Connect(t, "coordinator"), coordinator.Config{Logger: natstest.Logger(t), Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = co.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-co.Ready()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-w", "n1", "true; id"}, `rule "only-true" does not allow the command "true; id"`},
		{[]string{"-w", "n[1-3]", "true"}, `rule "only-true" allows the command but not on "n3"`},
	} {
		var out, errb testutil.SyncBuffer
		rc := runCSub(t, map[string]string{envFleet: srv.URL()}, nil, &out, &errb, c.args...)
		line := errb.String()
		if rc != 1 || !strings.HasPrefix(line, "csub: denied by policy: ") || !strings.Contains(line, c.want) ||
			strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") || out.String() != "" {
			t.Errorf("%q: rc %d, stdout %q, stderr %q, want one line with %q", c.args, rc, out.String(), line, c.want)
		}
	}
}
