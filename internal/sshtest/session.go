package sshtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// signals maps RFC 4254 signal names (as sent in "signal" and
// "exit-signal" messages, without "SIG") to Linux signals.
var signals = map[string]syscall.Signal{
	"ABRT": syscall.SIGABRT, "ALRM": syscall.SIGALRM, "BUS": syscall.SIGBUS,
	"CHLD": syscall.SIGCHLD, "CONT": syscall.SIGCONT, "FPE": syscall.SIGFPE,
	"HUP": syscall.SIGHUP, "ILL": syscall.SIGILL, "INT": syscall.SIGINT,
	"KILL": syscall.SIGKILL, "PIPE": syscall.SIGPIPE, "QUIT": syscall.SIGQUIT,
	"SEGV": syscall.SIGSEGV, "STOP": syscall.SIGSTOP, "TERM": syscall.SIGTERM,
	"TRAP": syscall.SIGTRAP, "TSTP": syscall.SIGTSTP, "USR1": syscall.SIGUSR1,
	"USR2": syscall.SIGUSR2, "XCPU": syscall.SIGXCPU, "XFSZ": syscall.SIGXFSZ,
}

func signalName(sig syscall.Signal) string {
	for name, s := range signals {
		if s == sig {
			return name
		}
	}
	return "SIG" + strconv.Itoa(int(sig))
}

// killGroup sends the named signal to p's process group: commands run in
// their own group so that "sh -c 'a | b'" is signalled as a whole.
func killGroup(p *os.Process, name string) {
	sig, ok := signals[name]
	if !ok {
		return
	}
	_ = syscall.Kill(-p.Pid, sig)
}

func (s *Server) enterSession() {
	s.sessions.Add(1)
	storeMax(&s.maxActive, s.active.Add(1))
}

// serveSession handles the requests of one session channel of conn. It
// returns when the client closes the channel; the command, if any, is
// finished by its own goroutine (which closes the channel after sending
// the status).
func (s *Server) serveSession(conn ssh.Conn, ch ssh.Channel, reqs <-chan *ssh.Request) {
	user := conn.User()
	s.enterSession()
	// A session stops counting as active when its command's exit status
	// is sent: the client then closes it, and may open the next one
	// before this goroutine sees the close.
	leave := sync.OnceFunc(func() { s.active.Add(-1) })
	defer leave()
	defer ch.Close()
	var (
		mu      sync.Mutex
		proc    *os.Process
		stop    context.CancelCauseFunc // Config.Exec's command
		started bool
	)
	for req := range reqs {
		switch req.Type {
		case "exec", "shell":
			var p struct{ Command string }
			if started || (req.Type == "exec" && ssh.Unmarshal(req.Payload, &p) != nil) ||
				(req.Type == "shell" && s.cfg.Exec != nil) {
				_ = req.Reply(false, nil)
				continue
			}
			started = true
			if s.sink != nil && isSCP(p.Command) {
				s.execs.Add(1)
				_ = req.Reply(true, nil)
				s.refuseSCP(ch, leave)
				continue
			}
			if s.cfg.Exec != nil {
				ctx, cancel := context.WithCancelCause(s.base)
				mu.Lock()
				stop = cancel
				mu.Unlock()
				s.execs.Add(1)
				_ = req.Reply(true, nil)
				s.wg.Add(1)
				go func() {
					defer s.wg.Done()
					s.runInProcess(ctx, conn, ch, p.Command, leave)
				}()
				continue
			}
			args := []string{"-c", p.Command}
			if req.Type == "shell" {
				// A shell reading its commands from stdin, as a login
				// shell without a terminal does.
				args = nil
			}
			cmd, err := s.startExec(ch, args, user)
			if err != nil {
				s.logf("%s %q: %v", req.Type, p.Command, err)
				_ = req.Reply(false, nil)
				continue
			}
			s.execs.Add(1)
			mu.Lock()
			proc = cmd.Process
			mu.Unlock()
			_ = req.Reply(true, nil)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.finishExec(ch, cmd, leave)
			}()
		case "subsystem":
			var p struct{ Name string }
			if started || ssh.Unmarshal(req.Payload, &p) != nil || p.Name != "sftp" || s.noSFTP.Load() {
				_ = req.Reply(false, nil)
				continue
			}
			started = true
			s.sftps.Add(1)
			_ = req.Reply(true, nil)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serveSFTP(ch, user)
			}()
		case "signal":
			var p struct{ Signal string }
			if ssh.Unmarshal(req.Payload, &p) != nil {
				continue
			}
			s.signals.Add(1)
			mu.Lock()
			if proc != nil {
				killGroup(proc, p.Signal)
			}
			if stop != nil {
				stop(signalCause{p.Signal})
			}
			mu.Unlock()
			if req.WantReply {
				_ = req.Reply(true, nil)
			}
		default:
			// env, pty-req, x11-req...: not served, as an sshd with
			// AcceptEnv unset and no terminal would.
			if req.WantReply {
				_ = req.Reply(false, nil)
			}
		}
	}
}

// startExec starts /bin/sh with args in its own process group, output
// going to the channel and the channel's data to its stdin; user is the
// login name, in SSHTEST_USER.
func (s *Server) startExec(ch ssh.Channel, args []string, user string) (*exec.Cmd, error) {
	cmd := exec.Command("/bin/sh", args...)
	cmd.Dir = s.dir
	cmd.Env = append(append(os.Environ(), "SSHTEST_USER="+user), s.cfg.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	// A pipe we copy ourselves: exec.Cmd would make Wait wait for the
	// copy of the client's stdin, which never ends if the client keeps
	// its stdin open while the command exits.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		// Close already killed what it knew of: this one is ours to kill.
		s.mu.Unlock()
		killGroup(cmd.Process, "KILL")
	} else {
		s.procs[cmd.Process] = struct{}{}
		s.mu.Unlock()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_, _ = io.Copy(stdin, ch)
		_ = stdin.Close()
	}()
	return cmd, nil
}

// finishExec waits for the command, then sends EOF, its exit status (or
// the signal that killed it) and closes the channel, in sshd's order.
func (s *Server) finishExec(ch ssh.Channel, cmd *exec.Cmd, leave func()) {
	_ = cmd.Wait()
	leave()
	s.mu.Lock()
	delete(s.procs, cmd.Process)
	s.mu.Unlock()
	_ = ch.CloseWrite()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		sendExitSignal(ch, signalName(ws.Signal()), ws.CoreDump())
	} else {
		sendExitStatus(ch, ws.ExitStatus())
	}
	_ = ch.Close()
}

// sendExitSignal reports a command killed by the named signal.
func sendExitSignal(ch ssh.Channel, name string, core bool) {
	_, _ = ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
		Signal     string
		CoreDumped bool
		Error      string
		Lang       string
	}{name, core, "", ""}))
}

// sendExitStatus reports a command's exit status.
func sendExitStatus(ch ssh.Channel, status int) {
	_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
}

// refuseSCP ends an scp exec request on a sink server, which keeps what
// it receives over SFTP only: writing to the real disk would defeat the
// sink, and a silent success would hide the copy. The refusal is an scp
// protocol error (a \x01 line, as scp sends when it cannot write) so
// the client reports it as scp would.
func (s *Server) refuseSCP(ch ssh.Channel, leave func()) {
	_, _ = io.WriteString(ch, "\x01scp: sshtest: sink mode serves copies over SFTP only\n")
	leave()
	_ = ch.CloseWrite()
	sendExitStatus(ch, 1)
	_ = ch.Close()
}

// serveSFTP serves the "sftp" subsystem: the server's files, or with a
// sink the tree of the node user logged in as.
func (s *Server) serveSFTP(ch ssh.Channel, user string) {
	defer ch.Close()
	if s.sink != nil {
		rs := sftp.NewRequestServer(ch, s.sinkHandlers(user), sftp.WithStartDirectory(s.dir))
		if err := rs.Serve(); err != nil && !errors.Is(err, io.EOF) {
			s.logf("sftp sink %s: %v", user, err)
		}
		_ = rs.Close()
		return
	}
	srv, err := sftp.NewServer(ch, sftp.WithServerWorkingDirectory(s.dir))
	if err != nil {
		s.logf("sftp: %v", err)
		return
	}
	if err := srv.Serve(); err != nil && !errors.Is(err, io.EOF) {
		s.logf("sftp: %v", err)
	}
	_ = srv.Close()
}

// serveForward serves a "direct-tcpip" channel (ssh -W, ProxyJump) to a
// loopback address; any other destination is refused so that tests can
// never reach beyond the machine.
func (s *Server) serveForward(nc ssh.NewChannel) {
	if s.cfg.NoForwarding {
		_ = nc.Reject(ssh.Prohibited, "open failed")
		return
	}
	var p struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if err := ssh.Unmarshal(nc.ExtraData(), &p); err != nil {
		_ = nc.Reject(ssh.ConnectionFailed, "bad request")
		return
	}
	if ip := net.ParseIP(p.Host); p.Host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		_ = nc.Reject(ssh.Prohibited, "sshtest forwards to loopback addresses only")
		return
	}
	addr := net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port)))
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		_ = nc.Reject(ssh.ConnectionFailed, strerror(err))
		return
	}
	if !s.track(conn) {
		_ = conn.Close()
		_ = nc.Reject(ssh.ConnectionFailed, "server closing")
		return
	}
	defer s.untrack(conn)
	defer conn.Close()
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	s.forwards.Add(1)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ssh.DiscardRequests(reqs)
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(ch, conn)
		_ = ch.CloseWrite()
	}()
	_, _ = io.Copy(conn, ch)
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	<-done
}

// strerror renders a dial error the way sshd reports it in a channel open
// failure ("Connection refused").
func strerror(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		msg := []byte(errno.Error())
		if len(msg) > 0 && msg[0] >= 'a' && msg[0] <= 'z' {
			msg[0] -= 'a' - 'A'
		}
		return string(msg)
	}
	return fmt.Sprint(err)
}
