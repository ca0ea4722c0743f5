package nodesetcli_test

// Golden tests of the nodeset CLI through its in-process entry point.
//
// Every expectation in testdata/golden/*.txt was produced by the reference
// ClusterShell 1.9.1 /usr/bin/nodeset (testdata/golden/regen.sh re-creates
// them), so these tests pin byte-identical stdout and stderr and the same
// exit status without needing ClusterShell at test time. The file format is
// described in regen.sh; each case carries the exact shell command that
// produced it, runnable from this package's directory.
//
// Group cases pass a relative --groupsconf path under testdata/golden/conf,
// which is why the tests (like regen.sh) run from the package directory:
// ClusterShell derives $CFGDIR from that path and runs upcalls with the
// config directory as working directory, and some expectations (error
// messages, a $CFGDIR echo) depend on both.

import (
	"bytes"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/golden"
	"github.com/fleetsh/fleetsh/internal/nodesetcli"
	"github.com/fleetsh/fleetsh/internal/testutil"
)

var goldenRun = flag.String("golden.run", "", "only run golden cases whose file/name contains this substring")

func TestGolden(t *testing.T) {
	// Same environment as regen.sh gave the reference: no user config can
	// leak in through HOME or XDG_CONFIG_HOME, and upcall shells find the
	// same tools.
	getenv := golden.Env(t)

	cases := testutil.GoldenCases(t, "nodeset", *goldenRun)
	for _, c := range cases {
		// Not parallel: Main may keep process-wide state (the standard
		// group resolver, as ClusterShell does), and cases are fast.
		t.Run(c.ID, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			rc := nodesetcli.Main(c.Args, strings.NewReader(c.Stdin), &stdout, &stderr, getenv)
			if stdout.String() == c.Stdout && stderr.String() == c.Stderr && rc == c.Exit {
				return
			}
			var b strings.Builder
			fmt.Fprintf(&b, "%s:%d: $ %s\n", c.File, c.Line, c.Cmd)
			if c.Stdin != "" {
				fmt.Fprintf(&b, "stdin:\n%s", indent(c.Stdin))
			}
			if rc != c.Exit {
				fmt.Fprintf(&b, "exit status: got %d, want %d\n", rc, c.Exit)
			}
			if got := stdout.String(); got != c.Stdout {
				fmt.Fprintf(&b, "stdout:\n got: %q\nwant: %q\n", got, c.Stdout)
			}
			if got := stderr.String(); got != c.Stderr {
				fmt.Fprintf(&b, "stderr:\n got: %q\nwant: %q\n", got, c.Stderr)
			}
			t.Error(b.String())
		})
	}
	t.Logf("%d golden cases", len(cases))
	if *goldenRun == "" && len(cases) < 150 {
		t.Errorf("only %d golden cases; the suite is meant to hold 150+", len(cases))
	}
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n    ") + "\n"
}
