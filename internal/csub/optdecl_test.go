package csub

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/optparse/pycases"
)

// treeOptions are clush's tree mode options, which csub leaves out (see
// newParser), with their destinations and default values as Python
// prints them.
var treeOptions = []struct{ flag, value string }{
	{"--topology", ", 'topofile': None"},
	{"--grooming", ", 'grooming_delay': None"},
	{"--remote", ", 'remote': None"},
}

// TestParserMatchesClush runs csub's real option table (newParser, built
// from the declarations of optdecl.go) on the command lines for which
// cases.json records what clush's parser does: same values, remaining
// arguments, output and exit status, "clush" reading "csub". Left out: the
// lines using a tree mode option (csub refuses them) and --help (csub's
// help adds its own group: TestHelpEqualsClush compares it).
func TestParserMatchesClush(t *testing.T) {
	cases, err := pycases.Load(filepath.Join("..", "optparse", "testdata", "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
cases:
	for _, c := range cases.Parse {
		args := pycases.Strings(c.Args)
		if c.Parser != "clush" {
			continue
		}
		for _, a := range args {
			if a == "--help" || a == "-h" {
				continue cases
			}
			for _, o := range treeOptions {
				if strings.HasPrefix(a, o.flag) {
					continue cases
				}
			}
		}
		ran++
		asCsub := func(s string) string {
			s = strings.ReplaceAll(s, "Usage: clush ", "Usage: "+progName+" ")
			return strings.ReplaceAll(s, "clush: error: ", progName+": error: ")
		}
		var stdout, stderr bytes.Buffer
		env := &environ{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
		values, rest, err := newParser(env).Parse(args)
		got, err := pycases.Got(stdout.String(), stderr.String(), values, rest, err)
		if err != nil {
			t.Errorf("%s: unexpected error %v", c.Py, err)
			continue
		}
		// csub's own options come last: clush's values end before them.
		got.Values, _, _ = strings.Cut(got.Values, ", 'fleet': ")
		got.Values = strings.TrimSuffix(got.Values, "}") + "}"
		want := c.Want()
		want.Stdout, want.Stderr = asCsub(want.Stdout), asCsub(want.Stderr)
		for _, o := range treeOptions {
			want.Values = strings.Replace(want.Values, o.value, "", 1)
		}
		pycases.Compare(t, c.Py, got, want)
	}
	if ran < 40 {
		t.Fatalf("only %d clush cases ran", ran)
	}
	t.Logf("%d clush command lines", ran)
}
