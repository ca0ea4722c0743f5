package csub

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// runClubakTest runs ClubakMain on stdin with a hermetic environment
// (no groups.conf unless args give one).
func runClubakTest(t *testing.T, stdin string, env map[string]string, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	var out, errb bytes.Buffer
	dir := t.TempDir()
	getenv := func(k string) string {
		switch k {
		case "CLUSTERSHELL_CFGDIR", "HOME", "XDG_CONFIG_HOME":
			return dir
		}
		return env[k]
	}
	status = ClubakMain(args, strings.NewReader(stdin), &out, &errb, getenv)
	return out.String(), errb.String(), status
}

func outfmt(ns string) string { return "---------------\n" + ns + "\n---------------\n bar\n" }

// TestClubakUpstream checks the expectations of ClusterShell's
// tests/CLIClubakTest.py at v1.9.1 (the parts that need no group
// configuration), written out: they hold without the reference installed.
// The differential test (integration/clubak_diff_test.go) runs them
// against /usr/bin/clubak too.
func TestClubakUpstream(t *testing.T) {
	cases := []struct {
		args         []string
		in, out, err string
		status       int
	}{
		{nil, "foo: bar\n", outfmt("foo"), "", 0},
		{nil, "foo space1: bar\nfoo space2: bar", outfmt("foo space1") + outfmt("foo space2"), "", 0},
		{nil, ": bar\n", "", "clubak: no node found: \": bar\"\n", 1},
		{nil, "foo[: bar\n", outfmt("foo["), "", 0},
		{nil, "]o[o]: bar\n", outfmt("]o[o]"), "", 0},
		{nil, "foo:\n", "---------------\nfoo\n---------------\n\n", "", 0},
		{nil, "n001c01: bar\nn001c02: bar\n", outfmt("n001c01") + outfmt("n001c02"), "", 0},
		{[]string{"-d"}, "foo: bar\n", "INPUT foo: bar\n" + outfmt("foo"), "clubak: line_mode=False gather=False tree_depth=1\n", 0},
		{[]string{"-d", "-L"}, "foo: bar\n", "INPUT foo: bar\nfoo:  bar\n", "clubak: line_mode=True gather=False tree_depth=1\n", 0},
		{[]string{"-v", "-b"}, "foo: bar\n", "INPUT foo: bar\n" + outfmt("foo"), "", 0},
		{[]string{"-q", "-b"}, "foo[1-5]: bar\n", outfmt("foo[1-5]"), "", 0},
		{[]string{"-b"}, "foo space1: bar\nfoo space2: bar", outfmt("foo space[1-2] (2)"), "", 0},
		{[]string{"-b"}, "n001c01: bar\nn001c02: bar\n", outfmt("n001c[01-02] (2)"), "", 0},
		{[]string{"-bL", "-S", ": "}, "n1c01: bar\n", "n1c01: bar\n", "", 0},
		{[]string{"-N", "-S", ": "}, "foo: bar\n", "bar\n", "", 0},
		{[]string{"-b", "--fast"}, "foo2: bar\nfoo1: bar\nfoo4: bar", outfmt("foo[1-2,4] (3)"), "", 0},
		{[]string{"-L", "--fast"}, "foo1: bar\n", "", "Usage: clubak [options]\n\nclubak: error: incompatible tree options\n", 2},
		{[]string{"--tree", "-L"}, "foo1:bar\nfoo2:bar\nfoo1:moo\nfoo1:bla\nfoo2:m00\nfoo2:bla\nfoo1:abc\n",
			"foo[1-2]:\nbar\nfoo2:\n  m00\n  bla\nfoo1:\n  moo\n  bla\n  abc\n", "", 0},
		{[]string{"-b", "--interpret-keys=always"}, "foo[1-3]: bar\n", outfmt("foo[1-3] (3)"), "", 0},
		{[]string{"-b", "--interpret-keys=always"}, "[]: bar\n", "", "clubak: Parse error: bad range: \"empty range\"\n", 1},
		{[]string{"-L", "--color=always"}, "foo: bar\n", "\x1b[94mfoo: \x1b[0m bar\n", "", 0},
		{[]string{"--diff", "--color=always"}, "foo1: bar\nfoo2: BAR\nfoo3: bar\nfoo2: end\nfoo1: end\nfoo3: end",
			"\x1b[1m--- foo[1,3] (2)\x1b[0m\n\x1b[1m+++ foo2\x1b[0m\n\x1b[96m@@ -1,2 +1,2 @@\x1b[0m\n\x1b[91m- bar\x1b[0m\n\x1b[92m+ BAR\x1b[0m\n  end\n", "", 0},
		{[]string{"--diff", "-L"}, "foo1: bar\nfoo2: bar", "", "Usage: clubak [options]\n\nclubak: error: option mismatch (diff not supported in line_mode)\n", 2},
		{[]string{"--diff"}, "host1: \xc3\xa5\nhost2: a\nhost2: b\nhost1: b\n", "--- host1\n+++ host2\n@@ -1,2 +1,2 @@\n- \xc3\xa5\n+ a\n  b\n", "", 0},
	}
	for _, c := range cases {
		out, errOut, status := runClubakTest(t, c.in, nil, c.args...)
		if out != c.out || errOut != c.err || status != c.status {
			t.Errorf("clubak %q <<< %q:\n got  %d %q %q\n want %d %q %q", c.args, c.in, status, out, errOut, c.status, c.out, c.err)
		}
	}
}

// TestClubakBeyond checks what clubak does where the reference has no
// defined or sane behaviour: raw keys sharing an output come in the order
// they appeared, -r leaves raw keys as they are (clubak crashes), and the
// input bounds.
func TestClubakBeyond(t *testing.T) {
	cases := []struct {
		name         string
		args         []string
		in, out, err string
		status       int
	}{
		{"raw keys in first-seen order", []string{"-b", "--interpret-keys=never"}, "b: 1\na: 2\nc: 1\n",
			"---------------\na\n---------------\n 2\n---------------\nb,c (2)\n---------------\n 1\n", "", 0},
		{"regroup of raw keys", []string{"-r"}, "a[: x\n", "---------------\na[\n---------------\n x\n", "", 0},
		{"key naming too many nodes", nil, "n[1-999999999]: x\n", "",
			"clubak: key \"n[1-999999999]\" names 999999999 nodes, more than 1048576\n", 1},
		{"separator not UTF-8", []string{"-S", "\xff"}, "a: b\n", "",
			"clubak: 'utf-8' codec can't encode character '\\udcff' in position 0: surrogates not allowed\n", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, status := runClubakTest(t, c.in, nil, c.args...)
			if out != c.out || errOut != c.err || status != c.status {
				t.Errorf("clubak %q <<< %q:\n got  %d %q %q\n want %d %q %q", c.args, c.in, status, out, errOut, c.status, c.out, c.err)
			}
		})
	}
}

// TestClubakLongLine refuses a line longer than maxClubakLine, after the
// lines before it were echoed, and reads lines longer than the reader's
// buffer whole.
func TestClubakLongLine(t *testing.T) {
	long := "n1: " + strings.Repeat("x", 200<<10) + "\n"
	out, errOut, status := runClubakTest(t, long+"n2: y\n", nil, "-L")
	if status != 0 || errOut != "" || out != "n1: "+long[3:]+"n2:  y\n" {
		t.Errorf("long line: %d %q, stdout of %d bytes", status, errOut, len(out))
	}
	huge := "v: a\nn1: " + strings.Repeat("x", maxClubakLine+1) + "\n"
	out, errOut, status = runClubakTest(t, huge, nil, "-v")
	if status != 1 || out != "INPUT v: a\n" || errOut != "clubak: input line longer than 67108864 bytes\n" {
		t.Errorf("huge line: %d, %d bytes of stdout, %q", status, len(out), errOut)
	}
}

// TestClubakRegroupError stops at the first block whose node set -r
// cannot fold, as clubak does, with its error.
func TestClubakRegroupError(t *testing.T) {
	out, errOut, status := runClubakTest(t, "n1: a\nn2: b\n", nil, "-b", "-r", "-s", "nosrc")
	// Without any groups.conf, every source is unknown.
	if status != 1 || out != "" || !strings.HasPrefix(errOut, "clubak: ") {
		t.Errorf("got %d %q %q", status, out, errOut)
	}
}

// TestClubakTraceGroups folds trace headers from every key below a line,
// with the groups of --groupsconf.
func TestClubakTraceGroups(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "groups.conf")
	if err := os.WriteFile(conf, []byte("[Main]\ndefault: s\n[s]\nmap: echo n[1-2]\nlist: echo pair\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, status := runClubakTest(t, "n1: a\nn2: a\nn2: b\nn1: c\n", nil, "-T", "-r", "--groupsconf", conf)
	want := "---------------\n@pair (2)\n---------------\n a\n  ---------------\n  n1\n  ---------------\n   c\n" +
		"  ---------------\n  n2\n  ---------------\n   b\n"
	if status != 0 || errOut != "" || out != want {
		t.Errorf("got %d %q\n%s\nwant\n%s", status, errOut, out, want)
	}
}

// TestClubakWriteErrors: a closed pipe ends clubak quietly with status 1;
// another write error is reported as Python's OSError.
func TestClubakWriteErrors(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.EPIPE}, ""},
		{&os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.ENOSPC}, "ERROR: [Errno 28] No space left on device\n"},
		{errors.New("odd"), "ERROR: odd\n"},
	} {
		var errb bytes.Buffer
		status := ClubakMain([]string{"-b"}, strings.NewReader("n1: a\n"), failWriter{c.err}, &errb, func(string) string { return "" })
		if status != 1 || errb.String() != c.want {
			t.Errorf("%v: status %d, stderr %q, want 1 %q", c.err, status, errb.String(), c.want)
		}
	}
}
