package broker

import (
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
