package broker

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
)

func TestStartListensWhereTold(t *testing.T) {
	s, err := Start(Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	addr := Addr(s)
	if !strings.HasPrefix(addr, "127.0.0.1:") || addr == "127.0.0.1:0" {
		t.Fatalf("addr %q", addr)
	}
	nc, err := nats.Connect("nats://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
}

func TestStartWithoutListener(t *testing.T) {
	s, err := Start(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	if Addr(s) != "" {
		t.Errorf("listens on %q", Addr(s))
	}
	nc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
}

func TestStartRefusesBadAddresses(t *testing.T) {
	for _, listen := range []string{":4222", "127.0.0.1", "127.0.0.1:99999", "127.0.0.1:x"} {
		if s, err := Start(Config{Listen: listen}); err == nil {
			s.Shutdown()
			t.Errorf("%q accepted", listen)
		}
	}
	// A port in use is an error, not a silent server without listener.
	s, err := Start(Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	if s2, err := Start(Config{Listen: Addr(s)}); err == nil {
		s2.Shutdown()
		t.Errorf("second server on %s started", Addr(s))
	}
}

// The fleet's port has no authentication yet: an address others can reach
// is refused unless Insecure says so, before anything listens.
func TestStartRefusesBeyondLoopback(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:4222", "[::]:4222", "192.0.2.1:4222", "gateway.example:4222"} {
		s, err := Start(Config{Listen: listen})
		if err == nil {
			s.Shutdown()
			t.Fatalf("%q accepted", listen)
		}
		if !errors.Is(err, ErrNotLoopback) || !strings.Contains(err.Error(), listen) || !strings.Contains(err.Error(), "--insecure") {
			t.Errorf("%q: %v", listen, err)
		}
	}
	for _, host := range []string{"127.0.0.1", "127.8.9.10", "::1", "localhost", "LOCALHOST"} {
		if !loopback(host) {
			t.Errorf("%s is not taken for loopback", host)
		}
	}
	for _, host := range []string{"0.0.0.0", "::", "192.0.2.1", "10.0.0.1", "localhost.example", ""} {
		if loopback(host) {
			t.Errorf("%q is taken for loopback", host)
		}
	}
}

// With Insecure the server starts beyond loopback and says so at every
// start. 192.0.2.1 (TEST-NET-1) is no address of this machine: the bind
// fails without a packet sent, after the warning.
func TestStartInsecureWarns(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	s, err := Start(Config{Listen: "192.0.2.1:0", Insecure: true, Logger: log})
	if err == nil {
		s.Shutdown()
	}
	if errors.Is(err, ErrNotLoopback) {
		t.Fatalf("refused with Insecure: %v", err)
	}
	if !strings.Contains(logs.String(), "level=WARN msg=\"INSECURE: the fleet's NATS port is open beyond loopback") {
		t.Errorf("no warning: %s", logs.String())
	}
	logs.Reset()
	s, err = Start(Config{Listen: "127.0.0.1:0", Insecure: true, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	s.Shutdown()
	if strings.Contains(logs.String(), "INSECURE") {
		t.Errorf("warned on loopback: %s", logs.String())
	}
	// ... but says that every local user may use it.
	if !strings.Contains(logs.String(), "level=WARN msg=\"the fleet's NATS port takes any client of this machine without a credential") {
		t.Errorf("no warning about local users: %s", logs.String())
	}
}
