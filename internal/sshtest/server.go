// Package sshtest is an in-process SSH server for tests, built on
// golang.org/x/crypto/ssh. It listens on 127.0.0.1 only, runs "exec"
// requests with /bin/sh -c as the current user ("shell" requests with a
// /bin/sh reading stdin, without a terminal) or, with Config.Exec, in
// process without forking (internal/nodesim), serves the "sftp"
// subsystem with github.com/pkg/sftp, forwards "direct-tcpip" channels to
// loopback addresses (so it can be a ProxyJump host) and has knobs to
// inject the failures a fleet meets: refused authentication, a server that
// accepts TCP but never speaks, connections dropped during key exchange.
// With Config.Sink its SFTP subsystem keeps, per node, checksums of what
// copies write instead of the files, and fails writes as a full or
// read-only disk would for chosen nodes.
//
// Env writes the client side (key pair, known_hosts, an ssh_config that
// maps node names to servers) so that both the native ssh driver and the
// real OpenSSH client can reach the servers by name.
package sshtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// Config configures a Server. The zero value is a working server that
// generates its host key and lets nobody in until Authorize is called.
type Config struct {
	// HostKey is the server's host key; nil generates an ed25519 key.
	HostKey ssh.Signer
	// AuthorizedKeys may log in; more can be added with Authorize.
	AuthorizedKeys []ssh.PublicKey
	// NoSFTP makes the server refuse the "sftp" subsystem, as a server
	// without sftp-server does (clients then fall back to scp).
	NoSFTP bool
	// NoForwarding makes the server refuse "direct-tcpip" channels.
	NoForwarding bool
	// Dir is the working directory of commands and of the sftp server;
	// empty means the user's home directory, as sshd does.
	Dir string
	// Env is added to the environment of commands, after
	// SSHTEST_USER, the user name the client logged in as (the server
	// runs every command as the current user whatever the name, so a
	// test can name each node's user after the node, in its ssh_config,
	// and tell in a command which node it runs for).
	Env []string
	// Exec, when set, runs "exec" requests in process instead of with
	// /bin/sh -c: no process is forked, so one server answers thousands
	// of sessions cheaply. "shell" requests are then refused.
	Exec ExecFunc
	// Logf, when set, receives one line per notable server event.
	Logf func(format string, args ...any)
	// Sink, when set, makes the "sftp" subsystem keep per node the size
	// and checksum of what it receives instead of writing files (see
	// SinkConfig), with per-node failures: a full disk, a read-only file
	// system. Env.AddNodes then names each node's user after the node.
	Sink *SinkConfig
}

// Stats counts what a server saw. Counters only grow, except
// ActiveSessions.
type Stats struct {
	Conns          int // TCP connections accepted
	Handshakes     int // connections that completed authentication
	AuthFailures   int // public keys refused
	Dropped        int // connections dropped by DropKex
	Sessions       int // session channels opened
	ActiveSessions int // session channels open now
	MaxSessions    int // most session channels open at once
	Execs          int // exec and shell requests run
	Signals        int // signal requests received
	SFTP           int // sftp subsystems served
	Forwards       int // direct-tcpip channels opened
	// SlowestHandshake is the longest a connection took from its
	// accept to the end of authentication: how near a client's connect
	// timeout the healthy connections came.
	SlowestHandshake time.Duration
	// KeyExchanges counts the completed handshakes per negotiated key
	// exchange algorithm ("mlkem768x25519-sha256": 1000): which one a
	// client picked decides much of a connection's CPU.
	KeyExchanges map[string]int
}

// Server is a running in-process SSH server. Its methods are safe for
// concurrent use.
type Server struct {
	cfg     Config
	ln      net.Listener
	hostKey ssh.Signer
	sconfig *ssh.ServerConfig
	dir     string
	sink    *sink // nil: SFTP writes to disk

	mu         sync.Mutex
	authorized map[string]bool
	conns      map[net.Conn]struct{}
	procs      map[*os.Process]struct{}
	closed     bool

	rejectAuth atomic.Bool
	stall      atomic.Bool
	delay      atomic.Int64 // handshake delay in ns
	dropKex    atomic.Int64
	noSFTP     atomic.Bool

	nconns, handshakes, authFailures, dropped atomic.Int64
	sessions, active, maxActive, execs        atomic.Int64
	signals, sftps, forwards                  atomic.Int64
	slowest                                   atomic.Int64 // ns
	kexMu                                     sync.Mutex
	kexCounts                                 map[string]int

	done chan struct{}
	// base is the parent of Exec's contexts, cancelled by Close.
	base     context.Context
	stopBase context.CancelFunc
	wg       sync.WaitGroup
}

// NewServer starts a server listening on 127.0.0.1 on a free port.
func NewServer(cfg Config) (*Server, error) {
	hostKey := cfg.HostKey
	if hostKey == nil {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("sshtest: generate host key: %w", err)
		}
		if hostKey, err = ssh.NewSignerFromKey(priv); err != nil {
			return nil, fmt.Errorf("sshtest: host key signer: %w", err)
		}
	}
	dir := cfg.Dir
	if dir == "" {
		var err error
		if dir, err = os.UserHomeDir(); err != nil {
			dir = "/"
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sshtest: listen: %w", err)
	}
	s := &Server{
		cfg:        cfg,
		ln:         ln,
		hostKey:    hostKey,
		dir:        dir,
		authorized: make(map[string]bool),
		conns:      make(map[net.Conn]struct{}),
		procs:      make(map[*os.Process]struct{}),
		done:       make(chan struct{}),
	}
	if cfg.Sink != nil {
		s.sink = newSink(*cfg.Sink, dir)
	}
	s.base, s.stopBase = context.WithCancel(context.Background())
	s.noSFTP.Store(cfg.NoSFTP)
	for _, k := range cfg.AuthorizedKeys {
		s.authorized[string(k.Marshal())] = true
	}
	s.sconfig = &ssh.ServerConfig{
		PublicKeyCallback: s.checkKey,
		ServerVersion:     "SSH-2.0-sshtest",
	}
	s.sconfig.AddHostKey(hostKey)
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Start is NewServer for tests: it fails tb on error and closes the server
// when the test ends.
func Start(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	s, err := NewServer(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// Addr is the server's address, "127.0.0.1:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Host is the address the server listens on, "127.0.0.1".
func (s *Server) Host() string { return "127.0.0.1" }

// Port is the TCP port the server listens on.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// HostKey is the server's public host key.
func (s *Server) HostKey() ssh.PublicKey { return s.hostKey.PublicKey() }

// KnownHostsLine is a known_hosts line for the server's host key under
// the given names; with none, under "[127.0.0.1]:port", the name OpenSSH
// looks up for the server.
func (s *Server) KnownHostsLine(names ...string) string {
	if len(names) == 0 {
		names = []string{"[" + s.Host() + "]:" + strconv.Itoa(s.Port())}
	}
	line := ""
	for i, n := range names {
		if i > 0 {
			line += ","
		}
		line += n
	}
	return line + " " + string(bytes.TrimSpace(ssh.MarshalAuthorizedKey(s.HostKey())))
}

// Authorize lets keys log in.
func (s *Server) Authorize(keys ...ssh.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		s.authorized[string(k.Marshal())] = true
	}
}

// SetRejectAuth makes the server refuse every key (true) or only unknown
// ones (false, the default).
func (s *Server) SetRejectAuth(reject bool) { s.rejectAuth.Store(reject) }

// SetStall makes the server accept TCP connections and never answer, as a
// hung host or a full sshd does: clients can only time out. Connections
// accepted while stalling stay silent until the client hangs up or
// Close.
func (s *Server) SetStall(stall bool) { s.stall.Store(stall) }

// SetHandshakeDelay makes the server wait d after accepting a connection
// before it starts the SSH handshake.
func (s *Server) SetHandshakeDelay(d time.Duration) { s.delay.Store(int64(d)) }

// DropKex makes the server drop its next n connections during key
// exchange: it exchanges version banners, then resets the connection, as
// an sshd over MaxStartups or a flaky middlebox does. The command never
// runs, so a client may retry.
func (s *Server) DropKex(n int) { s.dropKex.Store(int64(n)) }

// SetSFTP enables or disables the "sftp" subsystem.
func (s *Server) SetSFTP(enabled bool) { s.noSFTP.Store(!enabled) }

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	return Stats{
		Conns:          int(s.nconns.Load()),
		Handshakes:     int(s.handshakes.Load()),
		AuthFailures:   int(s.authFailures.Load()),
		Dropped:        int(s.dropped.Load()),
		Sessions:       int(s.sessions.Load()),
		ActiveSessions: int(s.active.Load()),
		MaxSessions:    int(s.maxActive.Load()),
		Execs:          int(s.execs.Load()),
		Signals:        int(s.signals.Load()),
		SFTP:           int(s.sftps.Load()),
		Forwards:       int(s.forwards.Load()),

		SlowestHandshake: time.Duration(s.slowest.Load()),
		KeyExchanges:     s.keyExchanges(),
	}
}

// keyExchanges copies the counts of negotiated key exchanges.
func (s *Server) keyExchanges() map[string]int {
	s.kexMu.Lock()
	defer s.kexMu.Unlock()
	m := make(map[string]int, len(s.kexCounts))
	for k, n := range s.kexCounts {
		m[k] = n
	}
	return m
}

// ResetMaxSessions sets MaxSessions back to the number of sessions open
// now, to measure the concurrency of one phase of a test.
func (s *Server) ResetMaxSessions() { s.maxActive.Store(s.active.Load()) }

// Close stops the server: it closes the listener and every connection,
// kills the commands still running (their process groups, with SIGKILL)
// and waits for all of its goroutines. It is safe to call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	close(s.done)
	s.stopBase()
	err := s.ln.Close()
	for c := range s.conns {
		_ = c.Close()
	}
	for p := range s.procs {
		killGroup(p, "KILL")
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *Server) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf(format, args...)
	}
}

func (s *Server) checkKey(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	if !s.rejectAuth.Load() {
		s.mu.Lock()
		ok := s.authorized[string(key.Marshal())]
		s.mu.Unlock()
		if ok {
			return &ssh.Permissions{}, nil
		}
	}
	s.authFailures.Add(1)
	return nil, fmt.Errorf("sshtest: key %s refused for %s", ssh.FingerprintSHA256(key), meta.User())
}

// track registers c so that Close can close it; it reports false when
// the server is closing.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.logf("accept: %v", err)
			return
		}
		if !s.track(c) {
			_ = c.Close()
			return
		}
		s.nconns.Add(1)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(c)
			defer c.Close()
			s.serveConn(c)
		}()
	}
}

// sleep waits d or until the server closes; it reports false when the
// server closed.
func (s *Server) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return false
	}
}

func (s *Server) serveConn(c net.Conn) {
	if s.stall.Load() {
		// Hold the connection open and silent: only the client's own
		// timeout (or Close, which closes c) ends it. Reading what the
		// client sends (its banner) frees the connection as soon as it
		// hangs up, so thousands of timed-out clients hold no socket.
		_, _ = io.Copy(io.Discard, c)
		return
	}
	if d := time.Duration(s.delay.Load()); d > 0 && !s.sleep(d) {
		return
	}
	if s.takeDrop() {
		s.dropped.Add(1)
		s.dropDuringKex(c)
		return
	}
	began := time.Now()
	sconn, chans, reqs, err := ssh.NewServerConn(c, s.sconfig)
	if err != nil {
		s.logf("handshake from %s: %v", c.RemoteAddr(), err)
		return
	}
	s.handshakes.Add(1)
	storeMax(&s.slowest, int64(time.Since(began)))
	if a, ok := sconn.Conn.(ssh.AlgorithmsConnMetadata); ok {
		s.kexMu.Lock()
		if s.kexCounts == nil {
			s.kexCounts = map[string]int{}
		}
		s.kexCounts[a.Algorithms().KeyExchange]++
		s.kexMu.Unlock()
	}
	defer sconn.Close()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ssh.DiscardRequests(reqs)
	}()
	for nc := range chans {
		switch nc.ChannelType() {
		case "session":
			ch, creqs, err := nc.Accept()
			if err != nil {
				continue
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serveSession(sconn, ch, creqs)
			}()
		case "direct-tcpip":
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serveForward(nc)
			}()
		default:
			_ = nc.Reject(ssh.UnknownChannelType, "unknown channel type")
		}
	}
}

func (s *Server) takeDrop() bool {
	for {
		n := s.dropKex.Load()
		if n <= 0 {
			return false
		}
		if s.dropKex.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// dropDuringKex exchanges version banners, then resets the connection:
// the client sees "connection reset by peer" during key exchange.
func (s *Server) dropDuringKex(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "SSH-2.0-sshtest\r\n"); err != nil {
		return
	}
	br := bufio.NewReader(c)
	if _, err := br.ReadString('\n'); err != nil {
		return
	}
	// Read the client's KEXINIT too: it then waits for ours without
	// writing, and its blocked read takes the reset (a write racing the
	// reset could take the ECONNRESET and leave the read an EOF).
	var n [4]byte
	if _, err := io.ReadFull(br, n[:]); err != nil {
		return
	}
	if size := binary.BigEndian.Uint32(n[:]); size > 1<<16 {
		return
	} else if _, err := io.CopyN(io.Discard, br, int64(size)); err != nil {
		return
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // close with RST, not FIN
	}
}

// storeMax raises v to n if n is larger.
func storeMax(v *atomic.Int64, n int64) {
	for {
		if m := v.Load(); n <= m || v.CompareAndSwap(m, n) {
			return
		}
	}
}
