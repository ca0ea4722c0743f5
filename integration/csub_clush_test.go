package integration

// Real-process comparisons of csub with ClusterShell 1.9's clush for what
// the differential test (csub_diff_test.go) cannot run: a Ctrl-C
// (SIGINT) in the middle of a run, and clush's progress counter, which
// that test strips. Both run with the exec worker, the same
// configuration and environment, from the same kind of directory.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/testutil"
)

// csubClushEnv returns the csub to compare with the reference clush and
// the environment of both, or skips (see TestCsubDiff).
func csubClushEnv(t *testing.T) (ours string, env []string) {
	t.Helper()
	requireReference(t, csubDiffClush, "")
	ours = os.Getenv("FLEETSH_CSUB_OURS")
	if ours == "" {
		ours = filepath.Join(binaries(t), "csub")
	}
	_, env = csubDiffConf(t)
	return ours, env
}

// csubDiffConf returns testdata/csub/conf, the hermetic
// CLUSTERSHELL_CFGDIR of the csub differential tests, and the
// environment both sides run in.
func csubDiffConf(t *testing.T) (conf string, env []string) {
	t.Helper()
	conf, err := filepath.Abs(filepath.Join("testdata", "csub", "conf"))
	if err != nil {
		t.Fatal(err)
	}
	return conf, hermeticEnv(t.TempDir(), conf, "PYTHONUNBUFFERED=1")
}

// sigintAs runs argv with SIGINT's disposition set to disposition
// ("SIG_DFL" or "SIG_IGN") whatever the test binary inherited: a test
// started in the background of a script has it ignored, and children
// keep that. clush needs python3, so it is here.
func sigintAs(disposition string, argv ...string) []string {
	return append([]string{"python3", "-c",
		"import os, signal, sys; signal.signal(signal.SIGINT, signal." + disposition + "); os.execv(sys.argv[1], sys.argv[1:])"}, argv...)
}

// interruptRun is one side's run, interrupted once ready(stdout, stderr).
type interruptRun struct {
	stdout, stderr string
	status         int
}

// runInterrupted starts argv in a fresh directory, waits until what it
// printed satisfies ready, sends SIGINT and waits for its end.
func runInterrupted(t *testing.T, argv []string, env []string, ready func(out, errs string) bool) interruptRun {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = dir, env
	var out, errs testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for !ready(out.String(), errs.String()) {
		if ctx.Err() != nil {
			t.Fatalf("%s never got ready: stdout %q stderr %q", argv, out.String(), errs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := syscall.Kill(cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%s: %v", argv, err)
	}
	return interruptRun{out.String(), errs.String(), cmd.ProcessState.ExitCode()}
}

// TestCsubClushInterrupt sends SIGINT to clush and to csub without a
// terminal, once every node printed and all but node1 sleep (node1 has
// exited 3 in the live mode, where its end shows): same output, same
// "Keyboard interrupt." and exit status 130 in each output mode.
func TestCsubClushInterrupt(t *testing.T) {
	ours, env := csubClushEnv(t)
	for _, c := range []struct {
		name string
		args []string
		live bool // node1 exits first and its end is waited for
	}{
		{"live", nil, true},
		{"live quiet", []string{"-q"}, false},
		{"gathered verbose", []string{"-bv"}, false},
		{"line gathered", []string{"-bL"}, false},
		{"progress", []string{"-P"}, false},
		// Where agents gather standard output (JobSpec.Gather), standard
		// error must still come live, as clush prints it: the run is
		// interrupted once it has.
		{"gathered", []string{"-b"}, false},
		{"gathered quiet", []string{"-bq"}, false},
		{"sorted", []string{"-L"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cmd := "echo start; echo err >&2; sleep 30"
			if c.live {
				cmd = "echo start; echo err >&2; [ %h = node1 ] && exit 3; sleep 30"
			}
			args := append(append([]string{"-R", "exec", "-n", "-w", "node[1-3]"}, c.args...), cmd)
			ready := func(_, errs string) bool {
				// Every node's stderr line is live in every mode.
				for _, n := range []string{"node1", "node2", "node3"} {
					if !strings.Contains(errs, n+": err\n") {
						return false
					}
				}
				return !c.live || strings.Contains(errs, "node1: exited with exit code 3\n")
			}
			ref := runInterrupted(t, sigintAs("SIG_DFL", append([]string{csubDiffClush}, args...)...), env, ready)
			got := runInterrupted(t, sigintAs("SIG_DFL", append([]string{ours}, args...)...), env, ready)
			norm := func(s string) string {
				return csubDiffCanon(csubProgress.ReplaceAllString(strings.ReplaceAll(s, "clush", "csub"), ""))
			}
			if got.status != 130 || ref.status != 130 || norm(got.stdout) != norm(ref.stdout) || norm(got.stderr) != norm(ref.stderr) {
				t.Errorf("$ csub %s\n csub:  %d %q %q\n clush: %d %q %q", strings.Join(args, " "),
					got.status, got.stdout, got.stderr, ref.status, ref.stdout, ref.stderr)
			}
			if !strings.HasSuffix(got.stderr, "Keyboard interrupt.\n") {
				t.Errorf("stderr %q does not end with the message", got.stderr)
			}
		})
	}
}

// TestCsubClushInterruptIgnored: started with SIGINT ignored, as a
// background job of a script is, clush keeps ignoring it (Python leaves
// an ignored SIGINT alone) and so does csub: the run goes on to its end.
func TestCsubClushInterruptIgnored(t *testing.T) {
	ours, env := csubClushEnv(t)
	marker := t.TempDir()
	for _, bin := range []string{csubDiffClush, ours} {
		flag := filepath.Join(marker, filepath.Base(bin))
		// The command ends once the signal was sent (the marker file).
		cmd := fmt.Sprintf("echo start; while [ ! -e %s ]; do sleep 0.05; done; echo end", flag)
		argv := sigintAs("SIG_IGN", bin, "-R", "exec", "-n", "-w", "node1", cmd)
		c := exec.Command(argv[0], argv[1:]...)
		c.Dir, c.Env = t.TempDir(), env
		var out, errs testutil.SyncBuffer
		c.Stdout, c.Stderr = &out, &errs
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(60 * time.Second)
		for !strings.Contains(out.String(), "node1: start\n") {
			if time.Now().After(deadline) {
				_ = c.Process.Kill()
				t.Fatalf("%s never started: %q %q", bin, out.String(), errs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := c.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(flag, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := c.Wait(); err != nil || out.String() != "node1: start\nnode1: end\n" || errs.String() != "" {
			t.Errorf("%s with SIGINT ignored: %v, stdout %q, stderr %q", bin, err, out.String(), errs.String())
		}
	}
}

// csubCounterErase is the counter's erasure: as many spaces as the
// counter had characters, which "clush" makes one longer.
var csubCounterErase = regexp.MustCompile(` +\r`)

// TestCsubClushProgressCounter compares the counter itself (the
// differential test strips it): one node running longer than the 1.33 s
// clush waits before its first display, with -b (finalized at the end),
// -L, and -P (erased only).
func TestCsubClushProgressCounter(t *testing.T) {
	ours, env := csubClushEnv(t)
	for _, mode := range []string{"-b", "-L", "-P", "-bP"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			args := []string{"-R", "exec", "-n", "-w", "node1", mode, "sleep 3"}
			var got [2]string
			for i, bin := range []string{csubDiffClush, ours} {
				cmd := exec.Command(bin, args...)
				cmd.Dir, cmd.Env = t.TempDir(), env
				var errs bytes.Buffer
				cmd.Stderr = &errs
				if err := cmd.Run(); err != nil {
					t.Fatalf("%s: %v: %q", bin, err, errs.String())
				}
				got[i] = csubCounterErase.ReplaceAllString(strings.ReplaceAll(errs.String(), "clush", "csub"), "<erase>\r")
			}
			if got[0] != got[1] || !strings.HasPrefix(got[1], "csub: 0/1\r") {
				t.Errorf("$ csub %s\n csub:  %q\n clush: %q", strings.Join(args, " "), got[1], got[0])
			}
		})
	}
}
