package integration

// Differential test of our clubak (./cmd/clubak) against ClusterShell
// 1.9's /usr/bin/clubak: every case runs the same command line with the
// same standard input through both, with the same hermetic groups.conf
// (testdata/clubak/conf through CLUSTERSHELL_CFGDIR), and must give the
// same exit status, standard output and standard error, byte for byte,
// without any normalization.
//
// The cases cover every command line of ClusterShell's
// tests/CLIClubakTest.py at v1.9.1 (same inputs and options; the test
// code is ours), then errors, help and the options that file leaves out.
// Left out: raw keys (--interpret-keys=never, or auto after a key that is
// not a node set) that share an output under -b, which clubak joins in a
// Python set's order, different from run to run (docs/clubak.md).
//
// Environment:
//
//	FLEETSH_REQUIRE_CLUSTERSHELL=1   fail instead of skip without /usr/bin/clubak
//	FLEETSH_CLUBAK_DIFF_RUN=substr   only the cases whose name contains substr
//	FLEETSH_CLUBAK_OURS=path         use this clubak instead of building one
//	FLEETSH_DIFF_SEED=N|random       with -short, the seed that picks the
//	                                 sample (default: diffDefaultSeed; random:
//	                                 from the clock, to explore)
//	FLEETSH_DIFF_CASES=N             with -short, the sample's size (default
//	                                 clubakDiffShortCases); without -short
//	                                 every case runs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	clubakDiffRef = "/usr/bin/clubak"
	// clubakDiffShortCases is how many cases -short runs, picked by the
	// seed.
	clubakDiffShortCases = 40
)

// clubakDiffCase is one command line and its standard input.
type clubakDiffCase struct {
	name  string
	args  []string
	stdin string
	env   []string // added to the environment
}

func clubakDiffCases() []clubakDiffCase {
	c := func(name, stdin string, args ...string) clubakDiffCase {
		return clubakDiffCase{name: name, args: args, stdin: stdin}
	}
	withEnv := func(cc clubakDiffCase, env ...string) clubakDiffCase { cc.env = env; return cc }
	// CLIClubakTest.test_006_tree's input.
	treeIn := "foo1:bar\nfoo2:bar\nfoo1:moo\nfoo1:bla\nfoo2:m00\nfoo2:bla\nfoo1:abc\n"
	diffIn := "foo1: bar\nfoo2: BAR\nfoo3: bar\nfoo2: end\nfoo1: end\nfoo3: end"
	var cases []clubakDiffCase
	// test_000_noargs and test_002_b: the same inputs without and with -b.
	for _, mode := range [][]string{nil, {"-b"}} {
		m := strings.Join(mode, "")
		for i, in := range []string{
			"foo: bar\n", "foo space: bar\n", "foo space1: bar\n", "foo space1: bar\nfoo space2: bar",
			"foo space1: bar\nfoo space2: foo", ": bar\n", "foo[: bar\n", "]o[o]: bar\n", "foo:\n", "foo: \n",
			"n1c1: bar\n", "n1c01: bar\n", "n01c01: bar\n", "n001c01: bar\n", "n001c01: bar\nn001c02: bar\n",
		} {
			cases = append(cases, c(fmt.Sprintf("upstream %s input %d", m, i), in, mode...))
		}
	}
	cases = append(cases,
		// test_001_verbosity.
		c("upstream debug", "foo: bar\n", "-d"),
		c("upstream debug gathered", "foo: bar\n", "-d", "-b"),
		c("upstream debug line mode", "foo: bar\n", "-d", "-L"),
		c("upstream verbose", "foo: bar\n", "-v"),
		c("upstream verbose gathered", "foo: bar\n", "-v", "-b"),
		c("upstream quiet no node count", "foo[1-5]: bar\n", "-q", "-b"),
		// test_003_L.
		c("upstream line mode", "foo: bar\n", "-L"),
		c("upstream line mode separator", "foo: bar\n", "-L", "-S", ": "),
		c("upstream line gathered", "foo: bar\n", "-bL"),
		c("upstream line gathered separator", "foo: bar\n", "-bL", "-S", ": "),
		c("upstream line gathered nD", "n1c01: bar\n", "-bL", "-S", ": "),
		// test_004_N.
		c("upstream no label", "foo: bar\n", "-N"),
		c("upstream no label line mode", "foo: bar\n", "-NL"),
		c("upstream no label separator", "foo: bar\n", "-N", "-S", ": "),
		c("upstream no label gathered", "foo: bar\n", "-bN"),
		c("upstream no label gathered separator", "foo: bar\n", "-bN", "-S", ": "),
		// test_005_fast.
		c("upstream fast", "foo: bar\n", "--fast"),
		c("upstream fast gathered", "foo: bar\n", "-b", "--fast"),
		c("upstream fast gathered nodes", "foo2: bar\nfoo1: bar\nfoo4: bar", "-b", "--fast"),
		c("upstream fast line mode", "foo2: bar\nfoo1: bar\nfoo4: bar", "-L", "--fast"),
		// test_006_tree.
		c("upstream tree", "foo: bar\n", "--tree"),
		c("upstream tree line mode", "foo: bar\n", "--tree", "-L"),
		c("upstream tree line mode branches", treeIn, "--tree", "-L"),
		c("upstream tree fast", treeIn, "--tree", "--fast"),
		// test_007_interpret_keys.
		c("upstream keys auto", "foo: bar\n", "--interpret-keys=auto"),
		c("upstream keys auto gathered", "foo: bar\n", "-b", "--interpret-keys=auto"),
		c("upstream keys never gathered", "foo: bar\n", "-b", "--interpret-keys=never"),
		c("upstream keys always gathered", "foo: bar\n", "-b", "--interpret-keys=always"),
		c("upstream keys always range", "foo[1-3]: bar\n", "-b", "--interpret-keys=always"),
		c("upstream keys auto not a set", "[]: bar\n", "-b", "--interpret-keys=auto"),
		c("upstream keys never not a set", "[]: bar\n", "-b", "--interpret-keys=never"),
		c("upstream keys always not a set", "[]: bar\n", "-b", "--interpret-keys=always"),
		// test_008_color.
		c("upstream color default", "foo: bar\n", "-b"),
		c("upstream color never", "foo: bar\n", "-b", "--color=never"),
		c("upstream color auto", "foo: bar\n", "-b", "--color=auto"),
		c("upstream color line mode", "foo: bar\n", "-L", "--color=always"),
		c("upstream color gathered", "foo: bar\n", "-b", "--color=always"),
		// test_009_diff.
		c("upstream diff identical", "foo1: bar\nfoo2: bar", "--diff"),
		c("upstream diff", "foo1: bar\nfoo2: BAR\nfoo2: end\nfoo1: end", "--diff"),
		c("upstream diff node count", diffIn, "--diff"),
		c("upstream diff colors", diffIn, "--diff", "--color=always"),
		c("upstream diff debug", "foo: bar\n", "--diff", "-d"),
		c("upstream diff line mode", "foo1: bar\nfoo2: bar", "--diff", "-L"),
		c("upstream diff not UTF-8 (GH #400)", "host1: \xc3\xa5\nhost2: a\nhost2: b\nhost1: b\n", "--diff"),
		// CLIClubakTestGroupsConf (its default groups.conf is ours).
		c("upstream regroup", "foo1: bar\nfoo2: bar", "-r"),
		c("upstream regroup groupsconf", "foo1: bar\nfoo2: bar", "--groupsconf", "$DATA/custom-groups.conf", "-r"),

		// Input errors.
		c("no separator", "foo: bar\nabc\nbar: x\n", "-b"),
		c("empty line", "foo: bar\n\nbar: x\n"),
		c("empty separator", "foo: bar\n", "-S", ""),
		c("empty separator no input", "", "-S", ""),
		c("key not UTF-8", "\xff: bar\n"),
		c("key not UTF-8 after spaces", "  a\xe2\x82: bar\n"),
		c("no key and content not UTF-8", ": \xff\n"),
		c("no separator not UTF-8", "ab\xc3\n"),
		c("content not UTF-8", "a: \xff\xfe\nb: \xff\xfe\n", "-b"),
		c("error after verbose input", "foo: bar\nbar baz\nqux: 1\n", "-v", "-b"),
		c("error after debug input", "foo: bar\n: x\n", "-d"),
		c("always mode parse error later", "foo: bar\nfoo[1-: x\n", "-v", "--interpret-keys=always"),
		c("always mode range error", "foo[3-1]: bar\n", "--interpret-keys=always"),
		c("always mode padding error", "foo[01-1]: bar\n", "--interpret-keys=always"),
		c("always mode operator error", "a,,b: bar\n", "--interpret-keys=always"),
		c("separator not UTF-8", "foo: bar\n", "-S", "\xff"),
		c("diff line mode after input", "foo1: bar\nfoo2: bar\n", "-v", "--diff", "-L"),
		c("diff line mode bad input first", "foo1 bar\n", "--diff", "-L"),
		c("fast tree", "foo: bar\n", "-F", "-T"),

		// Line endings and separators.
		c("CRLF", "foo: bar\r\nfoo: baz\r\r\n", "-b"),
		c("CR inside", "foo: a\rb\n", "-L"),
		c("no final newline", "foo: bar\nfoo: end", "-L"),
		c("empty input", ""),
		c("empty input debug", "", "-d"),
		c("separator of several bytes", "foo=>bar=>baz\nfoo=>x\n", "-S", "=>", "-L"),
		c("separator tab", "foo\tbar\n", "-S", "\t"),
		c("key with spaces around", "  foo \t: bar\n", "-b"),
		c("content with the separator", "foo: a: b: c\n", "-L"),

		// Keys as node sets.
		c("key ranges", "node[1-3]: up\nnode2: extra\n", "-b"),
		c("key ranges live", "node[1-3]: up\nnode2: extra\n"),
		c("key lists", "a,b: x\nc: x\n", "-b"),
		c("key operators", "x[1-3]^x2: v\n", "-b"),
		c("key group", "@foo: from the group\nfoo3: alone\n", "-b"),
		c("key group unknown", "@nosuch: nothing\nfoo1: x\n", "-b"),
		c("key group of unknown source", "@nosrc:x: nothing\n", "-b", "-S", " "),
		c("key of a source", "@racks:rack2 up\n", "-b", "-S", " "),
		c("key negative index", "x[-1]: v\n"),
		c("nodes sorted", "n10: a\nn2: a\nn1: b\nm3: a\nn10: c\n"),
		c("groups sorted by size then first node", "b1: x\nb2: x\na1: y\nc1: z\nc2: z\nc3: z\nb10: x\n", "-b"),
		c("padding kept", "n01: a\nn1: a\nn001: a\n", "-b"),
		c("nD gathered", "r1n1: a\nr1n2: a\nr2n1: a\nr2n2: b\n", "-b"),
		c("auto switches to names", "foo1: a\nfoo[: b\nfoo2: a\nfoo1: c\n"),
		c("auto switches to names keeps earlier nodes", "foo[1-2]: a\n]x: b\nfoo[1-2]: c\n"),
		c("auto switches gathered single keys", "foo1: a\nfoo[: b\nbar: c\n", "-b"),
		c("never keeps ranges as names", "foo[1-2]: a\nfoo1: b\n", "--interpret-keys=never"),
		c("never with empty choice", "foo[1-2]: a\n", "--interpret-keys="),

		// Output modes.
		c("gathered multi-line", "n1: a\nn2: a\nn1: b\nn2: b\nn3: a\nn3: c\n", "-b"),
		c("gathered all alias", "n1: a\nn2: a\n", "-B"),
		c("gathered -c alias", "n1: a\nn2: a\n", "-c"),
		c("gathered --dshbak", "n1: a\nn2: a\n", "--dshbak"),
		c("live multi-line", "n2: a\nn1: b\nn2: c\nn1: d\n"),
		c("line mode gathered multi", "n1: a\nn2: a\nn1: b\nn2: c\n", "-bL"),
		c("line mode regroup", "foo1: a\nfoo2: a\n", "-L", "-r"),
		c("line mode no label gathered", "n1: a\nn2: a\n", "-bNL"),
		c("verbose gathered counts", "n[1-3]: a\n", "-v", "-b"),
		c("quiet diff", diffIn, "--diff", "-q"),
		c("diff regroup", "foo1: a\nfoo2: a\nfoo3: b\n", "--diff", "-r"),
		c("diff three outputs", "n1: a\nn2: b\nn3: c\nn1: z\nn2: z\nn3: z\n", "--diff"),
		c("diff header-like lines", "n1: x\nn2: --- y\nn2: +++ z\n", "--diff", "--color=always"),
		c("fast diff", "n1: a\nn2: b\nn1: z\nn2: z\n", "--diff", "--fast"),
		c("fast multi-line", "n2: a\nn1: a\nn2: b\nn1: b\nn3: c\n", "-F"),
		c("fast verbose", "n1: a\nn1: b\n", "-F", "-v", "-b"),
		c("fast debug depth", "n1: a\nn1: b\nn1: c\n", "-F", "-d"),
		c("debug depth", "n1: a\nn1: b\nn1: c\nn2: a\n", "-d"),
		c("debug regroup", "foo1: a\nfoo2: a\n", "-d", "-r"),
		c("regroup source", "node1: x\nnode2: x\nnode3: y\n", "-b", "-r", "-s", "racks"),
		c("regroup source no prefix", "node1: x\nnode2: x\n", "-b", "-r", "-G", "-s", "racks"),
		c("regroup unknown source", "node1: x\nnode2: x\n", "-b", "-r", "-s", "nosrc"),
		c("regroup unknown source unused", "node1: x\n", "-b", "-s", "nosrc"),
		c("diff regroup unknown source single output", "node1: x\nnode2: x\n", "--diff", "-r", "-s", "nosrc"),
		c("groupsconf missing", "foo: x\n", "--groupsconf", "$DATA/nosuch.conf"),
		c("groupsconf missing with a group", "@g: x\n", "--groupsconf", "$DATA/nosuch.conf"),
		c("groupsconf missing regroup", "foo: x\n", "-r", "--groupsconf", "$DATA/nosuch.conf"),
		c("groupsconf missing debug", "foo: x\n", "-d", "--groupsconf", "$DATA/nosuch.conf"),
		c("groupsconf broken", "foo: x\n", "--groupsconf", "$DATA/broken-groups.conf"),
		c("groupsconf broken debug", "foo: x\n", "-d", "--groupsconf", "$DATA/broken-groups.conf"),
		c("groupsconf broken with a group", "@g: x\n", "--groupsconf", "$DATA/broken-groups.conf"),
		c("outdir and errdir ignored", "n1: a\n", "--outdir", "od", "--errdir", "ed"),
		c("arguments ignored", "n1: a\n", "-b", "some", "args"),

		// Trace mode.
		c("tree branches", treeIn, "--tree"),
		c("tree gathered", treeIn, "-T", "-b"),
		c("tree no label", treeIn, "-T", "-N"),
		c("tree colors", treeIn, "-T", "--color=always"),
		c("tree line mode colors", treeIn, "-T", "-L", "--color=always"),
		c("tree regroup", "foo1: a\nfoo2: a\nfoo1: b\n", "-T", "-r"),
		c("tree deep", "b: 1\na: 2\nc: 1\nb: x\nc: y\nb: z\nd: 1\nd: x\nd: q\nd: r\n", "-T"),
		c("tree verbose", "n1: a\nn2: a\nn2: b\n", "-T", "-v"),
		c("tree raw keys", "a b: 1\n]x: 2\n", "-T", "--interpret-keys=never"),
		c("tree raw key not a set", "]x: 2\n", "-T"),
		c("tree debug", treeIn, "-T", "-d"),
		c("tree line mode no label", treeIn, "-T", "-L", "-N"),
		c("tree quiet diff", treeIn, "-T", "-q", "--diff"),
		c("tree indent of a new depth after a shallower one", "a: 1\nb: 1\na: 2\nb: 3\nb: 4\nb: 5\nc: 1\nc: 3\nc: 4\nc: 6\n", "-T"),

		// Raw keys, each output of a single key (deterministic in clubak).
		c("raw keys gathered order", "b: 1\na: 2\nc: 3\nb: 4\na: 5\n", "-b", "--interpret-keys=never"),
		c("raw keys fast gathered order", "b: 1\na: 2\nc: 3\nb: 4\n", "-F", "-b", "--interpret-keys=never"),
		c("raw keys live order", "b: 1\na: 2\nc: 3\n", "--interpret-keys=never"),
		c("raw keys line mode", "b: 1\na: 2\nb: 3\n", "-L", "--interpret-keys=never"),
		c("raw keys diff", "b: 1\na: 2\nb: 3\n", "--diff", "--interpret-keys=never"),

		// Colors from the environment.
		withEnv(c("NO_COLOR", "n1: a\n", "-b"), "NO_COLOR=1", "CLICOLOR_FORCE=1"),
		withEnv(c("CLICOLOR_FORCE", "n1: a\n", "-b"), "CLICOLOR_FORCE=1"),
		withEnv(c("CLICOLOR_FORCE overridden", "n1: a\n", "-b", "--color=never"), "CLICOLOR_FORCE=1"),
		withEnv(c("CLICOLOR off", "n1: a\n", "-b"), "CLICOLOR=0"),

		// Command line.
		c("help", "", "--help"),
		withEnv(c("help narrow", "", "-h"), "COLUMNS=50"),
		c("version", "", "--version"),
		c("unknown option", "", "-z"),
		c("bad color", "", "--color=x"),
		c("bad interpret-keys", "", "--interpret-keys", "x"),
		c("option as a value", "", "-s", "-b"),
		c("missing value", "", "-S"),
		c("ambiguous long option", "", "--gr", "x"),
	)
	return append(cases, clubakToolCases()...)
}

// clubakDiffRun is one side's run of a case.
type clubakDiffRun struct {
	stdout, stderr string
	status         int
}

// clubakDiffSetup is what the clubak differential tests share: the
// reference required, our clubak, the directory of their data files
// (testdata/clubak) and the hermetic environment both sides run in.
func clubakDiffSetup(t *testing.T) (ours, data string, env []string) {
	t.Helper()
	requireReference(t, clubakDiffRef, "clubak 1.9")
	ours = ourBinary(t, "FLEETSH_CLUBAK_OURS", "clubak")
	data, err := filepath.Abs(filepath.Join("testdata", "clubak"))
	if err != nil {
		t.Fatal(err)
	}
	return ours, data, hermeticEnv(t.TempDir(), filepath.Join(data, "conf"))
}

func TestClubakDiff(t *testing.T) {
	ours, data, env := clubakDiffSetup(t)
	cases := diffCases(t, clubakDiffCases(), func(c clubakDiffCase) string { return c.name },
		"FLEETSH_CLUBAK_DIFF_RUN", 200, clubakDiffShortCases)
	type result struct {
		args []string
		diff string // how ours differs from the reference, "" if not
		err  error
	}
	results := make([]result, len(cases))
	forEachParallel(len(cases), max(2, runtime.GOMAXPROCS(0)), func(i int) {
		c := cases[i]
		r := &results[i]
		for _, a := range c.args {
			r.args = append(r.args, strings.ReplaceAll(a, "$DATA", data))
		}
		r.diff, r.err = clubakDiffBoth(ours, r.args, c.stdin, append(slices.Clone(env), c.env...))
	})
	for i, c := range cases {
		r := results[i]
		t.Run(c.name, func(t *testing.T) {
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.diff != "" {
				t.Errorf("$ clubak %q <<< %q\n%s", r.args, c.stdin, r.diff)
			}
		})
	}
	t.Run("closed pipe", func(t *testing.T) {
		// clubak -L | head -1: status 1, nothing on standard error, what
		// clubak does when its own flush meets the closed pipe (when
		// Python's final flush fails too, it exits 120 with "Exception
		// ignored ... BrokenPipeError": not compared).
		if status, errOut := clubakClosedPipe(t, ours, env); status != 1 || errOut != "" {
			t.Errorf("ours: status %d, stderr %q; want 1 and nothing", status, errOut)
		}
	})
}

// clubakClosedPipe runs bin -L on many lines with its standard output read
// up to its first line and closed, and returns its exit status and
// standard error.
func clubakClosedPipe(t *testing.T, bin string, env []string) (int, string) {
	t.Helper()
	var in strings.Builder
	for i := range 100000 {
		fmt.Fprintf(&in, "n%d: x\n", i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-L")
	cmd.Env, cmd.Stdin = env, strings.NewReader(in.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := out.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	out.Close()
	err = cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

// clubakDiffBoth runs the reference clubak and ours (the binary ours)
// with args, stdin and env, and returns how ours differs, "" if not.
func clubakDiffBoth(ours string, args []string, stdin string, env []string) (string, error) {
	ref, err := clubakDiffExec(clubakDiffRef, args, stdin, env)
	if err != nil {
		return "", err
	}
	got, err := clubakDiffExec(ours, args, stdin, env)
	if err != nil {
		return "", err
	}
	return diffReport("ours", "clubak", got.status, ref.status, nil,
		diffStream{"stdout", got.stdout, ref.stdout}, diffStream{"stderr", got.stderr, ref.stderr}), nil
}

// clubakDiffExec runs bin with args and stdin in a fresh directory.
func clubakDiffExec(bin string, args []string, stdin string, env []string) (clubakDiffRun, error) {
	dir, err := os.MkdirTemp("", "clubak-diff-")
	if err != nil {
		return clubakDiffRun{}, err
	}
	defer os.RemoveAll(dir)
	p, err := runProc(dir, bin, args, env, strings.NewReader(stdin), 60*time.Second)
	return clubakDiffRun{stdout: p.stdout, stderr: p.stderr, status: p.status}, err
}
