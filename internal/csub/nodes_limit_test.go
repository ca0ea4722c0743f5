package csub

import (
	"testing"

	"github.com/fleetsh/fleetsh/internal/testutil"
)

// Issue 10 item 4: a node set over the limit is refused before anything
// expands it, naming the count and the limit; FLEETSH_MAX_NODES sets the
// limit, and a bad value is a configuration error.
func TestNodeLimit(t *testing.T) {
	for _, c := range []struct {
		vars   map[string]string
		nodes  string
		rc     int
		stderr string
	}{
		{nil, "n[1-100000000]", 1,
			"csub: a job of 100000000 nodes: over csub's limit of 1000000 nodes per job (FLEETSH_MAX_NODES raises it, up to the limit of the fleet's coordinator)\n"},
		{map[string]string{envMaxNodes: "2"}, "n[1-3]", 1,
			"csub: a job of 3 nodes: over csub's limit of 2 nodes per job (FLEETSH_MAX_NODES raises it, up to the limit of the fleet's coordinator)\n"},
		{map[string]string{envMaxNodes: "lots"}, "n1", 1,
			"ERROR: FLEETSH_MAX_NODES=\"lots\": not a number of nodes from 1 to 4194304\n"},
		{map[string]string{envMaxNodes: "3"}, "n[1-3]", 0, ""},
	} {
		var out, errb testutil.SyncBuffer
		rc := runCSub(t, c.vars, nil, &out, &errb, "-R", "exec", "-w", c.nodes, "true")
		if rc != c.rc || errb.String() != c.stderr {
			t.Errorf("%v -w %s: rc %d, stderr %q; want %d, %q", c.vars, c.nodes, rc, errb.String(), c.rc, c.stderr)
		}
	}
}
