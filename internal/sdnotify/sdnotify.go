// Package sdnotify speaks systemd's service notification protocol
// (sd_notify(3)) without libsystemd: each notification is one datagram
// of newline-separated VAR=value lines sent to the unix datagram socket
// $NOTIFY_SOCKET names (a path, or an abstract socket name written with
// a leading '@'). A daemon started by a Type=notify unit says READY=1
// once it serves, STATUS=... for `systemctl status`, STOPPING=1 when it
// begins to stop and WATCHDOG=1 at least every $WATCHDOG_USEC when the
// unit sets WatchdogSec=.
//
// Outside systemd (no $NOTIFY_SOCKET) a Notifier is nil and its methods
// do nothing, so callers need no test of their own.
package sdnotify

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// The notifications the fleet daemons send.
const (
	Ready    = "READY=1"
	Stopping = "STOPPING=1"
	Watchdog = "WATCHDOG=1"
)

// maxDatagram bounds a notification: systemd reads at most a page-ish
// buffer (NOTIFY_BUFFER_MAX, 4 KiB in systemd 252), the rest is lost.
const maxDatagram = 4096

// Notifier sends notifications to one socket. The nil Notifier sends
// nothing.
type Notifier struct {
	addr     *net.UnixAddr
	watchdog time.Duration
}

// FromEnv returns the Notifier of the process's environment ($NOTIFY_SOCKET,
// $WATCHDOG_USEC, $WATCHDOG_PID), nil when $NOTIFY_SOCKET is unset.
func FromEnv() (*Notifier, error) {
	return New(os.Getenv("NOTIFY_SOCKET"), os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID"), os.Getpid())
}

// New returns the Notifier for socket (a path, or '@' and an abstract
// name; "": nil, no notifications), with the watchdog interval usec (in
// microseconds, "" for none) when watchdogPID is "" or pid, as
// sd_watchdog_enabled(3) reads them.
func New(socket, usec, watchdogPID string, pid int) (*Notifier, error) {
	if socket == "" {
		return nil, nil
	}
	if socket[0] != '/' && socket[0] != '@' {
		return nil, fmt.Errorf("NOTIFY_SOCKET %q: neither an absolute path nor an abstract name (@...)", socket)
	}
	if len(socket) > 107 { // sun_path holds 108 bytes, with a NUL for a path
		return nil, fmt.Errorf("NOTIFY_SOCKET %q: longer than a unix socket address", socket)
	}
	// Go's net package writes a leading '@' as the abstract namespace's
	// NUL byte.
	n := &Notifier{addr: &net.UnixAddr{Name: socket, Net: "unixgram"}}
	if usec == "" {
		return n, nil
	}
	if watchdogPID != "" && watchdogPID != strconv.Itoa(pid) {
		return n, nil // the watchdog is another process's (sd_watchdog_enabled)
	}
	us, err := strconv.ParseUint(usec, 10, 63)
	if err != nil || us == 0 || us > uint64(time.Duration(1<<62)/time.Microsecond) {
		return nil, fmt.Errorf("WATCHDOG_USEC %q: not a positive number of microseconds", usec)
	}
	n.watchdog = time.Duration(us) * time.Microsecond
	return n, nil
}

// WatchdogInterval is how often to send Watchdog: half of the unit's
// WatchdogSec=, as sd_watchdog_enabled(3) advises; 0 without a watchdog.
func (n *Notifier) WatchdogInterval() time.Duration {
	if n == nil {
		return 0
	}
	return n.watchdog / 2
}

// Send sends the lines (VAR=value each, e.g. Ready, "STATUS=serving") in
// one datagram. A line holding a newline, or a datagram over systemd's
// buffer, is an error: systemd would read it as other variables, or cut it.
func (n *Notifier) Send(lines ...string) error {
	if n == nil || len(lines) == 0 {
		return nil
	}
	for _, l := range lines {
		if strings.Contains(l, "\n") || !strings.Contains(l, "=") {
			return fmt.Errorf("sd_notify: %q: not one VAR=value line", l)
		}
	}
	msg := strings.Join(lines, "\n") + "\n"
	if len(msg) > maxDatagram {
		return fmt.Errorf("sd_notify: %d bytes: over systemd's %d", len(msg), maxDatagram)
	}
	// A socket per notification, as libsystemd does: nothing to keep
	// open, and a restarted systemd (daemon-reexec) is found again.
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.addr.Name, err)
	}
	_, werr := c.Write([]byte(msg))
	if cerr := c.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("sd_notify %s: %w", n.addr.Name, werr)
	}
	return nil
}

// Status is the STATUS= line for text, its newlines made spaces.
func Status(text string) string {
	return "STATUS=" + strings.ReplaceAll(text, "\n", " ")
}

// Watchdog sends Watchdog every WatchdogInterval until ctx ends, each
// time once alive(ctx) has returned nil: a daemon whose loops are stuck
// stops pinging, and systemd kills it after WatchdogSec=. alive may block;
// errors of alive or of the send go to report. Without a watchdog it
// returns at once.
func (n *Notifier) Watchdog(ctx context.Context, alive func(context.Context) error, report func(error)) {
	every := n.WatchdogInterval()
	if every <= 0 {
		return
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		err := alive(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = n.Send(Watchdog)
		}
		if err != nil {
			report(err)
		}
	}
}
