package csub

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/fleet/client"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// TestCancelledBySomeoneElse is issue 12's "a job ended by someone else's
// cancel never exits 0": a cancel that is not the user's own Ctrl-C
// (which exits 130, as clush's) makes csub say so and exit 255.
func TestCancelledBySomeoneElse(t *testing.T) {
	url := startTestFleet(t)
	vars := map[string]string{"FLEETSH_FLEET": url}
	bg, out, errb := goCSub(t, nil, vars, nil, "-R", "exec", "-w", "n[1-2]", "sleep 60")
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// The same user from elsewhere (another terminal, a script): only
	// this csub's own Ctrl-C is the user's way to stop it.
	other := &client.Client{Conn: nc, User: "tester"}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var id string
	for id == "" {
		jobs, err := other.Jobs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			if j.Finals[protocol.StateExited] == 0 && !j.Done {
				id = j.ID
			}
		}
		if id == "" {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if err := other.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	if rc := <-bg; rc != 255 {
		t.Errorf("rc %d, want 255; stderr %q", rc, errb.String())
	}
	if want := "csub: job " + id + " was cancelled by tester\n"; !strings.Contains(errb.String(), want) {
		t.Errorf("stderr %q, want %q", errb.String(), want)
	}
	if out.String() != "" {
		t.Errorf("stdout %q", out.String())
	}
}
