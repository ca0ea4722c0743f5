package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/fleetsh/fleetsh/pkg/engine"
)

// signalNumbers maps RFC 4254 signal names to Linux signal numbers, for
// the 128+n exit code of a command killed by a signal.
var signalNumbers = map[string]int{
	"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "BUS": 7, "FPE": 8,
	"KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
	"STKFLT": 16, "CHLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22,
	"URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29,
	"PWR": 30, "SYS": 31,
}

// lockedWriter serializes writes: when stderr is merged into stdout, the
// session copies both streams into one writer from two goroutines, and
// the driver's own messages may meet a remote scp's stderr.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// ReadFrom copies r to the writer through a pooled buffer (copyFrom).
func (l *lockedWriter) ReadFrom(r io.Reader) (int64, error) { return copyFrom(l, r) }

// pooledWriter is a writer the session's copy (io.Copy from the
// channel) fills through a pooled buffer: without a ReadFrom, io.Copy
// would allocate 32 KiB per stream and per node, the largest part of an
// agent's garbage on a short command (docs/bench/agentcpu.md).
type pooledWriter struct{ w io.Writer }

func (p pooledWriter) Write(b []byte) (int, error) { return p.w.Write(b) }

// ReadFrom copies r to the writer through a pooled buffer (copyFrom).
func (p pooledWriter) ReadFrom(r io.Reader) (int64, error) { return copyFrom(p.w, r) }

// copyBufSize is io.Copy's own buffer size, so that a stream is read in
// the same pieces as before.
const copyBufSize = 32 << 10

// copyBufs holds the buffers of copyFrom, shared by every run.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// copyFrom is io.Copy(w, r) with a buffer of copyBufs; w is hidden
// behind a plain Writer so that io.CopyBuffer does not call w's own
// ReadFrom (this one) again.
func copyFrom(w io.Writer, r io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	return io.CopyBuffer(struct{ io.Writer }{w}, r, *bp)
}

// command runs the job's command in one session on client.
func (r *run) command(ctx context.Context, client *ssh.Client, t *target) engine.Result {
	job := r.job
	sess, err := client.NewSession()
	if err != nil {
		if ctx.Err() != nil {
			return r.interrupted(ctx.Err())
		}
		return r.sessionFailure(t, err)
	}
	defer sess.Close()
	sess.Stdout, sess.Stderr = r.stdout, r.stderr
	// Our own stdin pipe: with sess.Stdin set, Wait would wait for the
	// copy of job.Stdin, which may never end (the engine keeps it open
	// while the user may still type) although the command is over.
	var stdin io.WriteCloser
	if job.Stdin != nil {
		if stdin, err = sess.StdinPipe(); err != nil {
			return r.sessionFailure(t, err)
		}
	}
	// No command: a shell reading the job's stdin, as ssh does for
	// "ssh -T node ''" (clush with no command and stdin not a terminal).
	start := func() error { return sess.Start(job.Command) }
	if job.Command == "" {
		start = sess.Shell
	}
	if err := start(); err != nil {
		if ctx.Err() != nil {
			return r.interrupted(ctx.Err())
		}
		return r.sessionFailure(t, err)
	}
	if stdin != nil {
		go func() {
			// Ends at job.Stdin's EOF (then the remote side gets EOF too)
			// or at the first write after the session closed.
			_, _ = copyFrom(stdin, job.Stdin)
			_ = stdin.Close()
		}()
	}
	// Wait runs here; a cancellation stops the command from the
	// context's own goroutine, started only then, and Wait's return waits
	// for that stop to be over. (A goroutine per node waiting for Wait
	// cost a goroutine and a wake-up per node.)
	var (
		waitErr  error
		waited   = make(chan struct{}) // closed once waitErr is set
		stop     *engine.RemoteStop
		stopDone = make(chan struct{})
	)
	unhook := context.AfterFunc(ctx, func() {
		defer close(stopDone)
		// Kill the command's processes on the node (stop.go), then signal
		// its shell in case that failed, and tear the connection down: a
		// server that ignores the signal (OpenSSH before 7.9) still sees
		// its channel and connection close. Wait then returns at once,
		// and once it has, nothing writes to the job's writers any more.
		began := time.Now()
		st := r.stopRemote(client)
		if st.Detail == noSession {
			// Nothing found: confirmed gone only if the command's exit
			// status came, that is, it ended on its own meanwhile.
			select {
			case <-waited:
				var ee *ssh.ExitError
				if waitErr == nil || errors.As(waitErr, &ee) {
					st = &engine.RemoteStop{Gone: true, Detail: "it had ended"}
				}
			default:
			}
		}
		r.debugf("SSHCLIENT: %s: stopped in %v: %v", r.job.Node, time.Since(began).Round(time.Millisecond), st)
		_ = sess.Signal(ssh.SIGKILL)
		_ = sess.Close()
		_ = client.Close()
		stop = st
	})
	waitErr = sess.Wait()
	close(waited)
	if !unhook() {
		<-stopDone
		return engine.Result{ExitCode: -1, Err: fmt.Errorf("ssh %s: interrupted: %w: %w", r.job.Node, ctx.Err(), stop)}
	}
	return r.exitResult(t, waitErr)
}

// exitResult turns the session's end into a Result.
func (r *run) exitResult(t *target, err error) engine.Result {
	if err == nil {
		return engine.Result{ExitCode: 0}
	}
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		if sig := ee.Signal(); sig != "" {
			if n, ok := signalNumbers[sig]; ok {
				return engine.Result{ExitCode: 128 + n}
			}
			return engine.Result{ExitCode: ExitSSHError}
		}
		return engine.Result{ExitCode: ee.ExitStatus()}
	}
	var missing *ssh.ExitMissingError
	if errors.As(err, &missing) {
		f := newFailure(engine.ReasonConnect, fmt.Errorf("%s: connection closed before the command's exit status: %w", r.job.Node, err),
			errLine("Connection to %s closed by remote host.", t.HostName))
		return r.fail(f)
	}
	f := newFailure(engine.ReasonConnect, fmt.Errorf("%s: %w", r.job.Node, err),
		errLine("Connection to %s closed by remote host.", t.HostName))
	return r.fail(f)
}

// sessionFailure reports a session that could not be opened or started
// on a connected host.
func (r *run) sessionFailure(t *target, err error) engine.Result {
	var oce *ssh.OpenChannelError
	if errors.As(err, &oce) {
		return r.fail(newFailure(engine.ReasonProtocol, fmt.Errorf("%s: open session: %w", r.job.Node, err),
			errLine("channel 0: open failed: %s: %s", oce.Reason, oce.Message)))
	}
	return r.fail(newFailure(engine.ReasonProtocol, fmt.Errorf("%s: start command: %w", r.job.Node, err),
		errLine("exec request failed on channel 0")))
}
