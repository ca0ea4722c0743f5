package integration

// Differential test of csub against ClusterShell 1.9's clush.
//
// Every case runs the same command line through the reference
// /usr/bin/clush and through csub (built once from ./cmd/csub), both with
// the exec worker (-R exec: commands run here, %h is the node name, no
// ssh), from a fresh directory of their own holding the same fixture
// files, with the same hermetic configuration (testdata/csub/conf through
// CLUSTERSHELL_CFGDIR: groups.conf, YAML groups, clush.conf, run modes).
// The run must give the same exit status, the same standard output and
// error, and leave the same files in its directory (--outdir, copies),
// after two normalizations of clush's side: "clush" becomes "csub" (clush
// prints its own name), and each side's directory path becomes $T.
//
// Lines printed as they come are not in a defined order: clush runs its
// nodes in a random order (a Python set of objects), csub as the fleet
// reports them. So each stream is compared as two parts: the lines
// labelled with one node ("node1: ...", "csub: node1: ...") must be the
// same per node and in the same order for each node, and every other
// line (headers, folded node sets, messages) the same in the same order.
// clush's progress counter ("csub: 2/4\r"), which depends on timing, is
// left out on both sides.
//
// clush runs with PYTHONUNBUFFERED=1: clush writes its messages (-v's
// "[mode] run mode activated", "Picked random nodes") with print() and
// the output to sys.stdout's buffer underneath, so when its standard
// output is a pipe Python's text buffer moves those messages after the
// output. Unbuffered, clush prints in the order it runs, as on a
// terminal, which is the order csub keeps everywhere.
//
// Environment:
//
//	FLEETSH_REQUIRE_CLUSTERSHELL=1   fail instead of skip without /usr/bin/clush
//	FLEETSH_CSUB_DIFF_RUN=substr     only the cases whose name contains substr
//	FLEETSH_DIFF_SEED=N|random       with -short, the seed that picks the
//	                                 sample (default: diffDefaultSeed; random:
//	                                 from the clock, to explore)
//	FLEETSH_DIFF_CASES=N             with -short, the sample's size (default
//	                                 csubDiffShortCases); without -short every
//	                                 case runs
//	FLEETSH_CSUB_OURS=path           use this csub instead of building one

import (
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	csubDiffClush = "/usr/bin/clush"
	// csubDiffShortCases is how many cases -short runs, picked by the seed.
	csubDiffShortCases = 24
)

// csubDiffCase is one command line run by both.
type csubDiffCase struct {
	name  string
	args  []string
	stdin string // "" reads /dev/null
	// files are the fixture files of the run's directory (a name ending
	// in "/" is a directory).
	files map[string]string
	// anyOrder compares output lines as sets: clush runs several copies
	// at once and prints their lines in whatever order they start.
	anyOrder bool
}

// csubDiffFiles are the fixtures most cases get.
var csubDiffFiles = map[string]string{
	"src.txt":   "source file\nline 2\n",
	"src2.txt":  "second source\n",
	"out/":      "",
	"dd/":       "",
	"hosts":     "node1 node2\n@gpu\n\n",
	"badhosts":  "node[\n",
	"plainfile": "x\n",
}

func csubDiffCases() []csubDiffCase {
	fail := "echo out; echo err >&2; exit 3"
	diffCmd := "echo common; [ %h = node3 ] && echo special || echo normal; echo end"
	c := func(name string, args ...string) csubDiffCase { return csubDiffCase{name: name, args: args} }
	in := func(cc csubDiffCase, stdin string) csubDiffCase { cc.stdin = stdin; return cc }
	anyOrder := func(cc csubDiffCase) csubDiffCase { cc.anyOrder = true; return cc }
	exe := func(name string, args ...string) csubDiffCase {
		return csubDiffCase{name: name, args: append([]string{"-R", "exec"}, args...)}
	}
	return []csubDiffCase{
		// The output modes.
		exe("live", "-w", "node[1-3]", "echo", "hi"),
		exe("live without labels", "-w", "node[1-4]", "-N", "echo hi"),
		exe("live stdout, stderr and exit codes", "-w", "node[1-4]", fail),
		exe("live maxrc", "-w", "node[1-4]", "-S", fail),
		exe("live maxrc quiet", "-w", "node[1-2]", "-qS", "exit 3"),
		exe("live quiet shows exit codes", "-w", "node[1-2]", "-q", "exit 3"),
		exe("live killed by a signal", "-w", "node[1-2]", "kill -9 $$"),
		exe("live mixed exit codes", "-w", "node[1-5]", "-S", "echo %h; case %h in node2) exit 2;; node4) exit 9;; esac"),
		exe("command after the first non-option", "-w", "node[1-2]", "echo", "-b", "-w", "x"),
		exe("gathered", "-w", "node[1-3]", "-b", "echo hi"),
		exe("gathered distinct outputs", "-w", "node[1-4]", "-b", "echo line1; echo %h"),
		exe("gathered with stderr and exit codes", "-w", "node[1-4]", "-b", fail),
		exe("gathered with stderr merged", "-w", "node[1-4]", "-B", fail),
		exe("gathered split by exit code", "-w", "node[1-4]", "-bS", "echo out; [ %h = node2 ] && exit 5; exit 0"),
		exe("gathered quiet", "-w", "node[1-4]", "-bq", "echo out; exit 2"),
		exe("gathered verbose", "-w", "node[1-4]", "-bv", "echo out; echo e >&2; exit 2"),
		exe("gathered without labels", "-w", "node[1-4]", "-bN", "echo %h"),
		exe("gathered no output", "-w", "node[1-3]", "-b", "exit 1"),
		exe("sorted", "-w", "node[1-4]", "-L", "echo line1; echo %h"),
		exe("sorted by exit code", "-w", "node[1-4]", "-L", "echo %h; [ %h = node1 ] && exit 4; exit 0"),
		exe("sorted without labels", "-w", "node[1-3]", "-LN", "echo %h"),
		exe("line gathered", "-w", "node[1-4]", "-bL", "echo line1; echo %h | cut -c1-4"),
		exe("line gathered distinct", "-w", "node[1-4]", "-bL", "echo %h; echo same"),
		exe("line gathered exit code", "-w", "node[1-4]", "-bL", "echo same; [ %h = node2 ] && exit 1; true"),
		exe("line gathered stderr merged", "-w", "node[1-3]", "-BL", "echo o; echo e >&2"),
		// Timeouts (-u).
		exe("timeout", "-w", "node[1-3]", "-u", "1", "sleep 3"),
		exe("timeout maxrc", "-w", "node[1-3]", "-u", "1", "-S", "sleep 3"),
		exe("timeout quiet maxrc", "-w", "node[1-2]", "-u", "1", "-qS", "sleep 3"),
		exe("timeout gathered", "-w", "node[1-3]", "-b", "-u", "1", "echo before; sleep 3; echo after"),
		exe("timeout gathered partial", "-w", "node[1-4]", "-b", "-u", "1", "-S", "echo before; [ %h = node4 ] && exit 0; sleep 3"),
		exe("timeout live partial", "-w", "node[1-4]", "-u", "1", "-S", "echo before; [ %h = node4 ] && exit 7; sleep 3"),
		exe("timeout sorted", "-w", "node[1-3]", "-L", "-u", "1", "echo %h; [ %h = node2 ] && sleep 3; true"),
		// Exclusions and fanout.
		exe("exclude", "-w", "node[1-5]", "-x", "node[2-3]", "-b", "echo hi"),
		exe("exclude twice", "-w", "node[1-5]", "-x", "node2", "-x", "node4", "-b", "echo hi"),
		exe("exclude everything", "-w", "node[1-2]", "-x", "node[1-2]", "true"),
		exe("exclude a group", "-g", "all", "-X", "rack1", "-b", "echo hi"),
		exe("fanout 1", "-f", "1", "-w", "node[1-4]", "-b", "echo %h"),
		exe("fanout 2 sorted", "--fanout=2", "-w", "node[1-5]", "-L", "echo %h"),
		exe("fanout 1 live maxrc", "-f", "1", "-w", "node[1-3]", "-S", "exit 2"),
		// Groups.
		exe("group", "-g", "compute", "-b", "echo hi"),
		exe("groups folded", "-g", "rack[1-2]", "-b", "echo hi"),
		exe("all nodes", "-a", "-b", "echo hi"),
		exe("all nodes regrouped", "-a", "-r", "-b", "echo hi"),
		exe("regroup with a source", "-w", "node[1-4]", "-s", "racks", "-r", "-b", "echo hi"),
		exe("regroup without prefix", "-w", "node[1-4]", "-s", "racks", "-G", "-r", "-b", "echo hi"),
		exe("regroup sorted", "-w", "node[1-4]", "-r", "-L", "echo hi"),
		exe("regroup line gathered", "-w", "node[1-4]", "-r", "-bL", "echo hi"),
		exe("group reference", "-w", "@gpu", "-b", "echo hi"),
		exe("group of a source", "-w", "@racks:rack2", "-b", "echo hi"),
		exe("group of the -s source", "-s", "racks", "-g", "rack1", "-b", "echo hi"),
		exe("unknown group source", "-s", "nosrc", "-w", "node1", "true"),
		exe("unknown group", "-g", "nosuchgroup", "true"),
		exe("groupsconf", "--groupsconf", "$CONF/../alt-groups.conf", "-w", "@odd", "-b", "echo hi"),
		exe("groupsconf all", "--groupsconf", "$CONF/../alt-groups.conf", "-a", "-r", "-b", "echo hi"),
		// --diff.
		exe("diff", "-w", "node[1-4]", "--diff", diffCmd),
		exe("diff quiet", "-w", "node[1-4]", "--diff", "-q", diffCmd),
		exe("diff regrouped", "-w", "node[1-4]", "--diff", "-r", diffCmd),
		exe("diff identical", "-w", "node[1-4]", "--diff", "echo same"),
		exe("diff by exit code", "-w", "node[1-4]", "--diff", "echo a; [ %h = node3 ] && exit 2; [ %h = node4 ] && echo b; true"),
		exe("diff against no output", "-w", "node[1-3]", "--diff", "[ %h = node2 ] && exit 0; echo x"),
		exe("diff colors", "-w", "node[1-4]", "--diff", "--color=always", diffCmd),
		exe("diff line mode", "-w", "node[1-2]", "--diff", "-L", "true"),
		// Colors.
		exe("colors gathered", "-w", "node[1-2]", "--color=always", "-b", "echo hi; echo e >&2; exit 1"),
		exe("colors live", "-w", "node[1-2]", "--color=always", "echo hi; echo e >&2"),
		exe("colors sorted", "-w", "node[1-2]", "--color=always", "-L", "echo hi"),
		exe("colors from -O", "-w", "node[1-2]", "-O", "color=always", "-b", "echo hi"),
		exe("colors never", "-w", "node[1-2]", "--color=never", "-b", "echo hi"),
		// --outdir, --errdir.
		exe("outdir and errdir", "-w", "node[1-3]", "--outdir", "od", "--errdir", "ed", "echo o-%h; echo e-%h >&2; [ %h = node2 ] && echo two"),
		exe("outdir only", "-w", "node[1-2]", "--outdir", "od/sub", "echo %h"),
		exe("outdir is a file", "-w", "node[1-2]", "--outdir", "plainfile", "echo %h"),
		exe("hostfile is a directory", "--hostfile", "out", "true"),
		exe("outdir ignored when gathering", "-w", "node[1-2]", "--outdir", "od", "-b", "echo %h"),
		// Copies.
		exe("copy verbose", "-w", "node[1-3]", "-v", "-c", "src.txt", "--dest", "out/%h.txt"),
		// -f 1: with the exec worker both nodes' cp write the same local
		// out/src2.txt, and two cp racing to create one file fail with
		// "File exists" (clush as well as csub).
		anyOrder(exe("copy two sources", "-w", "node[1-2]", "-f", "1", "-v", "-c", "src.txt", "src2.txt", "--dest", "out")),
		exe("copy preserve", "-w", "node[1-2]", "-c", "src.txt", "-p", "--dest", "out/%h"),
		exe("copy to its own directory", "-w", "node[1-2]", "-v", "-c", "src.txt"),
		exe("copy missing source", "-w", "node[1-2]", "-c", "nosuch", "src.txt", "--dest", "out"),
		exe("copy without source", "-w", "node[1-2]", "-c"),
		// Not compared: a reverse copy with the exec worker, which clush
		// 1.9.1 gets wrong ("cp -r <dest> <source>"), and fleetsh's exec
		// driver right (see pkg/workers/exec).
		exe("rcopy missing destination", "-w", "node1", "--rcopy", "src.txt", "--dest", "nodir"),
		exe("rcopy destination not a directory", "-w", "node1", "--rcopy", "src.txt", "--dest", "plainfile"),
		// Standard input.
		in(exe("stdin forwarded", "-w", "node[1-2]", "-b", "cat"), "input line\nsecond\n"),
		in(exe("stdin not forwarded", "-w", "node[1-2]", "-n", "-b", "cat; echo read"), "input line\n"),
		in(exe("stdin sorted", "-w", "node[1-3]", "-L", "wc -l"), "a\nb\nc\n"),
		// clush.conf, -O, -m, --conf.
		exe("node_count off", "-w", "node[1-2]", "-O", "node_count=no", "-b", "echo hi"),
		exe("maxrc from -O", "-w", "node1", "-O", "maxrc=yes", "exit 4"),
		exe("verbosity from -O", "-w", "node[1-4]", "-O", "verbosity=0", "-b", "echo out; exit 2"),
		exe("bad fanout value", "-w", "node1", "-O", "fanout=x", "true"),
		exe("bad -O", "-w", "node1", "-O", "bogus", "true"),
		exe("bad color value", "-w", "node1", "-O", "color=blue", "true"),
		exe("bad node_count value", "-w", "node1", "-O", "node_count=maybe", "-b", "true"),
		exe("bad fd_max value", "-w", "node1", "-O", "fd_max=abc", "true"),
		exe("unknown mode", "-w", "node1", "-m", "nosuch", "true"),
		exe("mode command prefix", "-w", "node[1-2]", "-m", "pfx", "-v", "-b", "printenv MODE"),
		exe("mode settings", "-w", "node[1-3]", "-m", "rc", "-b", "echo hi; [ %h = node2 ] && sleep 3; exit 3"),
		exe("alternate clush.conf", "--conf", "$CONF/../alt-clush.conf", "-w", "node[1-3]", "-b", "echo hi"),
		// Node selection files and picks.
		exe("hostfile", "--hostfile", "hosts", "-b", "echo hi"),
		exe("machinefile and -w", "--machinefile", "hosts", "-w", "node5", "-b", "echo hi"),
		exe("missing hostfile", "--hostfile", "nohosts", "true"),
		exe("bad hostfile", "--hostfile", "badhosts", "true"),
		exe("pick all", "-w", "node[1-3]", "--pick", "5", "-v", "-b", "echo hi"),
		exe("pick negative", "-w", "node[1-3]", "--pick", "-1", "true"),
		exe("progress short", "-w", "node[1-3]", "-P", "echo hi"),
		// -d: clush's own lines, its workers' (EXECCLIENT, each line
		// read as a Python bytes literal), fd_max applied.
		exe("debug", "-w", "node[1-2]", "-d", `echo ok; echo "it's"; printf 'tab\there\n'`),
		exe("debug stderr and exit codes", "-w", "node[1-3]", "-d", fail),
		exe("debug gathered", "-w", "node[1-3]", "-d", "-b", "echo line1; echo %h"),
		exe("debug stderr merged", "-w", "node[1-2]", "-d", "-B", fail),
		exe("debug sorted", "-w", "node[1-3]", "-d", "-L", "echo %h"),
		exe("debug line gathered", "-w", "node[1-3]", "-d", "-bL", "echo same; echo %h"),
		exe("debug one command for all nodes", "-w", "node[1-3]", "-d", "echo %hosts"),
		exe("debug last line without newline", "-w", "node[1-2]", "-d", "echo a; printf b"),
		exe("debug quiet", "-w", "node[1-2]", "-d", "-q", "echo ok"),
		exe("debug copy", "-w", "node[1-2]", "-d", "-c", "src.txt", "--dest", "out/%h.txt"),
		exe("debug timeout", "-w", "node[1-2]", "-d", "-u", "1", "echo before; sleep 3"),
		exe("fd_max applied", "-w", "node1", "-O", "fd_max=100", "ulimit -n"),
		exe("fd_max applied debug", "-w", "node1", "-d", "-O", "fd_max=100", "ulimit -n"),
		exe("fd_max over the hard limit", "-w", "node1", "-v", "-O", "fd_max=2147483647", "true"),
		// The verbosity combinations of upstream's CLIClushTest.py.
		exe("upstream quiet verbose", "-qvw", "node1", "echo", "ok"),
		exe("upstream quiet line gathered", "-w", "node[1-2]", "-qbL", "echo", "ok"),
		exe("upstream quiet merged line", "-w", "node[1-2]", "-qBL", "echo", "ok"),
		exe("upstream quiet merged line maxrc", "-w", "node[1-2]", "-qBLS", "echo", "ok"),
		exe("upstream verbose false", "-v", "-w", "node1", "/bin/false"),
		exe("upstream gathered quiet false", "-w", "node[1-2]", "-b", "-q", "/bin/false"),
		exe("upstream gathered quiet false maxrc", "-w", "node[1-2]", "-S", "-b", "-q", "/bin/false"),
		exe("upstream progress quiet", "-w", "node1", "--progress", "-q", "echo ok"),
		exe("upstream progress stderr", "-w", "node1", "--progress", "echo foo >&2; echo bar"),
		exe("upstream debug hostfile", "-d", "--hostfile", "hosts", "-b", "echo hi"),
		exe("upstream debug groups", "-d", "-g", "compute", "-X", "rack1", "-b", "echo hi"),
		exe("upstream debug all", "-d", "-a", "-b", "echo hi"),
		// Errors.
		exe("parse error", "-w", "node[1-2", "true"),
		exe("range error", "-w", "node[3-1]", "true"),
		exe("no node", "true"),
		exe("bad placeholder", "-w", "node1", "echo %x"),
		exe("unknown worker", "-R", "foo", "-w", "node1", "true"),
		c("unknown option", "-z", "-w", "node1", "true"),
		c("bad engine", "-E", "foo", "-w", "node1", "true"),
		c("bad color", "--color=x", "-w", "node1", "true"),
		c("option as a value", "-w", "-b", "true"),
		c("fanout not an integer", "-f", "x", "-w", "node1", "true"),
		c("version", "--version"),
	}
}

// csubDiffRun is one side's run of a case.
type csubDiffRun struct {
	stdout, stderr string
	status         int
	files          string // the directory's files after the run
}

func TestCsubDiff(t *testing.T) {
	requireReference(t, csubDiffClush, "clush 1.9")
	ours := ourBinary(t, "FLEETSH_CSUB_OURS", "csub")
	conf, env := csubDiffConf(t)

	cases := diffCases(t, csubDiffCases(), func(c csubDiffCase) string { return c.name },
		"FLEETSH_CSUB_DIFF_RUN", 60, csubDiffShortCases)
	// Run every case first, several at a time whatever -parallel says:
	// clush's Python start-up costs CPU, and the timeout cases only wait.
	type result struct {
		args     []string
		ref, got csubDiffRun
		err      error
	}
	results := make([]result, len(cases))
	forEachParallel(len(cases), max(4, 3*runtime.GOMAXPROCS(0)), func(i int) {
		c := cases[i]
		args := make([]string, len(c.args))
		for j, a := range c.args {
			args[j] = strings.ReplaceAll(a, "$CONF", conf)
		}
		r := &results[i]
		r.args = args
		if r.ref, r.err = csubDiffExec(csubDiffClush, args, c, env, true); r.err == nil {
			r.got, r.err = csubDiffExec(ours, args, c, env, false)
		}
	})
	for i, c := range cases {
		r := results[i]
		t.Run(c.name, func(t *testing.T) {
			if r.err != nil {
				t.Fatal(r.err)
			}
			canon := csubDiffCanon
			if c.anyOrder {
				canon = sortedLines
			}
			if d := csubDiffReport(r.got, r.ref, canon); d != "" {
				t.Errorf("$ csub %s\n%s", strings.Join(r.args, " "), d)
			}
		})
	}
}

// csubDiffReport says how csub's run differs from clush's: status, output,
// error and files, each stream compared after canon.
func csubDiffReport(got, ref csubDiffRun, canon func(string) string) string {
	return diffReport("csub", "clush", got.status, ref.status, canon,
		diffStream{"stdout", got.stdout, ref.stdout}, diffStream{"stderr", got.stderr, ref.stderr}, diffStream{"files", got.files, ref.files})
}

// csubProgress is clush's progress counter (with its " write: <rate>/s"
// once the nodes took standard input) and its erasure.
var csubProgress = regexp.MustCompile(`csub: *\d+/\d+( write: [^\r]*/s)?\r| +\r`)

// csubSoftLimit is the varying part of fd_max's -d line.
var csubSoftLimit = regexp.MustCompile(`(?m)^(Changing max open files soft limit from )-?\d+`)

// csubDiffExec runs bin with args in a fresh directory holding the
// case's fixtures, and normalizes what it printed.
func csubDiffExec(bin string, args []string, c csubDiffCase, env []string, isClush bool) (csubDiffRun, error) {
	files := c.files
	if files == nil {
		files = csubDiffFiles
	}
	dir, err := csubDiffDir("csub-diff-", files)
	if err != nil {
		return csubDiffRun{}, err
	}
	defer os.RemoveAll(dir)
	var stdin io.Reader
	if c.stdin != "" {
		stdin = strings.NewReader(c.stdin)
	}
	p, err := runProc(dir, bin, args, env, stdin, 60*time.Second)
	if err != nil {
		return csubDiffRun{}, err
	}
	r := csubDiffRun{status: p.status}
	norm := func(s string) string {
		if isClush {
			s = strings.ReplaceAll(s, "clush", "csub")
		}
		return strings.ReplaceAll(s, dir, "$T")
	}
	// -d names the open files soft limit csub (Go) raised itself to at
	// start-up where clush names the one it got (docs/csub.md).
	r.stdout = csubSoftLimit.ReplaceAllString(norm(p.stdout), "${1}N")
	r.stderr = csubProgress.ReplaceAllString(norm(p.stderr), "")
	r.files, err = csubDiffTree(dir)
	return r, err
}

// csubDiffDir makes a fresh temporary directory holding files (a name
// ending in "/" is a directory); the caller removes it.
func csubDiffDir(prefix string, files map[string]string) (string, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", err
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, "/") {
			err = os.MkdirAll(p, 0o755)
		} else {
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			os.RemoveAll(dir)
			return "", err
		}
	}
	return dir, nil
}

// csubDiffTree lists the files under dir with their modes and contents.
func csubDiffTree(dir string) (string, error) {
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if de.IsDir() {
			fmt.Fprintf(&b, "%s/\n", rel)
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, _ := de.Info()
		fmt.Fprintf(&b, "%s %v %q\n", rel, info.Mode().Perm(), data)
		return nil
	})
	return b.String(), err
}

// csubNodeLine matches the lines that belong to one node: "node1: ..."
// and "csub: node1: ..." (a plain name, not a folded set).
var csubNodeLine = regexp.MustCompile(`^(?:\x1b\[9[14]m)?(?:csub: )?([A-Za-z][A-Za-z0-9_.-]*): `)

// csubDiffCanon puts the lines of each node together, in node order and
// each node's own order, after the other lines, kept in their order.
// sortedLines is s with its lines sorted.
func sortedLines(s string) string {
	lines := strings.SplitAfter(s, "\n")
	slices.Sort(lines)
	return strings.Join(lines, "")
}

// -d's worker lines come as each node starts and reads: "EXECCLIENT: cmd"
// (one per node, %h substituted) are compared as a set, and each node's
// "node1: b'...'" lines as a set of their own (its stdout and stderr are
// two pipes read in any order); the order of a debug line and its output
// line is tested in pkg/engine and pkg/fleet/agent.
func csubDiffCanon(s string) string {
	lines := strings.SplitAfter(s, "\n")
	var other, clients []string
	byNode := map[string][]string{}
	debugs := map[string][]string{}
	var nodes []string
	for _, l := range lines {
		if csubDebugClient.MatchString(l) {
			clients = append(clients, l)
			continue
		}
		if m := csubDebugRead.FindStringSubmatch(l); m != nil {
			debugs[m[1]] = append(debugs[m[1]], l)
			continue
		}
		m := csubNodeLine.FindStringSubmatch(l)
		if m == nil || m[1] == "csub" || m[1] == "Usage" || m[1] == "ERROR" {
			other = append(other, l)
			continue
		}
		if _, ok := byNode[m[1]]; !ok {
			nodes = append(nodes, m[1])
		}
		byNode[m[1]] = append(byNode[m[1]], l)
	}
	slices.Sort(nodes)
	var b strings.Builder
	for _, l := range other {
		b.WriteString(l)
	}
	b.WriteString("\x00")
	for _, n := range nodes {
		for _, l := range byNode[n] {
			b.WriteString(l)
		}
	}
	slices.Sort(clients)
	b.WriteString("\x00" + strings.Join(clients, ""))
	for _, n := range slices.Sorted(maps.Keys(debugs)) {
		slices.Sort(debugs[n])
		b.WriteString("\x00" + strings.Join(debugs[n], ""))
	}
	return b.String()
}

// The worker lines of -d: a client's command line, a line read.
var (
	csubDebugClient = regexp.MustCompile(`^[A-Z]+CLIENT: `)
	csubDebugRead   = regexp.MustCompile(`^([^ :]+): b['"]`)
)
