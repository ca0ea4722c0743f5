package agent

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// cutsOf lists r's cut events as "node:limit:byAgent", and checks that
// each comes after every line of its node and before its end.
func cutsOf(t *testing.T, r *recv) []string {
	t.Helper()
	var cuts []string
	cutSeen := map[uint32]bool{}
	for _, b := range r.batches {
		for _, e := range b.Events {
			for _, n := range e.Nodes {
				switch {
				case e.Kind == protocol.KindCut:
					limit, byAgent := e.Cut()
					cuts = append(cuts, fmt.Sprintf("%d:%d:%v", n, limit, byAgent))
					cutSeen[n] = true
				case cutSeen[n] && e.Kind == protocol.KindStderr:
					t.Errorf("node %d: a line after its cut", n)
				}
			}
		}
	}
	return cuts
}

// TestOutputCap: a node printing past its job's cap sends the bytes up to
// it, then a cut, and keeps its exit code; the agent's ceiling lowers a
// larger cap and says so; gathering cuts the same way.
func TestOutputCap(t *testing.T) {
	t.Parallel()
	_, c, a := fleet(t, Config{MaxOutput: 100})
	if a.cfg.MaxOutput != 100 {
		t.Fatalf("ceiling %d", a.cfg.MaxOutput)
	}
	// Standard error is counted with standard output in the order the
	// engine reads them, which two pipes do not fix: n1 writes only to
	// standard output here (pkg/engine tests the interleaving).
	cmd := `case %h in n1) printf '0123456789abc\n'; echo more; exit 3;; *) echo short;; esac`
	for _, c2 := range []struct {
		name   string
		spec   protocol.JobSpec
		n1     string
		n1Cut  string
		stderr bool
	}{
		{"job cap", protocol.JobSpec{Command: cmd, MaxOutput: 10, Stderr: true}, "0123456789", "0:10:false", true},
		{"gathered", protocol.JobSpec{Command: cmd, MaxOutput: 12, Gather: true, Stderr: true}, "0123456789ab", "0:12:false", true},
		{"agent ceiling", protocol.JobSpec{Command: `case %h in n1) head -c 1000 /dev/zero | tr '\0' x;; *) echo short;; esac; exit 3`,
			MaxOutput: 1000}, strings.Repeat("x", 100), "0:100:true", false},
	} {
		r := c.run(a, shardOf("cap"+strings.ReplaceAll(c2.name, " ", ""), []string{"n1", "n2"}, c2.spec))
		got := r.nodes(t, 2)
		ends := oneEnd(t, got)
		if strings.Join(got[0].stdout, "|") != c2.n1 || len(got[0].stderr) != 0 {
			t.Errorf("%s: n1 stdout %q stderr %q", c2.name, got[0].stdout, got[0].stderr)
		}
		if ends[0].State != protocol.StateExited || ends[0].Code != 3 {
			t.Errorf("%s: n1 end %+v: the exit code must be kept", c2.name, ends[0])
		}
		if strings.Join(got[1].stdout, "|") != "short" {
			t.Errorf("%s: n2 stdout %q", c2.name, got[1].stdout)
		}
		if cuts := cutsOf(t, r); strings.Join(cuts, " ") != c2.n1Cut {
			t.Errorf("%s: cuts %q, want %s", c2.name, cuts, c2.n1Cut)
		}
	}
}

func TestConfigMaxOutput(t *testing.T) {
	for in, want := range map[int64]int64{0: DefaultMaxOutput, -5: DefaultMaxOutput, 7: 7, protocol.MaxOutputLimit + 1: protocol.MaxOutputLimit} {
		c := Config{MaxOutput: in}
		c.fillMaxOutput()
		if c.MaxOutput != want {
			t.Errorf("MaxOutput %d filled to %d, want %d", in, c.MaxOutput, want)
		}
	}
}
