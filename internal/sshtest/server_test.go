package sshtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/fleetsh/fleetsh/internal/sshdtest"
)

// dial connects to s with the Env's key, checking the host key against
// the Env's known_hosts.
func dial(t *testing.T, s *Server, e *Env) *ssh.Client {
	t.Helper()
	cb, err := knownhosts.New(e.KnownHostsPath)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", s.Addr(), &ssh.ClientConfig{
		User:            "test",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(e.Key.Signer)},
		HostKeyCallback: cb,
		Timeout:         5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitFor polls cond for up to 5 s: the server updates its counters on
// its own goroutines, a moment after the client saw the effect.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// node1Session starts a server for node1, dials it and opens a session.
func node1Session(t *testing.T) (*Server, *ssh.Session) {
	t.Helper()
	s, e := StartNodes(t, Config{}, "node1")
	sess, err := dial(t, s, e).NewSession()
	if err != nil {
		t.Fatal(err)
	}
	return s, sess
}

func TestExec(t *testing.T) {
	_, sess := node1Session(t)
	var stdout, stderr bytes.Buffer
	sess.Stdout, sess.Stderr = &stdout, &stderr
	sess.Stdin = strings.NewReader("hello\n")
	err := sess.Run("cat; echo err >&2; exit 3")
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != 3 {
		t.Fatalf("Run: %v, want exit status 3", err)
	}
	if stdout.String() != "hello\n" || stderr.String() != "err\n" {
		t.Fatalf("stdout %q stderr %q", stdout.String(), stderr.String())
	}
}

func TestLoginUserInEnv(t *testing.T) {
	_, sess := node1Session(t)
	out, err := sess.Output(`echo "$SSHTEST_USER"`)
	if err != nil || string(out) != "test\n" {
		t.Fatalf("SSHTEST_USER: %q, %v", out, err)
	}
}

func TestExitSignal(t *testing.T) {
	_, sess := node1Session(t)
	err := sess.Run("kill -TERM $$")
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.Signal() != "TERM" {
		t.Fatalf("Run: %v, want exit-signal TERM", err)
	}
}

func TestSignalKillsCommand(t *testing.T) {
	s, sess := node1Session(t)
	out, _ := sess.StdoutPipe()
	if err := sess.Start("echo ready; exec sleep 60"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(out, buf); err != nil {
		t.Fatal(err)
	}
	if err := sess.Signal(ssh.SIGKILL); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err := <-done:
		var ee *ssh.ExitError
		if !errors.As(err, &ee) || ee.Signal() != "KILL" {
			t.Fatalf("Wait: %v, want exit-signal KILL", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("command not killed")
	}
	if st := s.Stats(); st.Signals != 1 {
		t.Fatalf("Signals = %d", st.Signals)
	}
}

func TestRejectAuth(t *testing.T) {
	s, e := StartNodes(t, Config{}, "node1")
	s.SetRejectAuth(true)
	cb, _ := knownhosts.New(e.KnownHostsPath)
	_, err := ssh.Dial("tcp", s.Addr(), &ssh.ClientConfig{
		User: "test", Auth: []ssh.AuthMethod{ssh.PublicKeys(e.Key.Signer)}, HostKeyCallback: cb,
	})
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("Dial: %v, want auth failure", err)
	}
	if s.Stats().AuthFailures == 0 {
		t.Fatal("no auth failure counted")
	}
}

func TestStall(t *testing.T) {
	s := Start(t, Config{})
	s.SetStall(true)
	start := time.Now()
	// ssh.ClientConfig.Timeout bounds only the TCP connect, which the
	// stalled server accepts: the deadline must be on the connection.
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(300 * time.Millisecond))
	_, _, _, err = ssh.NewClientConn(conn, s.Addr(), &ssh.ClientConfig{
		User: "test", HostKeyCallback: ssh.InsecureIgnoreHostKey(),
	})
	if err == nil {
		t.Fatal("handshake with a stalled server succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("timeout took %v", d)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a timeout", err)
	}
}

func TestDropKex(t *testing.T) {
	s, e := StartNodes(t, Config{}, "node1")
	s.DropKex(2)
	cb, _ := knownhosts.New(e.KnownHostsPath)
	cfg := &ssh.ClientConfig{User: "test", Auth: []ssh.AuthMethod{ssh.PublicKeys(e.Key.Signer)}, HostKeyCallback: cb}
	for i := range 2 {
		if _, err := ssh.Dial("tcp", s.Addr(), cfg); err == nil {
			t.Fatalf("dial %d succeeded, want a drop", i)
		}
	}
	c, err := ssh.Dial("tcp", s.Addr(), cfg)
	if err != nil {
		t.Fatalf("third dial: %v", err)
	}
	c.Close()
	waitFor(t, func() bool { return s.Stats().Handshakes == 1 })
	if st := s.Stats(); st.Dropped != 2 || st.Handshakes != 1 {
		t.Fatalf("stats %+v", st)
	}
	// Only the completed handshake is counted, under the key exchange
	// both sides prefer.
	if st := s.Stats(); len(st.KeyExchanges) != 1 || st.KeyExchanges[ssh.KeyExchangeMLKEM768X25519] != 1 {
		t.Errorf("key exchanges %v, want one %s", st.KeyExchanges, ssh.KeyExchangeMLKEM768X25519)
	}
}

func TestMaxSessions(t *testing.T) {
	s, e := StartNodes(t, Config{}, "node1")
	c := dial(t, s, e)
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			sess, err := c.NewSession()
			if err != nil {
				t.Error(err)
				return
			}
			if err := sess.Run("sleep 0.3"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// The server counts a session closed when its side of the close
	// arrives, a moment after the client's Run returned.
	waitFor(t, func() bool { return s.Stats().ActiveSessions == 0 })
	if st := s.Stats(); st.MaxSessions != 5 || st.ActiveSessions != 0 || st.Execs != 5 {
		t.Fatalf("stats %+v", st)
	}
}

func TestSFTPAndRefusal(t *testing.T) {
	s, e := StartNodes(t, Config{}, "node1")
	c := dial(t, s, e)
	sc, err := sftp.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "f")
	f, err := sc.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.Write([]byte("data"))
	f.Close()
	sc.Close()
	if b, _ := os.ReadFile(p); string(b) != "data" {
		t.Fatalf("file holds %q", b)
	}
	s.SetSFTP(false)
	if _, err := sftp.NewClient(c); err == nil {
		t.Fatal("sftp accepted after SetSFTP(false)")
	}
}

func TestForward(t *testing.T) {
	jump, e := StartNodes(t, Config{}, "jump")
	target := Start(t, Config{})
	if err := e.AddNodes(target, "node1"); err != nil {
		t.Fatal(err)
	}
	jc := dial(t, jump, e)
	conn, err := jc.Dial("tcp", target.Addr())
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := knownhosts.New(e.KnownHostsPath)
	cc, chans, reqs, err := ssh.NewClientConn(conn, target.Addr(), &ssh.ClientConfig{
		User: "test", Auth: []ssh.AuthMethod{ssh.PublicKeys(e.Key.Signer)}, HostKeyCallback: cb,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := ssh.NewClient(cc, chans, reqs)
	defer c.Close()
	sess, _ := c.NewSession()
	out, err := sess.Output("echo through")
	if err != nil || string(out) != "through\n" {
		t.Fatalf("Output %q, %v", out, err)
	}
	if _, err := jc.Dial("tcp", "192.0.2.1:22"); err == nil {
		t.Fatal("forward to a non-loopback address accepted")
	}
}

// TestOpenSSHClient checks the Env files with the real ssh client, when
// one is installed: the config, known_hosts and key must be what OpenSSH
// expects.
func TestOpenSSHClient(t *testing.T) {
	sshPath, err := exec.LookPath("ssh")
	if err != nil {
		sshdtest.SkipUnlessRequired(t, "no ssh client")
	}
	// More names than one Host line holds (64).
	_, e := StartNodes(t, Config{}, NodeNames("node", 130)...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, sshPath, "-F", e.ConfigPath, "node130", "echo", "ok").CombinedOutput()
	if err != nil || string(out) != "ok\n" {
		t.Fatalf("ssh: %q, %v", out, err)
	}
}

func TestCloseKillsCommands(t *testing.T) {
	s, e := StartNodes(t, Config{}, "node1")
	c := dial(t, s, e)
	sess, _ := c.NewSession()
	pidFile := filepath.Join(t.TempDir(), "pid")
	if err := sess.Start("echo $$ > " + pidFile + "; exec sleep 60"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if b, _ := os.ReadFile(pidFile); len(b) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("command did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung")
	}
}
