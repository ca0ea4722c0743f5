// Package natstest runs a real nats-server in the test process, on a
// random loopback port, for tests of the fleet roles.
package natstest

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Server is a NATS server started for a test.
type Server struct {
	*server.Server
	t    testing.TB
	port int
	// storeDir is the JetStream store of a StartJetStream server ("": no
	// JetStream), kept across Restart.
	storeDir string
}

// Start starts a server on 127.0.0.1 (port 0: a random one) and stops it
// when the test ends.
func Start(t testing.TB, port int) *Server {
	t.Helper()
	s, err := Run(port)
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Server: s, t: t, port: s.Addr().(*net.TCPAddr).Port}
	t.Cleanup(srv.Stop)
	return srv
}

// Run starts a server on 127.0.0.1:port (0: random) outside of a test.
func Run(port int) (*server.Server, error) { return RunJetStream(port, "") }

// StartJetStream is Start with JetStream, its file store in storeDir
// (which Restart keeps: the new server finds the state of the old).
func StartJetStream(t testing.TB, storeDir string) *Server {
	t.Helper()
	s, err := RunJetStream(0, storeDir)
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Server: s, t: t, port: s.Addr().(*net.TCPAddr).Port, storeDir: storeDir}
	t.Cleanup(srv.Stop)
	return srv
}

// RunJetStream starts a server on 127.0.0.1:port (0: random), with
// JetStream on a file store in storeDir unless it is "".
func RunJetStream(port int, storeDir string) (*server.Server, error) {
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return RunOptions(&server.Options{
		Host:       "127.0.0.1",
		Port:       port,
		NoSigs:     true,
		NoLog:      true,
		MaxPending: 128 << 20,
		JetStream:  storeDir != "",
		StoreDir:   storeDir,
		// Tests need little: the server otherwise reserves a share of
		// the machine's memory and disk.
		JetStreamMaxMemory: 256 << 20,
		JetStreamMaxStore:  1 << 30,
	})
}

// RunOptions starts a server with opts and waits until it is ready, or
// returns why it cannot start (startReady).
func RunOptions(opts *server.Options) (*server.Server, error) {
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	if err := startReady(s); err != nil {
		s.Shutdown()
		return nil, fmt.Errorf("nats server on port %d: %w", opts.Port, err)
	}
	return s, nil
}

// Restart stops a server with stop and, after pause, starts it again on
// the same port with start, retrying while the port lingers.
func Restart(t testing.TB, port int, pause time.Duration, stop func(), start func() error) {
	t.Helper()
	stop()
	time.Sleep(pause)
	var err error
	for range 50 { // the port may linger a moment
		if err = start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("restart nats on %d: %v", port, err)
}

// URL is the server's client URL.
func (s *Server) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// Port is the server's port (kept across Restart).
func (s *Server) Port() int { return s.port }

// Stop shuts the server down.
func (s *Server) Stop() {
	s.Server.Shutdown()
	s.Server.WaitForShutdown()
}

// Restart stops the server and starts a new one on the same port after
// pause.
func (s *Server) Restart(pause time.Duration) {
	s.t.Helper()
	Restart(s.t, s.port, pause, s.Stop, func() error {
		ns, err := RunJetStream(s.port, s.storeDir)
		if err == nil {
			s.Server = ns
		}
		return err
	})
}

// Connect connects a client that reconnects forever, closed at test end.
func (s *Server) Connect(t testing.TB, name string) *nats.Conn {
	t.Helper()
	return Dial(t, s.URL(), name)
}

// Dial connects a client to urls that reconnects forever, closed at test
// end.
func Dial(t testing.TB, urls, name string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(urls, nats.Name(name), nats.MaxReconnects(-1),
		nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatalf("connect %s: %v", name, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Logger returns a logger writing to the test log; what is logged after
// the test ended (by goroutines still stopping) is dropped.
func Logger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() { w.done.Store(true) })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	t    testing.TB
	done atomic.Bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}
