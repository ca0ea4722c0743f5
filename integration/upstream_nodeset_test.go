package integration

// ClusterShell's own nodeset CLI tests, run as command lines against the
// reference and against ours.
//
// ClusterShell 1.9.1's tests/CLINodesetTest.py calls nodeset's main() in
// process with argument lists, a standard input and a group configuration
// set up per test class. Every one of those calls is a case here (a line
// of testdata/upstream/nodeset_cases.txt, under its upstream test method,
// or made by a generator of upstream_nodeset_cases_test.go), run through
// Debian's ClusterShell 1.9.1 and through our freshly built ./cmd/nodeset
// with the same arguments, standard input and configuration; stdout,
// stderr and the exit status must be byte for byte the same. This is our own test code: only the command lines come from
// upstream, and the reference decides what they print. For the cases that
// depend on a group configuration, the upstream expectation is also
// checked against the reference's output, so that a harness that lost the
// configuration cannot pass by having both sides agree on nothing.
//
// The group configuration that upstream installs with
// set_std_group_resolver(GroupResolverConfig(file)) is given here with
// --groupsconf file, the command line's way to read that one file and no
// other (a groups.conf in $CLUSTERSHELL_CFGDIR would be merged with
// /etc/clustershell/groups.conf's sections). CLINodesetGroupsConfOption,
// which tests --groupsconf against the default configuration, gets its
// default as $CLUSTERSHELL_CFGDIR/groups.conf (merged, on both sides, with
// the machine's /etc/clustershell/groups.conf, whose sources then show in
// --list-all as they would for a user).
//
// The reference runs as upstream runs it: nodeset's main() called in one
// Python process per configuration (testdata/upstream/nodeset_main.py, the
// counterpart of upstream's TLib.CLI_main), which takes seconds where a
// Python process per case took minutes. The driver gives each call fresh
// file descriptors 1 and 2, resolver and logging, as a new process has;
// FLEETSH_NODESET_OURS=/usr/bin/nodeset (the reference as real processes
// on our side) checks that it prints what the real processes print. Ours
// runs as a process per case.
//
// Environment:
//
//	FLEETSH_REQUIRE_CLUSTERSHELL=1   fail instead of skip without the reference
//	FLEETSH_NODESET_OURS=path        use this binary instead of building one
//	                                 (/usr/bin/nodeset checks the driver)
//	FLEETSH_UPSTREAM_RUN=substr      only the cases whose method contains substr

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// upstreamNodesetCase is one main() call of CLINodesetTest.py.
type upstreamNodesetCase struct {
	method string // the upstream test method, "Class.test_name"
	conf   string // key of upstreamNodesetConfs: the group configuration
	args   []string
	stdin  string
	// want, when set, is upstream's expected stdout, checked against the
	// reference's.
	want *string
}

// upstreamNodesetConfs are the group configurations of the upstream test
// classes, as the files of a $CLUSTERSHELL_CFGDIR. "$DIR" in a file is the
// directory's path. The "" configuration has no groups.conf at all.
var upstreamNodesetConfs = map[string]map[string]string{
	"": {},
	// CLINodesetGroupResolverTest1.
	"resolver1": {"groups.conf": `[Main]
default: local

[local]
map: echo example[1-100]
all: echo example[1-1000]
list: echo foo bar moo
`},
	// CLINodesetGroupResolverTest2.
	"resolver2": {"groups.conf": upstreamResolver2},
	// CLINodesetGroupResolverTest3: a source without a list upcall.
	"resolver3": {"groups.conf": upstreamResolver2 + `
[pdu]
map: echo pdu-[0-3]-[1-2]
`},
	// CLINodesetGroupResolverConfigErrorTest: a YAML source that is not a
	// mapping.
	"badyaml": {
		"groups.conf": "[Main]\ndefault: default\nautodir: $DIR/autodir\n",
		"autodir/cs-test.yaml": `default:
    compute: 'foo'
broken: i am not a dict
`,
	},
	// CLINodesetEmptyGroupsConf.
	"empty": {"groups.conf": ""},
	// CLINodesetMalformedGroupsConf.
	"malformed": {"groups.conf": "[Main"},
	// CLINodesetGroupsConfOption: a default configuration, and another for
	// --groupsconf.
	"groupsconf": {
		"groups.conf": `[Main]
default: global_default

[global_default]
map: echo example[1-100]
all: echo @foo,@bar,@moo
list: echo foo bar moo
`,
		"custom.conf": `[Main]
default: custom

[custom]
map: echo custom[7-42]
all: echo @selene,@artemis
list: echo selene artemis
`,
	},
}

const upstreamResolver2 = `[Main]
default: test

[test]
map: echo example[1-100]
all: echo @foo,@bar,@moo
list: echo foo bar moo

[other]
map: echo nova[030-489]
all: echo @baz,@qux,@norf
list: echo baz qux norf
`

func TestUpstreamNodeset(t *testing.T) {
	ref, ours := nodesetBinaries(t)

	confDirs := map[string]string{}
	for name, files := range upstreamNodesetConfs {
		dir := t.TempDir()
		for p, content := range files {
			p = filepath.Join(dir, p)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(strings.ReplaceAll(content, "$DIR", dir)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		confDirs[name] = dir
	}

	all, err := upstreamNodesetCases()
	if err != nil {
		t.Fatal(err)
	}
	// Upstream repeats some calls (batteries run twice with the same
	// options): run each distinct one once.
	seen := map[string]bool{}
	var cases []upstreamNodesetCase
	only := os.Getenv("FLEETSH_UPSTREAM_RUN")
	for _, c := range all {
		key := c.conf + "\x00" + c.stdin + "\x00" + strings.Join(c.args, "\x00")
		if seen[key] || only != "" && !strings.Contains(c.method, only) {
			continue
		}
		seen[key] = true
		cases = append(cases, c)
	}

	home := t.TempDir()
	envFor := func(conf string) []string {
		return hermeticEnv(home, confDirs[conf])
	}
	argsFor := func(c upstreamNodesetCase) []string {
		args := make([]string, len(c.args))
		for j, a := range c.args {
			args[j] = strings.ReplaceAll(a, "$CFGDIR", confDirs[c.conf])
		}
		return args
	}
	type result struct{ ref, ours runResult }
	results := make([]result, len(cases))
	start := time.Now()
	// The reference: one Python per configuration, running main() per case.
	byConf := map[string][]int{}
	for i, c := range cases {
		byConf[c.conf] = append(byConf[c.conf], i)
	}
	python, err := scriptInterpreter(ref)
	if err != nil {
		t.Fatal(err)
	}
	var refErr error
	var refWG sync.WaitGroup
	refWG.Go(func() {
		for conf, idx := range byConf {
			in := make([]diffCase, len(idx))
			for k, i := range idx {
				in[k] = diffCase{args: argsFor(cases[i]), stdin: cases[i].stdin}
			}
			out, err := runPythonMain(python, "testdata/upstream/nodeset_main.py", envFor(conf), in)
			if err != nil {
				refErr = fmt.Errorf("config %q: %w", conf, err)
				return
			}
			for k, i := range idx {
				results[i].ref = out[k]
			}
		}
	})
	// Ours: a process per case, as users run it.
	forEachParallel(len(cases), min(8, 2*runtime.GOMAXPROCS(0)), func(i int) {
		c := cases[i]
		results[i].ours = runNodeset(ours, &diffCase{args: argsFor(c), stdin: c.stdin}, envFor(c.conf))
	})
	refWG.Wait()
	if refErr != nil {
		t.Fatal(refErr)
	}
	t.Logf("%d upstream calls, %d distinct, run in %v", len(all), len(cases), time.Since(start).Round(time.Millisecond))

	bad := 0
	for i, c := range cases {
		r := results[i]
		var b strings.Builder
		if c.want != nil && r.ref.stdout != *c.want {
			fmt.Fprintf(&b, "reference stdout %q, upstream expects %q (harness or reference changed)\n", r.ref.stdout, *c.want)
		}
		if r.ours.exit != r.ref.exit {
			fmt.Fprintf(&b, "exit status: ours %d, reference %d\n", r.ours.exit, r.ref.exit)
		}
		if r.ours.stdout != r.ref.stdout {
			fmt.Fprintf(&b, "stdout:\n ours:      %s\n reference: %s\n", clip(r.ours.stdout), clip(r.ref.stdout))
		}
		if r.ours.stderr != r.ref.stderr {
			fmt.Fprintf(&b, "stderr:\n ours:      %s\n reference: %s\n", clip(r.ours.stderr), clip(r.ref.stderr))
		}
		if b.Len() == 0 {
			continue
		}
		if bad++; bad > diffMaxReported {
			continue
		}
		dc := diffCase{args: c.args, stdin: c.stdin}
		t.Errorf("%s (config %q)\n$ %s\n%s", c.method, c.conf, dc.commandLine(), b.String())
	}
	if bad > diffMaxReported {
		t.Errorf("... %d more mismatches not shown", bad-diffMaxReported)
	}
}

// scriptInterpreter returns the interpreter of a "#!" script: Debian's
// nodeset and clush run /usr/bin/python3, which may not be the python3
// first on PATH.
func scriptInterpreter(script string) (string, error) {
	f, err := os.Open(script)
	if err != nil {
		return "", err
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	fields := strings.Fields(strings.TrimPrefix(line, "#!"))
	if !strings.HasPrefix(line, "#!") || len(fields) != 1 {
		return "", fmt.Errorf("%s: first line %q: want #!interpreter", script, line)
	}
	return fields[0], nil
}

// runPythonMain runs a driver script of testdata/upstream that calls a
// ClusterShell CLI's main() once per case, and returns what each printed.
func runPythonMain(python, script string, env []string, cases []diffCase) ([]runResult, error) {
	type in struct {
		Args  []string `json:"args"`
		Stdin string   `json:"stdin"`
	}
	type out struct {
		Stdout string `json:"stdout"`
		Stderr string `json:"stderr"`
		Exit   int    `json:"exit"`
	}
	req := make([]in, len(cases))
	for i, c := range cases {
		req[i] = in{Args: c.args, Stdin: c.stdin}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, script)
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(body)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %v\n%s", python, script, err, stderr.String())
	}
	var resp []out
	if err := json.Unmarshal(stdout.Bytes(), &resp); err != nil || len(resp) != len(cases) {
		return nil, fmt.Errorf("%s %s: bad answer (%v, %d results for %d cases)", python, script, err, len(resp), len(cases))
	}
	res := make([]runResult, len(resp))
	for i, r := range resp {
		res[i] = runResult{stdout: latin1(r.Stdout), stderr: latin1(r.Stderr), exit: r.Exit}
	}
	return res, nil
}

// latin1 turns the driver's latin-1 decoded text back into its bytes.
func latin1(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		b = append(b, byte(r))
	}
	return string(b)
}
