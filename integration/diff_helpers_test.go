package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/testutil"
)

// diffDefaultSeed seeds the differential tests' random choices unless
// FLEETSH_DIFF_SEED says otherwise, so that a CI failure replays as it is.
const diffDefaultSeed = 20261206

// diffSeed is the seed of a differential test's random choices:
// FLEETSH_DIFF_SEED=N picks N, FLEETSH_DIFF_SEED=random one from the clock
// (to explore), else diffDefaultSeed. The caller logs it with how to
// replay the run.
func diffSeed(t *testing.T) uint64 {
	t.Helper()
	switch s := os.Getenv("FLEETSH_DIFF_SEED"); s {
	case "":
		return diffDefaultSeed
	case "random":
		return uint64(time.Now().UnixNano())
	default:
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("FLEETSH_DIFF_SEED=%q: %v", s, err)
		}
		return v
	}
}

// diffRand is the random source of a differential test seeded with seed.
func diffRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// hermeticEnv is the whole environment of a tool a test runs (ours and
// the reference alike): the system's PATH, home as HOME, a UTF-8 locale
// and cfgdir as CLUSTERSHELL_CFGDIR, so that nothing of the user's or of
// /etc/clustershell changes what runs; then extra.
func hermeticEnv(home, cfgdir string, extra ...string) []string {
	return append([]string{"PATH=/usr/bin:/bin", "HOME=" + home, "LANG=C.UTF-8", "CLUSTERSHELL_CFGDIR=" + cfgdir}, extra...)
}

// ourBinary is the path of our program name (csub, clubak, nodeset): the
// one $env names when set, else ./cmd/name built into t's temporary
// directory under its own name (the programs print their name).
func ourBinary(t *testing.T, env, name string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatalf("%s=%q: %v", env, p, err)
		}
		return abs
	}
	bin := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/"+name)
	cmd.Dir = ".." // the module root, from integration/
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/%s: %v\n%s", name, err, out)
	}
	return bin
}

// forEachParallel calls f(0) to f(n-1), workers at a time, and returns when
// every call has.
func forEachParallel(n, workers int, f func(i int)) {
	work := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range work {
				f(i)
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
}

// diffStream is one output of a differential case: ours and the
// reference's.
type diffStream struct{ name, got, want string }

// diffReport says how our run (named ours in the report) differs from the
// reference's (named ref): the exit status, then each stream whose texts
// differ, after canon when not nil. It is "" when they agree.
func diffReport(ours, ref string, got, want int, canon func(string) string, streams ...diffStream) string {
	var b strings.Builder
	if got != want {
		fmt.Fprintf(&b, "exit status: %s %d, %s %d\n", ours, got, ref, want)
	}
	w := max(len(ours), len(ref)) + 1
	for _, s := range streams {
		if s.got == s.want || canon != nil && canon(s.got) == canon(s.want) {
			continue
		}
		fmt.Fprintf(&b, "%s:\n %-*s %q\n %-*s %q\n", s.name, w, ours+":", s.got, w, ref+":", s.want)
	}
	return b.String()
}

// procResult is a finished process's exit status and output.
type procResult struct {
	status         int
	stdout, stderr string
}

// runProc runs bin with args in dir, with env and stdin (nil: none), and
// kills it after timeout. An exit status is a result; only a process that
// could not run is an error.
func runProc(dir, bin string, args, env []string, stdin io.Reader, timeout time.Duration) (procResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env, cmd.Stdin = dir, env, stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return procResult{}, fmt.Errorf("%s: %v", bin, err)
	}
	return procResult{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}, nil
}

// diffSample is -short's sample of a differential test's cases:
// FLEETSH_DIFF_CASES of them (def by default) picked by the differential
// seed, in the table's order. It logs how to replay it.
func diffSample[T any](t *testing.T, cases []T, def int) []T {
	t.Helper()
	seed := diffSeed(t)
	n := min(testutil.EnvInt(t, "FLEETSH_DIFF_CASES", def), len(cases))
	picked := diffRand(seed).Perm(len(cases))[:n]
	slices.Sort(picked)
	sample := make([]T, n)
	for i, j := range picked {
		sample[i] = cases[j]
	}
	t.Logf("-short: %d of %d cases, seed %d (replay: FLEETSH_DIFF_SEED=%d FLEETSH_DIFF_CASES=%d go test -short)", n, len(cases), seed, seed, n)
	return sample
}

// diffCases is the cases a differential test runs: the table (which must
// hold at least atLeast cases, as the test's doc promises), those whose
// name contains $onlyVar when it is set, else under -short a sample of
// short of them (diffSample).
func diffCases[T any](t *testing.T, cases []T, name func(T) string, onlyVar string, atLeast, short int) []T {
	t.Helper()
	if len(cases) < atLeast {
		t.Errorf("only %d cases: the differential test promises at least %d", len(cases), atLeast)
	}
	if only := os.Getenv(onlyVar); only != "" {
		return slices.DeleteFunc(cases, func(c T) bool { return !strings.Contains(name(c), only) })
	}
	if testing.Short() {
		return diffSample(t, cases, short)
	}
	return cases
}
