// Package testutil holds small helpers shared by tests of several packages
// that fit none of the test-support packages about one service
// (internal/natstest, internal/sshtest, internal/sshdtest) or about skips
// (internal/testreq).
package testutil

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/pkg/engine"
)

// SyncBuffer is a bytes.Buffer safe for concurrent use: a process or a
// goroutine under test writes it while the test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Bytes returns a copy of what was written so far.
func (s *SyncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// InfoMap is an engine.Job's Info function reading m.
func InfoMap(m map[string]any) func(string) (any, bool) {
	return func(k string) (any, bool) { v, ok := m[k]; return v, ok }
}

// JobOutput is what a worker's Run of one job returned and wrote.
type JobOutput struct {
	Res      engine.Result
	Out, Err string   // standard output, and error when kept apart
	Debug    []string // the job's debug lines
}

// RunJob runs job with d, its standard error apart from its output when
// sepErr (else merged, as Job.Stderr nil means), and collects what it wrote.
func RunJob(ctx context.Context, d interface {
	Run(context.Context, *engine.Job) engine.Result
}, job engine.Job, sepErr bool) JobOutput {
	var out, errb bytes.Buffer
	var r JobOutput
	job.Stdout = &out
	if sepErr {
		job.Stderr = &errb
	}
	job.Debug = func(l string) { r.Debug = append(r.Debug, l) }
	r.Res = d.Run(ctx, &job)
	r.Out, r.Err = out.String(), errb.String()
	return r
}

// BadNames returns n node names of 28 characters that do not fold
// together: each has its own letters, hence its own pattern, and three
// numeric fields. 40 000 of them fold to 1.16 MB, over NATS's default
// max_payload.
func BadNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		var letters [8]byte
		for k, v := 7, i; k >= 0; k-- {
			letters[k] = byte('a' + v%26)
			v /= 26
		}
		out[i] = fmt.Sprintf("labnode-%s-r%02d-c%02d-ib%d", letters[:], i*7%100, i*13%100, i%10)
	}
	return out
}

// Alive reports whether process pid exists and is not a zombie.
func Alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// Gone waits up to d for process pid to end. It kills a process still
// alive then, so that a failing test leaves nothing behind, and returns
// false.
func Gone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for Alive(pid) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if Alive(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		return false
	}
	return true
}

// CancelAndWait calls cancel, then takes a worker's result from done. No
// result within patience fails t at once; a result that came later than
// within after the cancel is an error of t.
func CancelAndWait[T any](t testing.TB, cancel func(), done <-chan T, within, patience time.Duration) T {
	t.Helper()
	start := time.Now()
	cancel()
	select {
	case r := <-done:
		if d := time.Since(start); d > within {
			t.Errorf("Run returned %v after cancel, over %v", d, within)
		}
		return r
	case <-time.After(patience):
		t.Fatalf("Run did not return within %v after cancel", patience)
		panic("unreachable")
	}
}

// LogLines hands each log line a command writes to the test (slog writes
// a record at a time): make it with room for every line the command logs.
type LogLines chan string

// Write implements io.Writer.
func (l LogLines) Write(p []byte) (int, error) {
	l <- string(p)
	return len(p), nil
}

// Await reads lines until one contains s; it fails the test after a
// minute, showing what came.
func (l LogLines) Await(t testing.TB, s string) {
	t.Helper()
	var seen []string
	timeout := time.After(time.Minute)
	for {
		select {
		case line := <-l:
			if strings.Contains(line, s) {
				return
			}
			seen = append(seen, line)
		case <-timeout:
			t.Fatalf("no log line with %q:\n%s", s, strings.Join(seen, ""))
		}
	}
}

// HeapInUse returns the live heap after a collection, for tests and
// benchmarks that measure what a structure holds.
func HeapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// RefusedPort returns a loopback TCP port that refuses connections for the
// whole test: a socket bound there, never listening, holds it. A port
// found free by listening and closing may be taken a moment later by a
// server another test starts, and a test expecting "Connection refused"
// then talks to that server.
func RefusedPort(t testing.TB) int {
	t.Helper()
	// Without SO_REUSEADDR: no other socket may bind the port meanwhile.
	return boundPort(t, "refused port", false)
}

// HoldPort returns a loopback TCP port held for the whole test, for a
// server the test starts there (a port written into a configuration
// before the server runs). A port found free by listening and closing is
// free only for that moment: the kernel may hand it next to any outgoing
// connection of the machine as its local port, or to another test's
// listener on port 0, and the server started there later cannot listen
// (CI once: "leaf west: nats server on port 43943 not ready",
// TestFaultLeafLinkCut). A held port is bound, never listening, with
// SO_REUSEADDR: the kernel gives it to no outgoing connection and no
// port-0 bind, while a server that sets SO_REUSEADDR (Go's net.Listen,
// nats-server) binds it and listens, as often as it restarts there.
func HoldPort(t testing.TB) int {
	t.Helper()
	return boundPort(t, "hold port", true)
}

// boundPort binds a socket to a free loopback port for the test's life,
// never listening, with SO_REUSEADDR when reuse is set.
func boundPort(t testing.TB, what string, reuse bool) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("%s: socket: %v", what, err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if reuse {
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
			t.Fatalf("%s: SO_REUSEADDR: %v", what, err)
		}
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("%s: bind: %v", what, err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("%s: getsockname: %v", what, err)
	}
	return sa.(*syscall.SockaddrInet4).Port
}
