package sshtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// echoExec is an ExecFunc: "drop" prints a line and drops the
// connection, "wait" blocks until cancelled, "user" prints the login
// name, anything else is copied to stdout with stdin and exits 4.
func echoExec(ctx context.Context, x *ExecRequest) (int, error) {
	switch x.Command {
	case "user":
		_, _ = io.WriteString(x.Stdout, x.User)
		return 0, nil
	case "drop":
		_, _ = io.WriteString(x.Stdout, "partial\n")
		return 0, ErrDrop
	case "wait":
		_, _ = io.WriteString(x.Stderr, "waiting\n")
		<-ctx.Done()
		return 0, nil
	}
	_, _ = io.WriteString(x.Stdout, x.Command+":")
	_, _ = io.Copy(x.Stdout, x.Stdin)
	return 4, nil
}

func TestExecInProcess(t *testing.T) {
	s, e := StartNodes(t, Config{Exec: echoExec}, "node1")
	c := dial(t, s, e)
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sess.Stdout, sess.Stdin = &out, strings.NewReader("in")
	var ee *ssh.ExitError
	if err := sess.Run("hello"); !errors.As(err, &ee) || ee.ExitStatus() != 4 {
		t.Fatalf("Run: %v, want exit status 4", err)
	}
	if out.String() != "hello:in" {
		t.Fatalf("stdout %q", out.String())
	}

	// The command knows who logged in.
	sess, err = c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := sess.Output("user"); err != nil || string(got) != "test" {
		t.Fatalf("user: %q, %v; want the login name %q", got, err, "test")
	}

	// A signal ends the command and is reported as its end.
	sess, err = c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	stderr, _ := sess.StderrPipe()
	if err := sess.Start("wait"); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, len("waiting\n"))
	if _, err := io.ReadFull(stderr, line); err != nil {
		t.Fatal(err)
	}
	if err := sess.Signal(ssh.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := sess.Wait(); !errors.As(err, &ee) || ee.Signal() != "TERM" {
		t.Fatalf("Wait: %v, want signal TERM", err)
	}

	// A shell cannot run without /bin/sh.
	sess, err = c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err == nil {
		t.Fatal("shell accepted by an in-process server")
	}
	if st := s.Stats(); st.Execs != 3 {
		t.Fatalf("stats %+v, want 3 execs", st)
	}
}

func TestExecDrop(t *testing.T) {
	s, e := StartNodes(t, Config{Exec: echoExec}, "node1")
	sess, err := dial(t, s, e).NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sess.Stdout = &out
	var missing *ssh.ExitMissingError
	if err := sess.Run("drop"); !errors.As(err, &missing) {
		t.Fatalf("Run: %v, want a missing exit status", err)
	}
	if out.String() != "partial\n" {
		t.Fatalf("stdout %q: the output before the drop must arrive", out.String())
	}
}

func TestAddHost(t *testing.T) {
	e := NewEnv(t)
	if err := e.AddHost("127.0.0.1", 1, "gone*"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(e.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "Host gone*\n    HostName 127.0.0.1\n    Port 1\n") {
		t.Fatalf("config:\n%s", data)
	}
}
