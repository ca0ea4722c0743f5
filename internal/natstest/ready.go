package natstest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/fleetsh/fleetsh/internal/testutil"
)

// HoldPort returns a loopback TCP port held for the whole test
// (testutil.HoldPort): the ports of a server a test configures before it
// runs, or restarts on.
func HoldPort(t testing.TB) int {
	t.Helper()
	return testutil.HoldPort(t)
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
