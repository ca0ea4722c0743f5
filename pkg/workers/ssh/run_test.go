package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/sshtest"
	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/engine"
)

func TestRunSuccess(t *testing.T) {
	_, _, d := startNode1(t)
	jr := newJob("node1", "echo hello; echo world")
	wantCode(t, jr, jr.run(t, d), 0)
	if got := jr.stdout.String(); got != "hello\nworld\n" {
		t.Fatalf("stdout %q", got)
	}
	if got := jr.stderr.String(); got != "" {
		t.Fatalf("stderr %q", got)
	}
	if !strings.Contains(jr.debug.String(), "SSHCLIENT: ") {
		t.Fatalf("no debug line: %q", jr.debug)
	}
}

func TestRunExitCodes(t *testing.T) {
	_, _, d := startNode1(t)
	for cmd, want := range map[string]int{
		"exit 7":        7,
		"false":         1,
		"kill -TERM $$": 128 + 15,
		"kill -KILL $$": 128 + 9,
		"exit 255":      255,
	} {
		jr := newJob("node1", cmd)
		wantCode(t, jr, jr.run(t, d), want)
	}
}

func TestStderrSeparateAndMerged(t *testing.T) {
	_, _, d := startNode1(t)
	const cmd = "echo out; echo err >&2; echo out2"

	jr := newJob("node1", cmd)
	wantCode(t, jr, jr.run(t, d), 0)
	if jr.stdout.String() != "out\nout2\n" || jr.stderr.String() != "err\n" {
		t.Fatalf("separate: stdout %q stderr %q", jr.stdout, jr.stderr)
	}

	jr = newJob("node1", cmd)
	jr.job.Stderr = nil // ClusterShell's stderr=False
	wantCode(t, jr, jr.run(t, d), 0)
	got := jr.stdout.String()
	for _, l := range []string{"out\n", "err\n", "out2\n"} {
		if !strings.Contains(got, l) {
			t.Fatalf("merged: stdout %q lacks %q", got, l)
		}
	}
	if len(got) != len("out\nerr\nout2\n") {
		t.Fatalf("merged: stdout %q", got)
	}
}

func TestStdin(t *testing.T) {
	_, _, d := startNode1(t)

	jr := newJob("node1", "cat; echo done")
	jr.job.Stdin = strings.NewReader("line1\nline2")
	wantCode(t, jr, jr.run(t, d), 0)
	if got := jr.stdout.String(); got != "line1\nline2done\n" {
		t.Fatalf("stdout %q", got)
	}

	// No command: a shell reads its commands from stdin.
	jr = newJob("node1", "")
	jr.job.Stdin = strings.NewReader("echo from; echo shell\n")
	wantCode(t, jr, jr.run(t, d), 0)
	if got := jr.stdout.String(); got != "from\nshell\n" {
		t.Fatalf("shell: stdout %q", got)
	}

	// No stdin: EOF at once.
	jr = newJob("node1", "cat; echo eof")
	wantCode(t, jr, jr.run(t, d), 0)
	if got := jr.stdout.String(); got != "eof\n" {
		t.Fatalf("stdout %q", got)
	}

	// A command that does not read a stdin that never ends still ends.
	pr, pw := io.Pipe()
	defer pw.Close()
	jr = newJob("node1", "echo quick")
	jr.job.Stdin = pr
	start := time.Now()
	wantCode(t, jr, jr.run(t, d), 0)
	if time.Since(start) > 5*time.Second {
		t.Fatal("Run waited for stdin")
	}
}

// countWriter counts bytes without keeping them.
type countWriter struct {
	mu sync.Mutex
	n  int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.n += int64(len(p))
	c.mu.Unlock()
	return len(p), nil
}

func TestLargeOutput(t *testing.T) {
	size := int64(100 << 20)
	if testing.Short() {
		size = 8 << 20
	}
	_, _, d := startNode1(t)
	jr := newJob("node1", fmt.Sprintf("head -c %d /dev/zero", size))
	var cw countWriter
	jr.job.Stdout = &cw
	peak := watchHeap()
	start := time.Now()
	wantCode(t, jr, jr.run(t, d), 0)
	elapsed := time.Since(start)
	maxHeap := peak()
	if cw.n != size {
		t.Fatalf("got %d bytes, want %d", cw.n, size)
	}
	t.Logf("%d MiB in %v (%.0f MiB/s), peak heap in use %.1f MiB", size>>20, elapsed.Round(time.Millisecond),
		float64(size)/(1<<20)/elapsed.Seconds(), float64(maxHeap)/(1<<20))
	// Streaming, not buffering: the heap (client and in-process server
	// together) stays far below the output's size.
	if maxHeap > 48<<20 {
		t.Fatalf("peak heap %d MiB: output buffered?", maxHeap>>20)
	}
}

func TestBinaryOutput(t *testing.T) {
	_, _, d := startNode1(t)
	var data []byte
	for i := range 3 * 256 {
		data = append(data, byte(i), byte(255-i%256), '\r', 0)
	}
	file := filepath.Join(t.TempDir(), "bin")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	jr := newJob("node1", "cat "+file)
	wantCode(t, jr, jr.run(t, d), 0)
	if !bytes.Equal(jr.stdout.Bytes(), data) {
		t.Fatalf("binary output differs: %d bytes, want %d", len(jr.stdout.Bytes()), len(data))
	}
}

func TestConcurrentRuns(t *testing.T) {
	names := sshtest.NodeNames("node", 24)
	s, e := sshtest.StartNodes(t, sshtest.Config{}, names...)
	d := testDriver(t, e)
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Go(func() {
			jr := newJob(n, "sleep 0.3; echo $0")
			res := jr.run(t, d)
			if res.Err != nil || res.ExitCode != 0 {
				t.Errorf("%s: %d %v %s", n, res.ExitCode, res.Err, jr.stderr)
			}
		})
	}
	wg.Wait()
	if st := s.Stats(); st.MaxSessions < 2 || st.Execs != len(names) {
		t.Fatalf("stats %+v", st)
	}
}

func TestCancelKillsCommand(t *testing.T) {
	s, _, d := startNode1(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	jr := newJob("node1", "echo $$ > "+pidFile+"; exec sleep 120")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan engine.Result, 1)
	go func() { done <- d.Run(ctx, jr.job) }()
	var pid int
	waitFor(t, "the command to start", func() bool {
		b, _ := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return pid > 0
	})
	res := testutil.CancelAndWait(t, cancel, done, 2*time.Second, 5*time.Second)
	if !errors.Is(res.Err, context.Canceled) {
		t.Fatalf("Err = %v, want context.Canceled", res.Err)
	}
	if engine.ReasonOf(res.Err) != "" {
		t.Fatalf("cancel reported as node failure: %v", res.Err)
	}
	waitFor(t, "the remote command to die", func() bool {
		return syscall.Kill(pid, 0) == syscall.ESRCH
	})
	if s.Stats().Signals != 1 {
		t.Fatalf("server got %d signals, want 1 (KILL)", s.Stats().Signals)
	}
}

func TestDeadlineBeforeConnect(t *testing.T) {
	_, _, d := startNode1(t)
	jr := newJob("node1", "true")
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	res := d.Run(ctx, jr.job)
	if !errors.Is(res.Err, context.DeadlineExceeded) {
		t.Fatalf("Err = %v", res.Err)
	}
}

func TestAgentAuth(t *testing.T) {
	s, e, key := startNode1WithKey(t)
	sock := startAgent(t, key)
	// The agent's key only: IdentitiesOnly off, no usable identity file.
	if err := e.AddConfig("Host node1", "    IdentityAgent "+sock, "    IdentitiesOnly no", "    IdentityFile /nonexistent"); err != nil {
		t.Fatal(err)
	}
	d := testDriver(t, e)
	jr := newJob("node1", "echo agent")
	wantCode(t, jr, jr.run(t, d), 0)

	// The same through Driver.Agent, with no socket.
	s.SetRejectAuth(false)
	d2 := testDriver(t, e)
	d2.Agent = keyring(t, key)
	jr = newJob("node1", "echo agent")
	wantCode(t, jr, jr.run(t, d2), 0)
}

func TestEncryptedKeySkipped(t *testing.T) {
	_, e, key := startNode1WithKey(t)
	enc := filepath.Join(e.Dir, "id_encrypted")
	if err := key.WriteEncrypted(enc, "secret"); err != nil {
		t.Fatal(err)
	}
	// The encrypted key comes first and is skipped; the plain one works.
	if err := e.AddConfig("Host node1", "    IdentityFile "+enc); err != nil {
		t.Fatal(err)
	}
	d := testDriver(t, e)
	jr := newJob("node1", "true")
	wantCode(t, jr, jr.run(t, d), 0)
	if !strings.Contains(jr.debug.String(), "skipping encrypted key "+enc) {
		t.Fatalf("no debug line for the encrypted key:\n%s", jr.debug)
	}
}
