package ssh

import (
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/sshtest"
	"github.com/fleetsh/fleetsh/pkg/engine"
)

// The one-line reasons of failures (issue 10, item 6): what csub prints
// after "csub: node: <state>: <reason>".

// TestChangedHostKeyReason: OpenSSH's 16-line warning goes to stderr (see
// TestChangedHostKey); the reason is one sentence naming the key and the
// known_hosts line.
func TestChangedHostKeyReason(t *testing.T) {
	s, e := sshtest.StartNodes(t, sshtest.Config{}, "node1")
	impostor := sshtest.Start(t, sshtest.Config{})
	name := fmt.Sprintf("[127.0.0.1]:%d", s.Port())
	writeFile(t, e.KnownHostsPath, "# comment\n"+impostor.KnownHostsLine(name)+"\n")
	d := testDriver(t, e)
	jr := newJob("node1", "true")
	res := jr.run(t, d)
	wantFailure(t, jr, res, engine.ReasonHostKeyChanged)
	want := fmt.Sprintf("node1: host key changed: ED25519 key %s sent by %s does not match %s:2",
		fingerprint(s), name, e.KnownHostsPath)
	if got := res.Err.Error(); got != want {
		t.Fatalf("reason:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(jr.stderr.String(), "WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!") {
		t.Fatalf("stderr lacks OpenSSH's warning:\n%s", jr.stderr)
	}

	// A revoked key: also one sentence.
	writeFile(t, e.KnownHostsPath, "@revoked "+s.KnownHostsLine()+"\n")
	jr = newJob("node1", "true")
	res = jr.run(t, d)
	wantFailure(t, jr, res, engine.ReasonHostKeyChanged)
	want = fmt.Sprintf("node1: host key changed: ED25519 key %s of %s is marked as revoked in %s:1",
		fingerprint(s), name, e.KnownHostsPath)
	if got := res.Err.Error(); got != want {
		t.Fatalf("revoked reason:\n%s\nwant:\n%s", got, want)
	}
}

// TestBannerTimeoutReason: a server that accepts and never sends its
// banner.
func TestBannerTimeoutReason(t *testing.T) {
	s, d, jr := stalledJob(t)
	res := jr.run(t, d)
	wantFailure(t, jr, res, engine.ReasonConnectTimeout)
	want := fmt.Sprintf("node1: connect timeout: no answer from 127.0.0.1:%d within 300ms (SSH banner)", s.Port())
	if got := res.Err.Error(); got != want {
		t.Fatalf("reason %q, want %q", got, want)
	}
}

// fullBacklog listens on a loopback port with a backlog of 0 that is
// filled with a connection nobody accepts: the kernel drops further SYNs,
// so connecting times out in the TCP connect itself. It returns the port.
func fullBacklog(t *testing.T) int {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	port := sa.(*syscall.SockaddrInet4).Port
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// Fill the queue: connections complete until it is full, then a
	// connect hangs (its SYN is dropped).
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			if i == 0 {
				t.Fatalf("backlog: %v", err)
			}
			return port
		}
		t.Cleanup(func() { c.Close() })
		if i > 16 {
			t.Skip("the kernel keeps accepting connections into a backlog of 0")
		}
	}
}

// TestConnectTimeoutReason: the TCP connect itself times out.
func TestConnectTimeoutReason(t *testing.T) {
	port := fullBacklog(t)
	e := sshtest.NewEnv(t)
	if err := e.AddConfig("Host hung", "    HostName 127.0.0.1", fmt.Sprintf("    Port %d", port)); err != nil {
		t.Fatal(err)
	}
	d := testDriver(t, e)
	jr := newJob("hung", "true")
	jr.job.ConnectTimeout = 300 * time.Millisecond
	res := jr.run(t, d)
	wantFailure(t, jr, res, engine.ReasonConnectTimeout,
		fmt.Sprintf("ssh: connect to host 127.0.0.1 port %d: Connection timed out", port))
	want := fmt.Sprintf("hung: connect timeout: no answer from 127.0.0.1:%d within 300ms (TCP connect)", port)
	if got := res.Err.Error(); got != want {
		t.Fatalf("reason %q, want %q", got, want)
	}
}
