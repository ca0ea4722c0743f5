package natstest

import (
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// dialFrom connects to a loopback listener from local port port, as an
// outgoing connection the kernel gave that port would.
func dialFrom(t *testing.T, port int) (net.Conn, error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}}
	c, err := d.Dial("tcp", l.Addr().String())
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// A port found free, then taken by an outgoing connection before the
// server starts there: RunOptions returns the server's own error at once
// (it used to wait 10 s and say "not ready").
func TestRunOptionsTakenPort(t *testing.T) {
	port := FreePort(t)
	if _, err := dialFrom(t, port); err != nil {
		t.Fatalf("connect from port %d: %v", port, err)
	}
	s, err := RunOptions(&server.Options{Host: "127.0.0.1", Port: port, NoSigs: true, NoLog: true})
	if err == nil {
		s.Shutdown()
		t.Fatalf("a server started on port %d, which a connection holds", port)
	}
	if !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("error %q does not give the server's cause", err)
	}
}

// A held port: no other socket binds it without SO_REUSEADDR (a
// connection's local port), a server binds it, and again after a
// restart.
func TestHoldPort(t *testing.T) {
	port := HoldPort(t)
	if _, err := dialFrom(t, port); !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("connect from held port %d: %v, want EADDRINUSE", port, err)
	}
	for range 2 {
		s, err := RunOptions(&server.Options{Host: "127.0.0.1", Port: port, NoSigs: true, NoLog: true})
		if err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect(s.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		nc.Close()
		s.Shutdown()
		s.WaitForShutdown()
	}
}
