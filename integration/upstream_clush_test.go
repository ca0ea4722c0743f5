package integration

// ClusterShell's own clush CLI tests, run as command lines against the
// reference clush and against csub.
//
// ClusterShell 1.9.1's tests/CLIClushTest.py calls clush's main() in
// process with argument lists, mostly on the machine's own host name over
// ssh. Every call that a command line can make is a case here, named after
// its upstream test method (upstream_clush_cases_test.go), run through
// Debian's /usr/bin/clush and through csub with the same arguments,
// standard input, configuration and fixture files, each from a fresh
// directory of its own (its path, written $T in the cases, is the same
// word on both sides after normalization). The exit status, stdout, stderr
// and the files left in the directory must be the same, compared as
// csub_diff_test.go compares them (clush's name becomes csub's; each
// node's lines in their order; progress counters normalized, see
// upstreamProgress).
//
// The host is upstreamHost, reached over a real OpenSSH sshd on
// 127.0.0.1 (internal/sshdtest): clush runs OpenSSH's ssh and scp with an
// ssh_config file (ssh_path and scp_path in clush.conf), csub's native ssh
// driver reads the same file as ~/.ssh/config, and pdsh gets it through
// PDSH_SSH_ARGS. Only upstreamHost and "localhost" reach the sshd; any
// other name (upstream's "badhost") gets a refused connection on loopback.
//
// Not run, because no command line can do what they do: the [tty]
// variants (upstream forces clush's user interaction flag, so a process
// would need a terminal as stdin and stdout; csub's terminal behaviour is
// tested under tmux in internal/csub), test_023/024 (they call
// _load_workerclass()), test_043/044 (they replace clush's password
// prompt with a function) and test_100 (a stdin object whose fileno()
// fails, which no file descriptor does).
//
// Environment:
//
//	FLEETSH_REQUIRE_CLUSTERSHELL=1   fail instead of skip without /usr/bin/clush
//	FLEETSH_REQUIRE_SSHD=1           fail instead of skip without sshd
//	FLEETSH_CSUB_OURS=path           use this csub instead of building one
//	FLEETSH_UPSTREAM_RUN=substr      only the cases whose method contains substr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/sshdtest"
	wexec "github.com/fleetsh/fleetsh/pkg/workers/exec"
)

// upstreamHost plays upstream's HOSTNAME (the machine's short name).
const upstreamHost = "cshost"

// upstreamClushCase is one clush main() call of CLIClushTest.py.
type upstreamClushCase struct {
	method string // the upstream test method, "Class.test_name"
	args   []string
	// stdin is the standard input; nil reads /dev/null (upstream's None:
	// the test runner's own stdin, not a terminal in CI).
	stdin *string
	// fifo makes stdin a named pipe that another thread fills with
	// "0123456789" (CLIClushTest_D_StdinFIFO).
	fifo bool
	// files are fixture files of the run's directory ("name/" is a
	// directory).
	files map[string]string
	// interrupt sends SIGINT once the command's "sleep" runs.
	interrupt bool
	// rename maps a node name to another in both outputs: --pick chooses
	// nodes at random.
	rename map[string]string
	// noFiles leaves the directory out of the comparison (a copy cut by a
	// 10 ms timeout leaves whatever it had written).
	noFiles bool
	// extra matches the lines csub adds to stderr on purpose (the fleet
	// states it names after clush's summaries, see docs/csub.md): they
	// must be there, and are left out of the comparison.
	extra *regexp.Regexp
	// intended replaces the comparison where csub differs from clush on
	// purpose (docs/csub.md): it checks csub's run alone.
	intended func(got csubDiffRun) error
}

// upstreamClushEnv is what every run of one test shares.
type upstreamClushEnv struct {
	clush, csub string
	conf        string // $CLUSTERSHELL_CFGDIR, written $CONF in the cases
	env         []string
}

func TestUpstreamClush(t *testing.T) {
	u := upstreamUser(t)
	runUpstreamClush(t, append(upstreamClushCases(u), issue10ClushCases()...))
}

func runUpstreamClush(t *testing.T, cases []upstreamClushCase) {
	requireReference(t, csubDiffClush, "clush 1.9")
	for _, tool := range []string{"ssh", "scp", "pdsh"} {
		if _, err := exec.LookPath(tool); err != nil {
			sshdtest.SkipUnlessRequired(t, tool+" not installed")
		}
	}
	if only := os.Getenv("FLEETSH_UPSTREAM_RUN"); only != "" {
		cases = slices.DeleteFunc(cases, func(c upstreamClushCase) bool { return !strings.Contains(c.method, only) })
	}
	e := upstreamClushSetup(t)
	start := time.Now()
	type result struct {
		ref, got         csubDiffRun
		refTime, gotTime time.Duration
	}
	results := make([]result, len(cases))
	errs := make([]error, len(cases))
	// Several at a time: clush's Python start-up costs CPU, and many
	// cases only wait (sleep 2, -u 1).
	forEachParallel(len(cases), max(4, 3*runtime.GOMAXPROCS(0)), func(i int) {
		c := cases[i]
		var r result
		t0 := time.Now()
		r.ref, errs[i] = e.run(e.clush, c, true)
		t1 := time.Now()
		r.refTime = t1.Sub(t0)
		if errs[i] == nil {
			r.got, errs[i] = e.run(e.csub, c, false)
			r.gotTime = time.Since(t1)
		}
		results[i] = r
	})
	t.Logf("%d cases in %v", len(cases), time.Since(start).Round(time.Millisecond))
	if testing.Verbose() {
		for i, c := range cases {
			t.Logf("%6.2fs clush %6.2fs csub  %s %q", results[i].refTime.Seconds(), results[i].gotTime.Seconds(), c.method, c.args)
		}
	}
	for i, c := range cases {
		r := results[i]
		t.Run(c.method, func(t *testing.T) {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if c.intended != nil {
				if err := c.intended(r.got); err != nil {
					t.Errorf("$ csub %s\n%v\nstdout: %q\nstderr: %q", strings.Join(c.args, " "), err, r.got.stdout, r.got.stderr)
				}
				return
			}
			if d := csubDiffReport(r.got, r.ref, csubDiffCanon); d != "" {
				t.Errorf("$ csub %s\n%s", strings.Join(c.args, " "), d)
			}
		})
	}
}

// upstreamClushSetup builds csub, starts sshd and writes the configuration
// both sides read.
func upstreamClushSetup(t *testing.T) *upstreamClushEnv {
	t.Helper()
	srv := sshdtest.Start(t)
	ours := ourBinary(t, "FLEETSH_CSUB_OURS", "csub")
	home, conf := t.TempDir(), t.TempDir()
	// Only our two names reach sshd; any other is refused on loopback
	// (port 1: nothing listens there), without a DNS query.
	sshConfig := srv.ClientHostBlock(upstreamHost+" localhost") + `Host *
	HostName 127.0.0.1
	Port 1
	BatchMode yes
	LogLevel ERROR
`
	cfg := filepath.Join(conf, "ssh_config")
	files := map[string]string{
		cfg:                                       sshConfig,
		filepath.Join(home, ".ssh", "config"):     sshConfig,
		filepath.Join(conf, "clush.conf"):         fmt.Sprintf("[Main]\nssh_path: ssh -F %s\nscp_path: scp -F %s\n", cfg, cfg),
		filepath.Join(conf, "groups.conf"):        upstreamClushGroups,
		filepath.Join(conf, "custom-groups.conf"): upstreamClushCustomGroups,
	}
	for p, content := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return &upstreamClushEnv{
		clush: csubDiffClush,
		csub:  ours,
		conf:  conf,
		env:   hermeticEnv(home, conf, "PYTHONUNBUFFERED=1", "PDSH_RCMD_TYPE=ssh", "PDSH_SSH_ARGS=-F "+cfg+" -l%u %h"),
	}
}

// CLIClushTest_C_GroupsConf's default configuration and --groupsconf file.
const (
	upstreamClushGroups = `[Main]
default: global_default

[global_default]
map: echo example[1-100]
all: echo @foo,@bar,@moo
list: echo foo bar moo
`
	upstreamClushCustomGroups = `[Main]
default: custom

[custom]
map: echo custom[7-42]
all: echo @selene,@artemis
list: echo selene artemis
`
)

// upstreamProgress matches one record of clush's progress counter (its
// count, or count and standard input write rate, ended by "\r") or the
// blanks that erase it.
var (
	upstreamProgress = regexp.MustCompile(`csub: *\d+/\d+(?: write: \d+ B/s)?\r| +\r`)
	upstreamRate     = regexp.MustCompile(`write: \d+ B/s`)
)

// upstreamCanonProgress takes the progress counter out of a run's stderr.
// Its records are printed on a timer: how many, and where among the
// output lines, depends on the machine's speed (clush -b shows the counter
// only on runs longer than 1.33 s, which a loaded machine makes of short
// ones). With keep (the --progress cases of test_031 whose command runs
// for two seconds), the first record is kept in front, its rate as "N":
// that the counter shows, and what it shows at first, are compared.
func upstreamCanonProgress(s string, keep bool) string {
	first := ""
	s = upstreamProgress.ReplaceAllStringFunc(s, func(m string) string {
		if first == "" && !strings.HasPrefix(m, " ") {
			first = upstreamRate.ReplaceAllString(m, "write: N B/s")
		}
		return ""
	})
	if keep {
		return "[progress " + strings.TrimSuffix(first, "\r") + "]\n" + s
	}
	return s
}

// run runs one side of a case from a fresh directory.
func (e *upstreamClushEnv) run(bin string, c upstreamClushCase, isClush bool) (csubDiffRun, error) {
	dir, err := csubDiffDir("upstream-clush-", c.files)
	if err != nil {
		return csubDiffRun{}, err
	}
	defer os.RemoveAll(dir)
	args := make([]string, len(c.args))
	for i, a := range c.args {
		args[i] = strings.ReplaceAll(strings.ReplaceAll(a, "$T", dir), "$CONF", e.conf)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = dir, e.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	switch {
	case c.fifo:
		f, err := upstreamFIFO()
		if err != nil {
			return csubDiffRun{}, err
		}
		defer f.Close()
		cmd.Stdin = f
	case c.stdin != nil:
		cmd.Stdin = strings.NewReader(*c.stdin)
	}
	if err := cmd.Start(); err != nil {
		return csubDiffRun{}, err
	}
	if c.interrupt {
		if err := upstreamInterrupt(ctx, cmd.Process.Pid); err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return csubDiffRun{}, err
		}
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return csubDiffRun{}, fmt.Errorf("%s: %v", bin, err)
	}
	norm := func(s string) string {
		if isClush {
			s = strings.ReplaceAll(s, "clush", "csub")
		}
		s = strings.ReplaceAll(s, dir, "$T")
		for from, to := range c.rename {
			s = strings.ReplaceAll(s, from, to)
		}
		return s
	}
	r := csubDiffRun{status: cmd.ProcessState.ExitCode()}
	r.stdout = norm(stdout.String())
	// Only a command that runs for two seconds shows the counter on any
	// machine; "--progress echo ok" shows it only when the machine is slow.
	keep := slices.Contains(c.args, "--progress") && strings.Contains(strings.Join(c.args, " "), "sleep 2")
	r.stderr = upstreamCanonProgress(norm(stderr.String()), keep)
	if c.extra != nil && !isClush {
		lines := strings.SplitAfter(r.stderr, "\n")
		kept := slices.DeleteFunc(slices.Clone(lines), c.extra.MatchString)
		if len(kept) == len(lines) {
			return r, fmt.Errorf("csub's stderr %q lacks the line it adds (%v)", r.stderr, c.extra)
		}
		r.stderr = strings.Join(kept, "")
	}
	if !c.noFiles {
		r.files, err = csubDiffTree(dir)
	}
	return r, err
}

// upstreamFIFO makes a named pipe and returns its read end, which a
// goroutine fills with "0123456789" and closes, as upstream's FIFOThread.
// The pipe's name is removed once both ends are open.
func upstreamFIFO() (*os.File, error) {
	dir, err := os.MkdirTemp("", "upstream-fifo-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "stdin")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		return nil, err
	}
	go func() {
		w, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		w.WriteString("0123456789")
		w.Close()
	}()
	return os.OpenFile(p, os.O_RDONLY, 0)
}

// upstreamInterrupt sends SIGINT to pid once one of its descendants runs
// sleep (the command has started), as upstream's KillerThread does after
// its second of sleep.
func upstreamInterrupt(ctx context.Context, pid int) error {
	for {
		for _, p := range wexec.Descendants(pid) {
			if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p)); strings.TrimSpace(string(comm)) == "sleep" {
				return syscall.Kill(pid, syscall.SIGINT)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pid %d: no sleep started: %w", pid, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// upstreamUser is the user name upstream passes to --user (its own).
func upstreamUser(t *testing.T) string {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}
