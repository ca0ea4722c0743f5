package sdnotify

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listen opens a unixgram socket at name (a path or @abstract) as
// systemd does, and returns a function reading the next datagram.
func listen(t *testing.T, name string) func() string {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return func() string {
		t.Helper()
		// A hang catcher only: the datagram is already queued or on its way.
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		buf := make([]byte, maxDatagram+1)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("read notification: %v", err)
		}
		return string(buf[:n])
	}
}

func TestSendPathAndAbstract(t *testing.T) {
	for _, name := range []string{
		filepath.Join(t.TempDir(), "notify"),
		"@fleetsh-sdnotify-test-" + strconv.FormatInt(time.Now().UnixNano(), 36),
	} {
		t.Run(name[:1], func(t *testing.T) {
			next := listen(t, name)
			n, err := New(name, "", "", 1)
			if err != nil || n == nil {
				t.Fatalf("New(%q) = %v, %v", name, n, err)
			}
			if err := n.Send(Ready, Status("serving\non 127.0.0.1:4222")); err != nil {
				t.Fatal(err)
			}
			if got, want := next(), "READY=1\nSTATUS=serving on 127.0.0.1:4222\n"; got != want {
				t.Errorf("got %q, want %q", got, want)
			}
			if err := n.Send(Stopping); err != nil {
				t.Fatal(err)
			}
			if got := next(); got != "STOPPING=1\n" {
				t.Errorf("got %q", got)
			}
		})
	}
}

func TestSendRefusesWhatSystemdWouldMisread(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none")
	n, err := New(missing, "", "", 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Send(Ready); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("send to a missing socket: %v", err)
	}
	for _, lines := range [][]string{{"READY=1\nSTOPPING=1"}, {"READY"}, {"STATUS=" + strings.Repeat("x", maxDatagram)}} {
		if err := n.Send(lines...); err == nil || strings.Contains(err.Error(), missing) {
			t.Errorf("Send(%.40q): %v", lines, err)
		}
	}
}

func TestNilNotifier(t *testing.T) {
	n, err := New("", "1000000", "", 1)
	if n != nil || err != nil {
		t.Fatalf("New without a socket = %v, %v", n, err)
	}
	if err := n.Send(Ready); err != nil {
		t.Error(err)
	}
	if d := n.WatchdogInterval(); d != 0 {
		t.Error(d)
	}
	n.Watchdog(context.Background(), nil, nil) // returns at once
}

func TestNewWatchdog(t *testing.T) {
	for _, c := range []struct {
		socket, usec, pid string
		want              time.Duration
		bad               bool
	}{
		{"/run/systemd/notify", "", "", 0, false},
		{"/run/systemd/notify", "30000000", "", 15 * time.Second, false},
		{"/run/systemd/notify", "30000000", "7", 15 * time.Second, false},
		{"/run/systemd/notify", "30000000", "8", 0, false}, // another process's watchdog
		{"@notify", "2", "", time.Microsecond, false},
		{"/run/systemd/notify", "0", "", 0, true},
		{"/run/systemd/notify", "-5", "", 0, true},
		{"/run/systemd/notify", "1e6", "", 0, true},
		{"/run/systemd/notify", "99999999999999999999", "", 0, true},
		{"relative/notify", "", "", 0, true},
		{"/" + strings.Repeat("x", 200), "", "", 0, true},
	} {
		n, err := New(c.socket, c.usec, c.pid, 7)
		if c.bad {
			if err == nil {
				t.Errorf("New(%q, %q) accepted", c.socket, c.usec)
			}
			continue
		}
		if err != nil {
			t.Errorf("New(%q, %q, %q): %v", c.socket, c.usec, c.pid, err)
			continue
		}
		if got := n.WatchdogInterval(); got != c.want {
			t.Errorf("New(%q, %q, %q): interval %v, want %v", c.socket, c.usec, c.pid, got, c.want)
		}
	}
}

// The watchdog pings only after alive answers nil, and stops with ctx.
func TestWatchdogPingsWhileAlive(t *testing.T) {
	name := filepath.Join(t.TempDir(), "notify")
	next := listen(t, name)
	n, err := New(name, "2000", "", 1) // a ping every millisecond
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	calls, reports := 0, 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.Watchdog(ctx, func(context.Context) error {
			calls++
			if calls <= 3 {
				return errors.New("stuck")
			}
			if calls == 5 {
				cancel()
			}
			return nil
		}, func(err error) {
			if err.Error() != "stuck" {
				t.Errorf("reported %v", err)
			}
			reports++
		})
	}()
	if got := next(); got != "WATCHDOG=1\n" {
		t.Errorf("got %q", got)
	}
	<-done
	// Three failed probes were reported and sent nothing; the fourth
	// pinged; the fifth ended the watchdog, which then sends nothing.
	if calls != 5 || reports != 3 {
		t.Errorf("%d probes, %d reports", calls, reports)
	}
}

func FuzzNew(f *testing.F) {
	f.Add("/run/systemd/notify", "30000000", "")
	f.Add("@abstract", "1", "1")
	f.Fuzz(func(t *testing.T, socket, usec, pid string) {
		n, err := New(socket, usec, pid, 1)
		if err != nil && n != nil {
			t.Fatal("a notifier with an error")
		}
		if n != nil && n.WatchdogInterval() < 0 {
			t.Fatal("negative interval")
		}
	})
}
