package integration

// Differential test of our nodeset CLI against ClusterShell 1.9's.
//
// The golden tests (internal/nodesetcli) pin hand-picked cases; this test
// looks for the cases nobody thought of. It generates random but
// reproducible command lines (a fixed seed, logged; FLEETSH_DIFF_SEED picks
// another, or a new one each run), runs each one through our freshly built
// ./cmd/nodeset and through the reference /usr/bin/nodeset, and requires the
// same stdout bytes and exit status. Stderr texts may differ (Python and Go
// word some failures differently), but one side writing to stderr while the
// other does not is a mismatch: that is how a missed warning or a swallowed
// error shows.
//
// Environment:
//
//	FLEETSH_DIFF_SEED=N|random        the seed (default: diffDefaultSeed, so a
//	                                  CI failure replays as it is; random:
//	                                  from the clock, to explore)
//	FLEETSH_DIFF_CASES=N              number of generated cases (default 600,
//	                                  60 with -short)
//	FLEETSH_DIFF_WORKERS=N            parallel cases (default 2*GOMAXPROCS, max 8)
//	FLEETSH_REQUIRE_CLUSTERSHELL=1    fail instead of skip without the reference
//	FLEETSH_NODESET_REF=path          reference binary (default /usr/bin/nodeset,
//	                                  else `nodeset` on PATH)
//	FLEETSH_NODESET_OURS=path         use this binary instead of building
//	                                  ./cmd/nodeset; pointing it at the reference
//	                                  checks the harness itself (every case must
//	                                  then agree)
//
// Every command runs from this directory (integration/) with a scrubbed
// environment; group cases pass --groupsconf testdata/nodeset/groups.conf,
// a hermetic config (YAML autodir sources plus one flat-file upcall source),
// so neither side reads /etc/clustershell.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/testutil"
)

const (
	diffGroupsConf    = "testdata/nodeset/groups.conf"
	diffMaxReported   = 30
	diffCaseTimeout   = 60 * time.Second
	diffDefaultCases  = 600
	diffShortCases    = 60
	diffRequireRefEnv = "FLEETSH_REQUIRE_CLUSTERSHELL"
)

func TestNodesetDiff(t *testing.T) {
	ref, ours := nodesetBinaries(t)

	seed := diffSeed(t)
	defCases := diffDefaultCases
	if testing.Short() {
		defCases = diffShortCases
	}
	n := testutil.EnvInt(t, "FLEETSH_DIFF_CASES", defCases)
	workers := testutil.EnvInt(t, "FLEETSH_DIFF_WORKERS", min(8, 2*runtime.GOMAXPROCS(0)))
	t.Logf("seed %d (replay: FLEETSH_DIFF_SEED=%d), %d cases, %d workers", seed, seed, n, workers)
	t.Logf("ours: %s; reference: %s", ours, ref)

	g := &caseGen{r: diffRand(seed)}
	cases := make([]diffCase, n)
	for i := range cases {
		cases[i] = g.next()
	}

	home := t.TempDir()
	env := []string{"PATH=/usr/bin:/bin", "HOME=" + home, "LANG=C.UTF-8"}
	results := make([]diffResult, n)
	start := time.Now()
	forEachParallel(n, workers, func(i int) {
		c := &cases[i]
		results[i].ours = runNodeset(ours, c, env)
		results[i].ref = runNodeset(ref, c, env)
	})

	var (
		bad      []int
		kinds    = map[string][2]int{} // kind -> {cases, mismatches}
		failures int                   // cases where the reference itself fails
	)
	for i, c := range cases {
		res := results[i]
		k := kinds[c.kind]
		k[0]++
		if res.ref.exit != 0 {
			failures++
		}
		if !res.agree() {
			k[1]++
			bad = append(bad, i)
		}
		kinds[c.kind] = k
	}
	var names []string
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	var summary strings.Builder
	for _, k := range names {
		fmt.Fprintf(&summary, " %s=%d", k, kinds[k][0])
		if kinds[k][1] > 0 {
			fmt.Fprintf(&summary, "(%d bad)", kinds[k][1])
		}
	}
	t.Logf("%d cases in %v; reference failed on %d; kinds:%s", n, time.Since(start).Round(time.Millisecond), failures, summary.String())

	if len(bad) == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d cases differ (seed %d; replay with FLEETSH_DIFF_SEED=%d FLEETSH_DIFF_CASES=%d). Commands run from %s:\n",
		len(bad), n, seed, seed, n, mustGetwd(t))
	for j, i := range bad {
		if j == diffMaxReported {
			fmt.Fprintf(&b, "... %d more mismatches not shown\n", len(bad)-j)
			break
		}
		c, res := &cases[i], results[i]
		fmt.Fprintf(&b, "\n--- case %d (%s)\n$ %s\n", i, c.kind, c.commandLine())
		fmt.Fprintf(&b, "  ours:      exit %d stdout %s stderr %s\n", res.ours.exit, clip(res.ours.stdout), clip(res.ours.stderr))
		fmt.Fprintf(&b, "  reference: exit %d stdout %s stderr %s\n", res.ref.exit, clip(res.ref.stdout), clip(res.ref.stderr))
	}
	t.Error(b.String())
}

// nodesetBinaries returns the reference nodeset and ours (built, or
// $FLEETSH_NODESET_OURS), and skips t (fails it under
// FLEETSH_REQUIRE_CLUSTERSHELL=1) without the reference.
func nodesetBinaries(t *testing.T) (ref, ours string) {
	t.Helper()
	ref, why := findReferenceNodeset()
	if ref == "" {
		if os.Getenv(diffRequireRefEnv) == "1" {
			t.Fatalf("reference ClusterShell nodeset 1.9 required (%s=1) but unavailable: %s", diffRequireRefEnv, why)
		}
		t.Skipf("reference ClusterShell nodeset 1.9 unavailable (%s); install Debian's clustershell package", why)
	}
	return ref, ourBinary(t, "FLEETSH_NODESET_OURS", "nodeset")
}

// findReferenceNodeset returns the ClusterShell 1.9 nodeset to compare
// against, or "" and the reason none is usable.
func findReferenceNodeset() (string, string) {
	candidates := []string{os.Getenv("FLEETSH_NODESET_REF")}
	if candidates[0] == "" {
		candidates = []string{"/usr/bin/nodeset"}
		if p, err := exec.LookPath("nodeset"); err == nil {
			candidates = append(candidates, p)
		}
	}
	why := "no nodeset binary found"
	for _, p := range candidates {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		out, err := exec.Command(p, "--version").Output()
		if err != nil {
			why = fmt.Sprintf("%s --version: %v", p, err)
			continue
		}
		if v := strings.TrimSpace(string(out)); !strings.HasPrefix(v, "nodeset 1.9") {
			why = fmt.Sprintf("%s is %q, not nodeset 1.9", p, v)
			continue
		}
		return p, ""
	}
	return "", why
}

func mustGetwd(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

type diffCase struct {
	kind  string // generator family, for the summary
	args  []string
	stdin string
}

// commandLine renders the case as a shell command to paste from
// integration/ (stdin fed through printf).
func (c *diffCase) commandLine() string {
	var b strings.Builder
	if c.stdin != "" {
		fmt.Fprintf(&b, "printf %%s %s | ", shellQuote(c.stdin))
	}
	b.WriteString("nodeset")
	for _, a := range c.args {
		b.WriteByte(' ')
		b.WriteString(shellQuote(a))
	}
	return b.String()
}

type runResult struct {
	stdout, stderr string
	exit           int
}

type diffResult struct{ ours, ref runResult }

func (r diffResult) agree() bool {
	return r.ours.stdout == r.ref.stdout && r.ours.exit == r.ref.exit &&
		(r.ours.stderr == "") == (r.ref.stderr == "")
}

func runNodeset(bin string, c *diffCase, env []string) runResult {
	ctx, cancel := context.WithTimeout(context.Background(), diffCaseTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, c.args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(c.stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := runResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		res.exit = ee.ExitCode()
	default: // killed (timeout, signal) or could not start
		res.exit = -1
		res.stderr += fmt.Sprintf("[harness: %v]", err)
	}
	return res
}

func clip(s string) string {
	const max = 400
	if len(s) > max {
		return strconv.Quote(s[:max]) + fmt.Sprintf("...(%d bytes)", len(s))
	}
	return strconv.Quote(s)
}

// shellQuote quotes one word for a POSIX shell ($'...' when it holds
// control characters, so the line stays on one line).
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") == "" {
		return s
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		var b strings.Builder
		b.WriteString("$'")
		for i := 0; i < len(s); i++ {
			switch c := s[i]; c {
			case '\n':
				b.WriteString(`\n`)
			case '\t':
				b.WriteString(`\t`)
			case '\\', '\'':
				b.WriteByte('\\')
				b.WriteByte(c)
			default:
				if c < 0x20 || c == 0x7f {
					fmt.Fprintf(&b, `\x%02x`, c)
				} else {
					b.WriteByte(c)
				}
			}
		}
		b.WriteByte('\'')
		return b.String()
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}
