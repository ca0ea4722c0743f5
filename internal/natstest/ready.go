package natstest

import (
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// HoldPort returns a loopback TCP port held for the whole test, for a
// server the test starts there (a port written into a configuration
// before the server runs). A port found free by listening and closing
// (FreePort) is free only for that moment: the kernel may hand it next
// to any outgoing connection of the machine as its local port, or to
// another test's listener on port 0, and the server started there later
// cannot listen (CI once: "leaf west: nats server on port 43943 not
// ready", TestFaultLeafLinkCut). A held port is bound, never listening,
// with SO_REUSEADDR: the kernel gives it to no outgoing connection and no
// port-0 bind, while a server that sets SO_REUSEADDR (Go's net.Listen,
// nats-server) binds it and listens, as often as it restarts there.
func HoldPort(t testing.TB) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("hold port: socket: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		t.Fatalf("hold port: SO_REUSEADDR: %v", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("hold port: bind: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("hold port: getsockname: %v", err)
	}
	return sa.(*syscall.SockaddrInet4).Port
}

// readyTimeout bounds the wait for a server that neither listens nor
// reports why it cannot: a listener and JetStream report their failure
// (startLog), so only a hung start-up waits this long.
const readyTimeout = 10 * time.Second

// startLog keeps what a starting server reports as fatal: one that
// cannot listen on a port or start JetStream says so through Fatalf, and
// then never becomes ready. It is the server's logger (a test server's
// options set NoLog: it has no other) and ignores everything else.
type startLog struct {
	once  sync.Once
	fatal chan string // receives the first fatal message, then is closed
}

func newStartLog() *startLog { return &startLog{fatal: make(chan string, 1)} }

// Fatalf records the first fatal message; unlike nats-server's own
// logger, it does not exit the test process.
func (l *startLog) Fatalf(format string, v ...any) {
	l.once.Do(func() {
		l.fatal <- fmt.Sprintf(format, v...)
		close(l.fatal)
	})
}

// Noticef, Warnf, Errorf, Debugf and Tracef ignore the message.
func (l *startLog) Noticef(string, ...any) {}

// Warnf ignores the message (see Noticef).
func (l *startLog) Warnf(string, ...any) {}

// Errorf ignores the message (see Noticef).
func (l *startLog) Errorf(string, ...any) {}

// Debugf ignores the message (see Noticef).
func (l *startLog) Debugf(string, ...any) {}

// Tracef ignores the message (see Noticef).
func (l *startLog) Tracef(string, ...any) {}

// startReady starts s and waits until it accepts connections (every
// listener of its options is up), or returns at once the error it
// reports when it cannot start: a fixed wait for readiness would report
// a taken port as "not ready" ten seconds later, and without its cause.
func startReady(s *server.Server) error {
	log := newStartLog()
	s.SetLoggerV2(log, false, false, false)
	s.Start()
	deadline := time.Now().Add(readyTimeout)
	for !s.ReadyForConnections(25 * time.Millisecond) {
		select {
		case msg := <-log.fatal:
			return fmt.Errorf("did not start: %s", msg)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v (it reported no error)", readyTimeout)
		}
	}
	return nil
}
