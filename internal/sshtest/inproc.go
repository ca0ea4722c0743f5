package sshtest

import (
	"context"
	"errors"
	"io"

	"golang.org/x/crypto/ssh"
)

// ExecFunc runs the command of an "exec" request in process
// (Config.Exec). It reads the session's standard input from x.Stdin,
// writes x.Stdout and x.Stderr and returns the command's exit status.
// ctx is cancelled when the client sends a signal (the server then
// reports that signal as the command's end) or the server closes.
// Returning ErrDrop closes the whole connection without an exit status,
// as a host that crashes or a network that fails mid-command does.
type ExecFunc func(ctx context.Context, x *ExecRequest) (status int, err error)

// ExecRequest is the command an ExecFunc runs and its streams.
type ExecRequest struct {
	// Command is the exec request's command line, as sent.
	Command string
	// User is the name the client authenticated as.
	User string
	// Stdin reads what the client sends on the channel.
	Stdin io.Reader
	// Stdout and Stderr write the channel's data and extended data.
	Stdout, Stderr io.Writer
}

// ErrDrop, returned by an ExecFunc, makes the server close the TCP
// connection without sending the command's exit status.
var ErrDrop = errors.New("sshtest: drop the connection")

// signalCause is the cause of an ExecFunc's cancelled context when the
// client sent a signal.
type signalCause struct{ name string }

func (c signalCause) Error() string { return "signal " + c.name }

// runInProcess runs Config.Exec for one session, then ends it as
// finishExec does: EOF, exit status (or the signal the client sent),
// close. With ErrDrop it closes conn instead.
func (s *Server) runInProcess(ctx context.Context, conn ssh.Conn, ch ssh.Channel, command string, leave func()) {
	status, err := s.cfg.Exec(ctx, &ExecRequest{Command: command, User: conn.User(), Stdin: ch, Stdout: ch, Stderr: ch.Stderr()})
	leave()
	if errors.Is(err, ErrDrop) {
		_ = conn.Close()
		return
	}
	if err != nil {
		s.logf("exec %q: %v", command, err)
	}
	_ = ch.CloseWrite()
	var sig signalCause
	if errors.As(context.Cause(ctx), &sig) {
		sendExitSignal(ch, sig.name, false)
	} else {
		sendExitStatus(ch, status)
	}
	_ = ch.Close()
}
