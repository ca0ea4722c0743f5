package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/fleetsh/fleetsh/pkg/engine"
)

// connect connects to the last of hops through the ones before it and
// returns the client of the last. Every client is closed when the run
// ends.
func (r *run) connect(ctx context.Context, hops []*target) (*ssh.Client, error) {
	var via *ssh.Client
	for _, t := range hops {
		c, err := r.connectHop(ctx, t, via)
		if err != nil {
			return nil, err
		}
		r.closer = append(r.closer, c)
		via = c
	}
	return via, nil
}

// connectHop connects to t (directly, through via, or through its
// ProxyCommand), retrying failures that happened before authentication
// completed: the command has not run, and such failures (an sshd over
// MaxStartups, a reset during key exchange) are usually transient.
func (r *run) connectHop(ctx context.Context, t *target, via *ssh.Client) (*ssh.Client, error) {
	retries := r.d.retries()
	delay := r.d.backoff()
	for attempt := 0; ; attempt++ {
		c, err := r.tryConnect(ctx, t, via)
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var f *failure
		if !errors.As(err, &f) || !f.retry || attempt >= retries {
			return nil, err
		}
		// Full jitter around the mean spreads the retries of many nodes
		// dropped by one overloaded sshd.
		d := delay/2 + rand.N(delay+1)
		r.debugf("SSHCLIENT: %s: %v; retry %d/%d in %v", t.Host, f, attempt+1, retries, d.Round(time.Millisecond))
		timer := time.NewTimer(d)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-timer.C:
		}
		delay *= 2
	}
}

// handshake records what happened during one SSH handshake, for the
// classification of its failure.
type handshake struct {
	mu          sync.Mutex
	hostKeyFail *failure
	authStarted bool
	allowed     []string
	closers     []io.Closer
}

// countingConn counts the bytes read, to tell a failure during the
// banner exchange (nothing read yet) from a later one, and keeps the
// first I/O error: x/crypto closes the connection when its reader or
// writer fails, and the handshake may then return "use of closed network
// connection" instead of the reset or EOF that happened.
type countingConn struct {
	net.Conn
	n     atomic.Int64
	ioErr firstError
	reset firstError // the first error that shows a reset (isReset)
}

// firstError keeps the first non-nil error given to keep; it is safe for
// concurrent use.
type firstError struct{ p atomic.Pointer[error] }

// keep records err unless an error was recorded before.
func (f *firstError) keep(err error) {
	if err != nil {
		f.p.CompareAndSwap(nil, &err)
	}
}

// get returns the error recorded, or nil.
func (f *firstError) get() error {
	if p := f.p.Load(); p != nil {
		return *p
	}
	return nil
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	c.keep(err)
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.keep(err)
	return n, err
}

// keep records err as the first read or write error, and as the reset
// when it shows the server reset the connection. Linux reports a reset to
// one caller only: a write may take the ECONNRESET while the concurrent
// read sees EOF.
func (c *countingConn) keep(err error) {
	c.ioErr.keep(err)
	if err != nil && isReset(err) {
		c.reset.keep(err)
	}
}

// tryConnect makes one connection attempt. The connect timeout covers the
// TCP connect (or the channel through a jump host), the handshake and the
// authentication; it is enforced by closing the connection, which works
// for every kind of transport.
func (r *run) tryConnect(ctx context.Context, t *target, via *ssh.Client) (*ssh.Client, error) {
	var deadline time.Time
	if t.ConnectTimeout > 0 {
		deadline = time.Now().Add(t.ConnectTimeout)
	}
	dialed := time.Now()
	conn, remote, err := r.dial(ctx, t, via, deadline)
	if err != nil {
		return nil, err
	}
	r.observe(engine.StageConnect, dialed)
	cc := &countingConn{Conn: conn}
	hs := &handshake{}
	var timedOut atomic.Bool
	stopCtx := context.AfterFunc(ctx, func() { _ = conn.Close() })
	var timer *time.Timer
	if !deadline.IsZero() {
		timer = time.AfterFunc(time.Until(deadline), func() {
			timedOut.Store(true)
			_ = conn.Close()
		})
	}
	cfg, err := r.clientConfig(t, hs)
	if err != nil {
		stopCtx()
		if timer != nil {
			timer.Stop()
		}
		_ = conn.Close()
		return nil, err
	}
	shook := time.Now()
	sconn, chans, reqs, err := ssh.NewClientConn(cc, t.addr(), cfg)
	ctxFired := !stopCtx()
	if timer != nil && !timer.Stop() {
		timedOut.Store(true)
	}
	hs.mu.Lock()
	for _, c := range hs.closers {
		_ = c.Close()
	}
	hs.mu.Unlock()
	if err == nil && !ctxFired && !timedOut.Load() {
		r.observe(engine.StageAuth, shook)
		return ssh.NewClient(sconn, chans, reqs), nil
	}
	if sconn != nil {
		_ = sconn.Close()
	}
	_ = conn.Close()
	if ctxFired || ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err == nil {
		err = os.ErrDeadlineExceeded
	}
	// x/crypto reports what its handshake saw last ("use of closed network
	// connection", or EOF once its reader gave up); the socket's first
	// error says what the server did, and a reset must not read as a close.
	rerr := cc.ioErr.get()
	switch {
	case cc.reset.get() != nil && !isReset(err):
		err = fmt.Errorf("%w (%w)", err, cc.reset.get())
	case errors.Is(err, net.ErrClosed) && rerr != nil && !errors.Is(rerr, net.ErrClosed):
		err = fmt.Errorf("%w (%w)", err, rerr)
	case errors.Is(err, net.ErrClosed):
		err = fmt.Errorf("%w (%w)", err, io.EOF)
	}
	return nil, r.classify(t, hs, err, remote, cc.n.Load() > 0, timedOut.Load())
}

// observe reports the duration of stage, started at since, to the job's
// Observe.
func (r *run) observe(stage engine.Stage, since time.Time) {
	if r.job.Observe != nil {
		r.job.Observe(stage, time.Since(since))
	}
}

// dial opens the transport to t: TCP, a direct-tcpip channel through via,
// or t's ProxyCommand. remote is how OpenSSH names the peer in its
// messages ("10.0.0.1 port 22", or "UNKNOWN port 65535" when it is not a
// socket).
func (r *run) dial(ctx context.Context, t *target, via *ssh.Client, deadline time.Time) (conn net.Conn, remote string, err error) {
	dctx := ctx
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		dctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	const unknown = "UNKNOWN port 65535"
	switch {
	case via != nil:
		conn, err = via.DialContext(dctx, "tcp", t.addr())
		if err != nil {
			if err := ended(ctx); err != nil {
				return nil, "", err
			}
			return nil, "", r.channelFailure(t, err)
		}
		return conn, unknown, nil
	case t.ProxyCommand != "":
		conn, err = startProxyCommand(t.ProxyCommand, r.diag)
		if err != nil {
			return nil, "", newFailure(engine.ReasonLocal, err, fatalLine("ProxyCommand %s: %v", t.ProxyCommand, err))
		}
		return conn, unknown, nil
	}
	dialer := &net.Dialer{Resolver: r.d.Resolver}
	conn, err = dialer.DialContext(dctx, "tcp", t.addr())
	if err != nil {
		if err := ended(ctx); err != nil {
			return nil, "", err
		}
		return nil, "", dialFailure(t, err)
	}
	remote = unknown
	if ta, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		remote = ta.IP.String() + " port " + strconv.Itoa(ta.Port)
	}
	return conn, remote, nil
}

// ended is ctx.Err(), or DeadlineExceeded once ctx's deadline (the
// command timeout) has passed even if its timer has not fired yet: a dial
// bounded by that deadline can fail first, and the failure is then the
// command timeout's, not the connection's (clush prints no ssh line).
func ended(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// strerror is the C library's message for an errno ("Connection
// refused"), which OpenSSH prints; Go's are in lower case.
func strerror(errno syscall.Errno) string {
	msg := []byte(errno.Error())
	if len(msg) > 0 && msg[0] >= 'a' && msg[0] <= 'z' {
		msg[0] -= 'a' - 'A'
	}
	return string(msg)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// dialFailure turns a TCP dial error into OpenSSH's message and a reason.
func dialFailure(t *target, err error) *failure {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		msg := "Name or service not known"
		if dnsErr.IsTimeout || dnsErr.IsTemporary {
			msg = "Temporary failure in name resolution"
		}
		return newFailure(engine.ReasonDNS, err, errLine("ssh: Could not resolve hostname %s: %s", t.HostName, msg))
	}
	prefix := fmt.Sprintf("ssh: connect to host %s port %d: ", t.HostName, t.Port)
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno) && errno == syscall.ECONNREFUSED:
		return newFailure(engine.ReasonConnectRefused, err, errLine("%sConnection refused", prefix))
	case errors.As(err, &errno) && errno == syscall.ETIMEDOUT, isTimeout(err):
		f := newFailure(engine.ReasonConnectTimeout, err, errLine("%sConnection timed out", prefix))
		f.summary = timeoutSummary(t, "TCP connect")
		return f
	case errors.As(err, &errno):
		return newFailure(engine.ReasonConnect, err, errLine("%s%s", prefix, strerror(errno)))
	}
	return newFailure(engine.ReasonConnect, err, errLine("%s%v", prefix, err))
}

// channelFailure turns the failure to open a channel to t through a jump
// host into the lines OpenSSH prints for it.
func (r *run) channelFailure(t *target, err error) *failure {
	var oce *ssh.OpenChannelError
	if !errors.As(err, &oce) {
		if isTimeout(err) {
			f := newFailure(engine.ReasonConnectTimeout, err,
				errLine("ssh: connect to host %s port %d: Connection timed out", t.HostName, t.Port))
			f.summary = timeoutSummary(t, "channel through the jump host")
			return f
		}
		return newFailure(engine.ReasonConnect, err, errLine("ssh: connect to host %s port %d: %v", t.HostName, t.Port, err))
	}
	reason := engine.ReasonConnect
	msg := strings.ToLower(oce.Message)
	switch {
	case strings.Contains(msg, "refused"):
		reason = engine.ReasonConnectRefused
	case strings.Contains(msg, "timed out"):
		reason = engine.ReasonConnectTimeout
	case strings.Contains(msg, "resolve"), strings.Contains(msg, "name or service"), strings.Contains(msg, "no such host"):
		reason = engine.ReasonDNS
	}
	return newFailure(reason, err,
		errLine("channel 0: open failed: %s: %s", oce.Reason, oce.Message),
		errLine("stdio forwarding failed"),
		errLine("kex_exchange_identification: Connection closed by remote host"),
		errLine("Connection closed by UNKNOWN port 65535"))
}

// classify turns a handshake error into a failure, with OpenSSH's lines.
// gotData tells whether the server sent anything (its version banner).
func (r *run) classify(t *target, hs *handshake, err error, remote string, gotData, timedOut bool) error {
	hs.mu.Lock()
	hkFail, authStarted, allowed := hs.hostKeyFail, hs.authStarted, hs.allowed
	hs.mu.Unlock()
	msg := err.Error()
	switch {
	case hkFail != nil:
		return hkFail
	case timedOut:
		f := newFailure(engine.ReasonConnectTimeout, err)
		stage := "key exchange"
		switch {
		case !gotData:
			f.lines = append(f.lines, errLine("Connection timed out during banner exchange"))
			stage = "SSH banner"
		case authStarted:
			stage = "authentication"
		}
		f.lines = append(f.lines, errLine("Connection to %s timed out", remote))
		f.summary = timeoutSummary(t, stage)
		return f
	case strings.Contains(msg, "unable to authenticate"), strings.Contains(msg, "too many authentication attempts"):
		methods := strings.Join(allowed, ",")
		if methods == "" {
			methods = "publickey"
		}
		return newFailure(engine.ReasonAuth, err, fatalLine("%s@%s: Permission denied (%s).", t.User, t.HostName, methods))
	case strings.HasPrefix(strings.TrimPrefix(msg, "ssh: handshake failed: "), "ssh: disconnect, reason "):
		code, text := parseDisconnect(msg)
		reason := engine.ReasonConnect
		if authStarted {
			reason = engine.ReasonAuth
		}
		return newFailure(reason, err,
			errLine("Received disconnect from %s:%s: %s", remote, code, text),
			errLine("Disconnected from %s", remote))
	case isReset(err):
		return droppedFailure(err, gotData, "kex_exchange_identification: read: Connection reset by peer", "Connection reset by "+remote)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), strings.HasSuffix(msg, ": EOF"):
		return droppedFailure(err, gotData, "kex_exchange_identification: Connection closed by remote host", "Connection closed by "+remote)
	case strings.Contains(msg, "no common algorithm"):
		return newFailure(engine.ReasonProtocol, err, errLine("Unable to negotiate with %s: %s", remote, strings.TrimPrefix(msg, "ssh: handshake failed: ")))
	}
	return newFailure(engine.ReasonProtocol, err, errLine("ssh: %s: %v", t.HostName, err))
}

// isReset tells whether err is the server resetting the connection
// (ECONNRESET, or EPIPE from writing after the reset).
func isReset(err error) bool {
	if err == nil {
		return false
	}
	var errno syscall.Errno
	if errors.As(err, &errno) && (errno == syscall.ECONNRESET || errno == syscall.EPIPE) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "connection reset by peer") || strings.Contains(msg, "broken pipe")
}

// droppedFailure is a connection the server closed or reset during the
// handshake, which is worth retrying. OpenSSH prints kexLine first when
// the server sent nothing (gotData false: not even its banner), then line.
func droppedFailure(err error, gotData bool, kexLine, line string) *failure {
	f := newFailure(engine.ReasonConnect, err)
	if !gotData {
		f.lines = append(f.lines, errLine("%s", kexLine))
	}
	f.lines = append(f.lines, errLine("%s", line))
	f.retry = true
	return f
}

// timeoutSummary is the one-line reason of a connect timeout: where it
// was going, after how long, and at which stage ("no answer from
// 10.0.0.1:22 within 10s (SSH banner)").
func timeoutSummary(t *target, stage string) string {
	if t.ConnectTimeout > 0 {
		return fmt.Sprintf("no answer from %s within %v (%s)", t.addr(), t.ConnectTimeout, stage)
	}
	return fmt.Sprintf("%s to %s timed out", stage, t.addr())
}

// parseDisconnect splits x/crypto's `ssh: disconnect, reason 2: "text"`.
func parseDisconnect(msg string) (code, text string) {
	_, rest, _ := strings.Cut(msg, "ssh: disconnect, reason ")
	code, text, _ = strings.Cut(rest, ": ")
	if u, err := strconv.Unquote(text); err == nil {
		text = u
	}
	return code, text
}

// clientConfig is the x/crypto configuration of one attempt on t.
func (r *run) clientConfig(t *target, hs *handshake) (*ssh.ClientConfig, error) {
	hostKey, algos, err := r.hostKeyCallback(t, hs)
	if err != nil {
		return nil, err
	}
	return &ssh.ClientConfig{
		User: t.User,
		Auth: []ssh.AuthMethod{ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
			return r.signers(t, hs)
		})},
		// The callback records the methods the server allows, for the
		// "Permission denied (publickey,password)." line; it picks none
		// itself.
		AuthCallback: func(ac *ssh.ClientAuthContext) (ssh.AuthMethod, error) {
			hs.mu.Lock()
			hs.authStarted = true
			if len(ac.AllowedMethods) > 0 {
				hs.allowed = ac.AllowedMethods
			}
			hs.mu.Unlock()
			return nil, nil
		},
		HostKeyCallback:   hostKey,
		HostKeyAlgorithms: algos,
		ClientVersion:     "SSH-2.0-fleetsh",
		Config:            ssh.Config{KeyExchanges: t.KexAlgorithms, Ciphers: t.Ciphers, MACs: t.MACs},
	}, nil
}

// proxyConn is a ProxyCommand's stdin and stdout as a net.Conn.
type proxyConn struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  io.ReadCloser
	once sync.Once
}

// startProxyCommand runs command with /bin/sh -c, as ssh does, its
// stderr going where ssh's own messages go.
func startProxyCommand(command string, stderr io.Writer) (*proxyConn, error) {
	cmd := exec.Command("/bin/sh", "-c", "exec "+command)
	cmd.Stderr = stderr
	// A grandchild holding stderr must not keep Close (and so Run)
	// waiting, nor write to the job after Run returned.
	cmd.WaitDelay = 2 * time.Second
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &proxyConn{cmd: cmd, in: in, out: out}, nil
}

func (p *proxyConn) Read(b []byte) (int, error)  { return p.out.Read(b) }
func (p *proxyConn) Write(b []byte) (int, error) { return p.in.Write(b) }

// Close closes the pipes and kills the command.
func (p *proxyConn) Close() error {
	p.once.Do(func() {
		_ = p.in.Close()
		_ = p.cmd.Process.Kill()
		_ = p.out.Close()
		_ = p.cmd.Wait()
	})
	return nil
}

func (p *proxyConn) LocalAddr() net.Addr                { return proxyAddr{} }
func (p *proxyConn) RemoteAddr() net.Addr               { return proxyAddr{} }
func (p *proxyConn) SetDeadline(t time.Time) error      { return nil }
func (p *proxyConn) SetReadDeadline(t time.Time) error  { return nil }
func (p *proxyConn) SetWriteDeadline(t time.Time) error { return nil }

type proxyAddr struct{}

func (proxyAddr) Network() string { return "proxycommand" }
func (proxyAddr) String() string  { return "UNKNOWN:65535" }
