package ssh

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/sshdtest"
	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// Issue 10, item 8: a command stopped at a timeout or by an abort must
// die on the node, where ssh and clush leave it running (PPID 1).

// pidCommand is a command that records the PIDs of its shell and of a
// background sleep in file, then waits: killing the shell alone would
// leave the sleep running.
func pidCommand(file string) string {
	return fmt.Sprintf("echo $$ > %[1]s; sleep 1000 & echo $! >> %[1]s; wait; echo never", file)
}

// readPIDs waits until file holds the two PIDs pidCommand writes.
func readPIDs(t *testing.T, file string) []int {
	t.Helper()
	var pids []int
	waitFor(t, "the command's PIDs in "+file, func() bool {
		b, _ := os.ReadFile(file)
		f := strings.Fields(string(b))
		if len(f) < 2 || !strings.HasSuffix(string(b), "\n") {
			return false
		}
		pids = pids[:0]
		for _, s := range f {
			n, err := strconv.Atoi(s)
			if err != nil {
				return false
			}
			pids = append(pids, n)
		}
		return true
	})
	return pids
}

// running reports whether pid is a live process (not a zombie that waits
// for its parent, here possibly a PID 1 that reaps nothing).
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndex(s, ") ")
	return i < 0 || !strings.HasPrefix(s[i+2:], "Z")
}

// needProc skips tests that check processes through /proc where there is
// none (the driver itself falls back to ps there).
func needProc(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc to check the processes")
	}
}

func wantGone(t *testing.T, pids []int) {
	t.Helper()
	for _, pid := range pids {
		if running(pid) {
			t.Errorf("process %d still runs on the node", pid)
		}
	}
}

func TestSSHDStopKillsProcessGroup(t *testing.T) {
	needProc(t)
	srv := sshdtest.Start(t)
	d := sshdDriver(t, srv)
	file := filepath.Join(t.TempDir(), "pids")
	jr := newJob("node1", pidCommand(file))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ended := make(chan engine.Result, 1)
	go func() { ended <- d.Run(ctx, jr.job) }()
	pids := readPIDs(t, file)
	cancel()
	res := <-ended
	var stop *engine.RemoteStop
	if !errors.As(res.Err, &stop) || !errors.Is(res.Err, context.Canceled) {
		t.Fatalf("Run = %d, %v; want an interruption with a RemoteStop", res.ExitCode, res.Err)
	}
	if !stop.Gone || !stop.Killed || stop.Error() != fmt.Sprintf("killed on the node (process group %d)", pids[0]) {
		t.Fatalf("stop %+v: %v", stop, stop)
	}
	wantGone(t, pids)
	if strings.Contains(jr.stdout.String(), "never") {
		t.Fatalf("stdout %q", jr.stdout)
	}
}

// TestSSHDTimeoutKillsOnNode goes through the engine: the node's failure
// after a command timeout says the command was killed on the node.
func TestSSHDTimeoutKillsOnNode(t *testing.T) {
	needProc(t)
	srv := sshdtest.Start(t)
	d := sshdDriver(t, srv)
	dir := t.TempDir()
	// The timeout fires at a time of its own; the command signals when
	// it is set up by writing its PIDs, and the test checks both orders:
	// a timeout before the PIDs exist must still leave nothing running.
	file := filepath.Join(dir, "pids")
	task := engine.New()
	w, err := task.Run(pidCommand(file), engine.Options{Nodes: nodeset.MustParse("node1"), Driver: d, Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if !w.DidTimeout() {
		t.Fatal("no timeout")
	}
	ne := w.NodeFailure("node1")
	b, _ := os.ReadFile(file)
	if strings.Count(string(b), "\n") < 2 {
		// The timeout came before the command was set up (a very slow
		// machine): whatever had started must be gone all the same.
		if engine.ReasonOf(ne) != engine.ReasonCommandTimeout {
			t.Fatalf("node failure %v, want a command timeout", ne)
		}
		t.Logf("the timeout came before the command wrote its PIDs: %v", ne)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			wantGone(t, []int{pid})
		}
		return
	}
	pids := readPIDs(t, file)
	want := fmt.Sprintf("node1: command timeout: killed on the node (process group %d)", pids[0])
	if ne == nil || ne.Error() != want {
		t.Fatalf("node failure %v, want %q", ne, want)
	}
	wantGone(t, pids)
}

// TestStopUnconfirmed: a server that does not run each connection's
// sessions under a process of their own (the in-process test server runs
// them as its children, without setsid) shows the kill script no session:
// the command may still run, and the reason says so.
func TestStopUnconfirmed(t *testing.T) {
	_, _, d := startNode1(t)
	jr := newJob("node1", "echo started; sleep 1000")
	started := make(chan struct{})
	jr.job.Stdout = writerFunc(func(p []byte) (int, error) {
		if strings.Contains(string(p), "started") {
			close(started)
		}
		return len(p), nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ended := make(chan engine.Result, 1)
	go func() { ended <- d.Run(ctx, jr.job) }()
	<-started
	cancel()
	res := <-ended
	var stop *engine.RemoteStop
	if !errors.As(res.Err, &stop) || stop.Gone {
		t.Fatalf("Run = %d, %v; want an unconfirmed stop", res.ExitCode, res.Err)
	}
	if got, want := stop.Error(), "may still run on the node: "+noSession; got != want {
		t.Fatalf("stop %q, want %q", got, want)
	}
}

// TestSSHDAbortKillsOnNode: an abort (csub's Ctrl-C) through the engine
// leaves nothing running on the node.
func TestSSHDAbortKillsOnNode(t *testing.T) {
	needProc(t)
	srv := sshdtest.Start(t)
	d := sshdDriver(t, srv)
	file := filepath.Join(t.TempDir(), "pids")
	task := engine.New()
	if _, err := task.Shell(pidCommand(file), engine.Options{Nodes: nodeset.MustParse("node1"), Driver: d}); err != nil {
		t.Fatal(err)
	}
	resumed := make(chan error, 1)
	go func() { resumed <- task.Resume(0) }()
	pids := readPIDs(t, file)
	task.Abort()
	if err := <-resumed; err != nil {
		t.Fatal(err)
	}
	wantGone(t, pids)
}

// BenchmarkSSHDStop measures a stop against OpenSSH's sshd: from the
// cancellation of a running "sleep 1000 & wait" to Run's return, which
// covers the kill session, the script and the connection's close. The
// script reads every process of the machine: its time grows with their
// number. It reports ms/stop; ns/op also counts connecting and starting.
func BenchmarkSSHDStop(b *testing.B) {
	srv := sshdtest.Start(b)
	d := sshdDriver(b, srv)
	var total time.Duration
	for b.Loop() {
		jr := newJob("node1", "echo started; sleep 1000 & wait")
		started := make(chan struct{})
		var once sync.Once
		jr.job.Stdout = writerFunc(func(p []byte) (int, error) {
			once.Do(func() { close(started) })
			return len(p), nil
		})
		ctx, cancel := context.WithCancel(context.Background())
		ended := make(chan engine.Result, 1)
		go func() { ended <- d.Run(ctx, jr.job) }()
		<-started
		t0 := time.Now()
		cancel()
		res := <-ended
		total += time.Since(t0)
		var stop *engine.RemoteStop
		if !errors.As(res.Err, &stop) || !stop.Killed {
			b.Fatalf("Run = %v", res.Err)
		}
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/stop")
}
