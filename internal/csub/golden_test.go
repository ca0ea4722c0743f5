package csub_test

// Golden tests of the csub CLI through its in-process entry point, with
// the in-process fleet (no --fleet) and the exec worker.
//
// Every expectation in testdata/golden/*.txt was produced by the reference
// ClusterShell 1.9.1 /usr/bin/clush run through a symlink named csub
// (testdata/golden/regen.sh re-creates them), so these tests pin csub's
// stdout, stderr and exit status to clush's, byte for byte, without
// needing ClusterShell at test time. Each case carries the exact command
// that produced it. The one allowance: lines printed as they come are
// compared node by node, because clush runs nodes in a random order (see
// regen.sh).

import (
	"bytes"
	"flag"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/csub"
	"github.com/fleetsh/fleetsh/internal/golden"
	"github.com/fleetsh/fleetsh/internal/testutil"
)

var goldenRun = flag.String("golden.run", "", "only run golden cases whose file/name contains this substring")

func TestGolden(t *testing.T) {
	getenv := golden.Env(t, "CLUSTERSHELL_CFGDIR="+filepath.Join("testdata", "golden", "conf"))
	for _, c := range testutil.GoldenCases(t, "csub", *goldenRun) {
		t.Run(c.ID, func(t *testing.T) {
			// Each run has its own in-process fleet: cases are
			// independent, and several wait on command timeouts.
			t.Parallel()
			var stdout, stderr bytes.Buffer
			rc := csub.Main(c.Args, strings.NewReader(""), &stdout, &stderr, getenv)
			var b strings.Builder
			if rc != c.Exit {
				fmt.Fprintf(&b, "exit status: got %d, want %d\n", rc, c.Exit)
			}
			for _, s := range []struct{ name, got, want string }{
				{"stdout", stdout.String(), c.Stdout}, {"stderr", progressCounter.ReplaceAllString(stderr.String(), ""), c.Stderr},
			} {
				if s.got != s.want && byNode(s.got) != byNode(s.want) {
					fmt.Fprintf(&b, "%s:\n got: %q\nwant: %q\n", s.name, s.got, s.want)
				}
			}
			if b.Len() > 0 {
				t.Errorf("%s:%d: $ %s\n%s", c.File, c.Line, c.Cmd, b.String())
			}
		})
	}
}

// progressCounter is clush's progress counter and its erasure, which
// regen.sh strips from clush's output: both show it after 1.33 s, i.e.
// depending on the machine's load.
var progressCounter = regexp.MustCompile(`csub: *\d+/\d+\r| +\r`)

// nodeLine matches the lines that belong to one node: "node: text" and
// "csub: node: text" (a plain name, no folded set).
var nodeLine = regexp.MustCompile(`^(?:csub: )?([A-Za-z0-9_.-]+): `)

// byNode puts every run of consecutive node lines in node order, keeping
// each node's lines in their order; other lines stay where they are.
func byNode(s string) string {
	lines := strings.SplitAfter(s, "\n")
	key := func(l string) string {
		if m := nodeLine.FindStringSubmatch(l); m != nil && m[1] != "csub" {
			return m[1]
		}
		return ""
	}
	for i := 0; i < len(lines); {
		j := i
		for j < len(lines) && key(lines[j]) != "" {
			j++
		}
		slices.SortStableFunc(lines[i:j], func(a, b string) int { return strings.Compare(key(a), key(b)) })
		i = j + 1
	}
	return strings.Join(lines, "")
}

func TestByNode(t *testing.T) {
	a := "n2: x\ncsub: n2: exited\nn1: y\n---\nhdr\nn3: z\nn1: w\n"
	b := "n1: y\nn2: x\ncsub: n2: exited\n---\nhdr\nn1: w\nn3: z\n"
	if byNode(a) != byNode(b) {
		t.Fatalf("%q != %q", byNode(a), byNode(b))
	}
	if byNode("n1: a\nn1: b\n") == byNode("n1: b\nn1: a\n") {
		t.Fatal("a node's own lines were reordered")
	}
}
