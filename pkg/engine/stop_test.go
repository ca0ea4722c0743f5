package engine

import (
	"context"
	"fmt"
	"testing"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// TestTimeoutKeepsRemoteStop: what the driver learned when it stopped a
// timed-out command on its node is the node's failure's detail; without
// it, the failure is the bare reason, as before.
func TestTimeoutKeepsRemoteStop(t *testing.T) {
	d := &funcDriver{run: func(ctx context.Context, j *Job) Result {
		<-ctx.Done()
		switch j.Node {
		case "killed":
			return Result{ExitCode: -1, Err: fmt.Errorf("interrupted: %w: %w", ctx.Err(), &RemoteStop{Gone: true, Killed: true, Detail: "process group 42"})}
		case "unsure":
			return Result{ExitCode: -1, Err: fmt.Errorf("interrupted: %w: %w", ctx.Err(), &RemoteStop{Detail: "no session to kill it"})}
		}
		return Result{ExitCode: -1, Err: ctx.Err()}
	}}
	task := New()
	w, err := task.Run("x", Options{Nodes: nodeset.MustParse("killed,unsure,plain"), Driver: d, Timeout: 1})
	if err != nil {
		t.Fatal(err)
	}
	for node, want := range map[string]string{
		"killed": "killed: command timeout: killed on the node (process group 42)",
		"unsure": "unsure: command timeout: may still run on the node: no session to kill it",
		"plain":  "plain: command timeout",
	} {
		if got := w.NodeFailure(node); got == nil || got.Error() != want {
			t.Errorf("%s: %v, want %q", node, got, want)
		}
	}
}
