package optparse_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/optparse"
	"github.com/fleetsh/fleetsh/internal/pyfmt"

	"github.com/fleetsh/fleetsh/internal/testreq"
)

const nodesetUsage = "Usage: nodeset [COMMAND] [OPTIONS] [ns1 [-ixX] ns2|...]\n\n"

// Each case name is the command run against the real ClusterShell 1.9.1
// nodeset (/usr/bin/nodeset, Python 3.11) to get the expectation: its
// standard error and exit status, or the parsed values and arguments (as
// print(options, args) shows them in Nodeset.py right after parse_args()).
var nodesetParseTests = []struct {
	cmd    string
	args   []string
	stderr string // error message after "nodeset: error: "
	status int
	check  func(t *testing.T, v *optparse.Values, rest []string)
}{
	{cmd: "nodeset -Z", args: []string{"-Z"}, stderr: "no such option: -Z", status: 2},
	{cmd: "nodeset --a", args: []string{"--a"},
		stderr: "ambiguous option: --a (--all, --autostep, --axis?)", status: 2},
	{cmd: "nodeset --groups", args: []string{"--groups"},
		stderr: "ambiguous option: --groups (--groupsconf, --groupsource, --groupsources?)", status: 2},
	{cmd: "nodeset -f --fold=1", args: []string{"-f", "--fold=1"},
		stderr: "--fold option does not take a value", status: 2},
	{cmd: "nodeset --fo=1", args: []string{"--fo=1"}, stderr: "--fold option does not take a value", status: 2},
	{cmd: "nodeset -S", args: []string{"-S"}, stderr: "-S option requires 1 argument", status: 2},
	{cmd: "nodeset -fx", args: []string{"-fx"}, stderr: "-x option requires 1 argument", status: 2},
	{cmd: "nodeset --pick", args: []string{"--pick"}, stderr: "--pick option requires 1 argument", status: 2},
	{cmd: "nodeset --split=abc", args: []string{"--split=abc"},
		stderr: "option --split: invalid integer value: 'abc'", status: 2},
	{cmd: "nodeset --autostep=x", args: []string{"--autostep=x"},
		stderr: "option --autostep: invalid value: 'x', should be node count, node percentage or 'auto'", status: 2},
	{cmd: "nodeset -s -x", args: []string{"-s", "-x"}, stderr: "option -s: invalid value: '-x'", status: 2},
	{cmd: "nodeset $'-\\xff'", args: []string{"-\xff"}, stderr: `no such option: -\udcff`, status: 2},
	{cmd: "nodeset --aut=3 -f a", args: []string{"--aut=3", "-f", "a"},
		check: func(t *testing.T, v *optparse.Values, rest []string) {
			if v.Get("autostep") != 3 || !v.Bool("fold") || strings.Join(rest, ",") != "a" {
				t.Errorf("autostep=%v fold=%v rest=%q", v.Get("autostep"), v.Get("fold"), rest)
			}
		}},
	{cmd: "nodeset -fS: a", args: []string{"-fS:", "a"},
		check: func(t *testing.T, v *optparse.Values, rest []string) {
			if v.String("separator") != ":" || !v.Bool("fold") {
				t.Errorf("separator=%q", v.String("separator"))
			}
		}},
	// disable_interspersed_args(): parsing stops at "a", -r is an argument
	{cmd: "nodeset -f a -r", args: []string{"-f", "a", "-r"},
		check: func(t *testing.T, v *optparse.Values, rest []string) {
			if v.Bool("regroup") || strings.Join(rest, ",") != "a,-r" {
				t.Errorf("regroup=%v rest=%q", v.Get("regroup"), rest)
			}
		}},
	{cmd: "nodeset -f -- -r", args: []string{"-f", "--", "-r"},
		check: func(t *testing.T, v *optparse.Values, rest []string) {
			if strings.Join(rest, ",") != "-r" {
				t.Errorf("rest=%q", rest)
			}
		}},
	{cmd: "nodeset -f - a", args: []string{"-f", "-", "a"},
		check: func(t *testing.T, v *optparse.Values, rest []string) {
			if strings.Join(rest, ",") != "-,a" {
				t.Errorf("rest=%q", rest)
			}
		}},
	{cmd: "nodeset -ll -L -c", args: []string{"-ll", "-L", "-c"},
		check: func(t *testing.T, v *optparse.Values, rest []string) {
			if v.Int("list") != 2 || v.Int("listall") != 1 || !v.Bool("count") {
				t.Errorf("list=%v listall=%v", v.Get("list"), v.Get("listall"))
			}
		}},
	{cmd: "nodeset -e -x b -xc --xor=d -i e a", args: []string{"-e", "-x", "b", "-xc", "--xor=d", "-i", "e", "a"},
		check: func(t *testing.T, v *optparse.Values, rest []string) {
			if strings.Join(v.Strings("sub_nodes"), ",") != "b,c" || strings.Join(v.Strings("xor_nodes"), ",") != "d" ||
				strings.Join(v.Strings("and_nodes"), ",") != "e" {
				t.Errorf("%s", v.Repr())
			}
		}},
	{cmd: "nodeset --autostep=50% -f", args: []string{"--autostep=50%", "-f"},
		check: func(t *testing.T, v *optparse.Values, rest []string) {
			if v.Get("autostep") != 0.5 {
				t.Errorf("autostep=%v", v.Get("autostep"))
			}
		}},
	{cmd: "nodeset --pick 0x1f -e a", args: []string{"--pick", "0x1f", "-e", "a"},
		check: func(t *testing.T, v *optparse.Values, rest []string) {
			if v.Int("pick") != 31 {
				t.Errorf("pick=%v", v.Get("pick"))
			}
		}},
	{cmd: "nodeset --pick 010 -e a", args: []string{"--pick", "010", "-e", "a"},
		check: func(t *testing.T, v *optparse.Values, rest []string) {
			if v.Int("pick") != 8 {
				t.Errorf("pick=%v", v.Get("pick"))
			}
		}},
}

func TestNodesetParse(t *testing.T) {
	for _, tt := range nodesetParseTests {
		var stdout, stderr bytes.Buffer
		p := newNodesetParser(optparse.Config{Prog: "nodeset", Stdout: &stdout, Stderr: &stderr})
		v, rest, err := p.Parse(tt.args)
		if tt.check == nil {
			var ee *optparse.ExitError
			// ExitError.Message keeps the bytes; stderr shows them as
			// Python does (backslashreplace).
			if !errors.As(err, &ee) || ee.Status != tt.status || pyfmt.BackslashReplace(ee.Message) != tt.stderr {
				t.Errorf("%s: got %v", tt.cmd, err)
			}
			if want := nodesetUsage + "nodeset: error: " + tt.stderr + "\n"; stderr.String() != want {
				t.Errorf("%s: stderr %q, want %q", tt.cmd, stderr.String(), want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.cmd, err)
			continue
		}
		tt.check(t, v, rest)
	}
}

func TestNodesetHelpAndVersion(t *testing.T) {
	t.Setenv("COLUMNS", "")
	os.Unsetenv("COLUMNS")
	// nodeset --version; echo $?  ->  "nodeset 1.9.1", 0
	var stdout, stderr bytes.Buffer
	p := newNodesetParser(optparse.Config{Prog: "nodeset", Stdout: &stdout, Stderr: &stderr})
	_, _, err := p.Parse([]string{"--version"})
	var ee *optparse.ExitError
	if !errors.As(err, &ee) || ee.Status != 0 || stdout.String() != "nodeset 1.9.1\n" || stderr.Len() != 0 {
		t.Fatalf("--version: %v %q %q", err, stdout.String(), stderr.String())
	}
	// nodeset -h | head -3
	stdout.Reset()
	_, _, err = p.Parse([]string{"-h", "-Z"})
	if !errors.As(err, &ee) || ee.Status != 0 ||
		!strings.HasPrefix(stdout.String(), nodesetUsage+"Options:\n  --version             show program's version number and exit\n") {
		t.Fatalf("-h: %v %q", err, stdout.String())
	}
	// Parser.Error, as nodeset does for "No command specified."
	stderr.Reset()
	err = p.Error("No command specified.")
	if !errors.As(err, &ee) || ee.Status != 2 || stderr.String() != nodesetUsage+"nodeset: error: No command specified.\n" {
		t.Fatalf("Error: %v %q", err, stderr.String())
	}
}

// TestLiveReference compares, when ClusterShell is installed, the Go
// nodeset parser with the real nodeset command.
func TestLiveReference(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	if _, err := os.Stat("/usr/bin/nodeset"); err != nil {
		testreq.Skip(t, testreq.ClusterShell, "/usr/bin/nodeset is not installed")
	}
	tests := []struct {
		columns string
		prog    string
		args    []string
	}{
		{"", "nodeset", []string{"--help"}},
		{"40", "nodeset", []string{"--help"}},
		{"", "nodeset", []string{"-Z"}},
		{"", "nodeset", []string{"--a"}},
		{"", "nodeset", []string{"--split=x"}},
		{"", "nodeset", []string{"--version"}},
		{"", "nodeset", []string{"-\xff\xc3\xa9"}},
	}
	for _, tt := range tests {
		name := tt.prog + " " + strings.Join(tt.args, " ")
		c := exec.Command("/usr/bin/"+tt.prog, tt.args...)
		c.Env = append(os.Environ(), "COLUMNS="+tt.columns)
		var pyOut, pyErr bytes.Buffer
		c.Stdout, c.Stderr = &pyOut, &pyErr
		status := 0
		if err := c.Run(); err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("%s: %v", name, err)
			}
			status = ee.ExitCode()
		}
		t.Setenv("COLUMNS", tt.columns)
		var goOut, goErr bytes.Buffer
		p := parsers[tt.prog](optparse.Config{Prog: tt.prog, Stdout: &goOut, Stderr: &goErr})
		_, _, err := p.Parse(tt.args)
		var ee *optparse.ExitError
		if !errors.As(err, &ee) {
			t.Errorf("%s: got %v, want an exit", name, err)
			continue
		}
		if ee.Status != status || goOut.String() != pyOut.String() || goErr.String() != pyErr.String() {
			t.Errorf("%s:\n go: %d %q %q\n py: %d %q %q", name, ee.Status, goOut.String(), goErr.String(),
				status, pyOut.String(), pyErr.String())
		}
	}
}
