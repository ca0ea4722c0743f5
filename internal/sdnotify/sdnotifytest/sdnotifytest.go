// Package sdnotifytest is systemd's end of the notification socket, for
// tests of daemons that notify (package sdnotify): a unix datagram
// socket whose path goes in the daemon's $NOTIFY_SOCKET.
package sdnotifytest

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Socket receives notifications.
type Socket struct {
	// Path is the socket's path, for $NOTIFY_SOCKET.
	Path string
	conn *net.UnixConn
	// Seen is every datagram read so far, in order.
	Seen []string
}

// Listen opens a Socket in a temporary directory of t, closed when t ends.
func Listen(t testing.TB) *Socket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &Socket{Path: path, conn: c}
}

// Env is the environment variable that points a daemon at s.
func (s *Socket) Env() string { return "NOTIFY_SOCKET=" + s.Path }

// Await reads datagrams until one holds line (e.g. "READY=1") and
// returns its lines. It fails t after a minute without it: a hang
// catcher, not a timed assertion.
func (s *Socket) Await(t testing.TB, line string) []string {
	t.Helper()
	_, lines := s.await(t, line, func(l string) bool { return l == line })
	return lines
}

// AwaitPrefix is Await for the first line starting with prefix (e.g.
// "STATUS=agent gw1: registered"), which it returns.
func (s *Socket) AwaitPrefix(t testing.TB, prefix string) string {
	t.Helper()
	l, _ := s.await(t, prefix+"...", func(l string) bool { return strings.HasPrefix(l, prefix) })
	return l
}

func (s *Socket) await(t testing.TB, what string, match func(string) bool) (string, []string) {
	t.Helper()
	buf := make([]byte, 8192)
	_ = s.conn.SetReadDeadline(time.Now().Add(time.Minute))
	for {
		n, err := s.conn.Read(buf)
		if err != nil {
			t.Fatalf("no %s notification (got %q): %v", what, s.Seen, err)
		}
		msg := string(buf[:n])
		s.Seen = append(s.Seen, msg)
		lines := strings.Split(strings.TrimSuffix(msg, "\n"), "\n")
		if i := slices.IndexFunc(lines, match); i >= 0 {
			return lines[i], lines
		}
	}
}

// MainEnv, set to 1, makes a daemon's test binary run the daemon's main
// instead of its tests: its TestMain calls RunMain first.
const MainEnv = "FLEETSH_TEST_RUN_MAIN"

// RunMain runs main and exits when the process was started by StartMain;
// else it returns, and TestMain goes on with the tests.
func RunMain(main func()) {
	if os.Getenv(MainEnv) == "1" {
		main()
		os.Exit(0)
	}
}

// Daemon is a daemon process a test started.
type Daemon struct {
	cmd  *exec.Cmd
	done chan struct{}
	// Stderr is its log (stdout too): read it once Stop returned.
	Stderr *bytes.Buffer
	err    error
}

// StartMain starts the test binary again as the daemon (see RunMain)
// with args: Start of os.Args[0] with MainEnv=1.
func (s *Socket) StartMain(t testing.TB, env []string, args ...string) *Daemon {
	t.Helper()
	return s.Start(t, append([]string{MainEnv + "=1"}, env...), os.Args[0], args...)
}

// Start starts the daemon program with args, notifying s, with the extra
// environment env (e.g. WATCHDOG_USEC=...). The process is killed, by
// its PID, when t ends, and its log printed if t failed.
func (s *Socket) Start(t testing.TB, env []string, program string, args ...string) *Daemon {
	t.Helper()
	cmd := exec.Command(program, args...)
	cmd.Env = append(os.Environ(), append([]string{s.Env()}, env...)...)
	d := &Daemon{cmd: cmd, done: make(chan struct{}), Stderr: new(bytes.Buffer)}
	cmd.Stdout, cmd.Stderr = d.Stderr, d.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.err = cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-d.done
		if t.Failed() {
			t.Logf("%s log:\n%s", filepath.Base(program), d.Stderr)
		}
	})
	return d
}

// Stop sends SIGTERM and returns the exit status; it fails t after a
// minute without an exit (a hang catcher).
func (d *Daemon) Stop(t testing.TB) int {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.done:
	case <-time.After(time.Minute):
		t.Fatal("no exit within a minute of SIGTERM")
	}
	if d.err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(d.err, &ee) {
		return ee.ExitCode()
	}
	t.Fatal(d.err)
	return -1
}
