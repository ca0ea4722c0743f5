package tcpproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// echoServer echoes every line it reads, on loopback.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func start(t *testing.T) *Proxy {
	t.Helper()
	p, err := Start(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// dial connects through p and returns the connection and a line reader.
func dial(t *testing.T, p *Proxy) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, line string) {
	t.Helper()
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := r.ReadString('\n')
	if err != nil || got != line+"\n" {
		t.Fatalf("echo of %q: %q, %v", line, got, err)
	}
}

func waitConns(t *testing.T, p *Proxy, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); p.Conns() != n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections, want %d", p.Conns(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitForwarded waits until the proxy has counted n bytes: it counts a
// chunk once written, so the client may read an echo before its count
// (CI once: "forwarded 14 (before 7)").
func waitForwarded(t *testing.T, p *Proxy, n int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); p.Forwarded() < n; {
		if time.Now().After(deadline) {
			t.Fatalf("forwarded %d, want %d", p.Forwarded(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestForwards(t *testing.T) {
	p := start(t)
	c, r := dial(t, p)
	roundTrip(t, c, r, "hello")
	roundTrip(t, c, r, "again")
	waitForwarded(t, p, 2*2*6)
	if p.Accepted() != 1 || p.Conns() != 1 || p.Forwarded() != 2*2*6 {
		t.Errorf("accepted %d conns %d forwarded %d", p.Accepted(), p.Conns(), p.Forwarded())
	}
}

func TestStallHoldsBothWaysThenResumes(t *testing.T) {
	p := start(t)
	c, r := dial(t, p)
	roundTrip(t, c, r, "before")
	waitForwarded(t, p, 2*7)
	before := p.Forwarded()
	p.Stall()
	if !p.Stalled() {
		t.Fatal("not stalled")
	}
	if _, err := io.WriteString(c, "held\n"); err != nil {
		t.Fatal(err)
	}
	// Nothing crosses while stalled, and the connection stays open: the
	// read times out rather than failing.
	_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	var ne net.Error
	if _, err := r.ReadString('\n'); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read while stalled: %v, want a timeout", err)
	}
	if p.Forwarded() != before || p.Conns() != 1 {
		t.Fatalf("forwarded %d (before %d), conns %d while stalled", p.Forwarded(), before, p.Conns())
	}
	p.Resume()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got, err := r.ReadString('\n'); err != nil || got != "held\n" {
		t.Fatalf("after resume: %q, %v", got, err)
	}
	roundTrip(t, c, r, "after")
}

func TestDropAllClosesThenAcceptsAgain(t *testing.T) {
	p := start(t)
	c1, r1 := dial(t, p)
	c2, r2 := dial(t, p)
	roundTrip(t, c1, r1, "one")
	roundTrip(t, c2, r2, "two")
	p.Stall()
	if _, err := io.WriteString(c1, "lost\n"); err != nil {
		t.Fatal(err)
	}
	if n := p.DropAll(); n != 2 {
		t.Fatalf("dropped %d connections, want 2", n)
	}
	for _, r := range []*bufio.Reader{r1, r2} {
		if _, err := r.ReadString('\n'); err == nil {
			t.Fatal("a dropped connection still reads")
		}
	}
	waitConns(t, p, 0)
	// A stalled proxy accepts but forwards nothing; resumed, it forwards.
	p.Resume()
	c3, r3 := dial(t, p)
	roundTrip(t, c3, r3, "three")
	if p.Accepted() != 3 {
		t.Errorf("accepted %d", p.Accepted())
	}
}

func TestUnreachableTargetClosesClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p, err := Start(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, r := dial(t, p)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := r.ReadString('\n'); !errors.Is(err, io.EOF) {
		t.Fatalf("read through a proxy whose target refuses: %v", err)
	}
}

func TestCloseEndsEverything(t *testing.T) {
	p := start(t)
	c, r := dial(t, p)
	roundTrip(t, c, r, "x")
	p.Stall()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("connection open after Close")
	}
	if _, err := net.Dial("tcp", p.Addr()); err == nil {
		t.Fatal("listening after Close")
	}
}
