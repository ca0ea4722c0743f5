// Package broker runs the nats-server embedded in the coordinator (and in
// csub's in-process fleet): safe defaults, our logger, no signal capture.
package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Config configures the embedded server. Its zero value listens on no
// port at all: only in-process connections reach it.
type Config struct {
	// Listen is host:port to accept clients on ("" = no listener; port 0
	// = a random port).
	Listen string
	// Name names the server in logs and monitoring.
	Name   string
	Logger *slog.Logger
	// Insecure lets Listen name an address beyond loopback. The fleet's
	// NATS port has no authentication and no TLS yet, so whoever reaches
	// it can run commands on every node: Start refuses such an address
	// without Insecure, and with it logs a warning at every start.
	Insecure bool
}

// ErrNotLoopback is wrapped by Start's error for a listen address beyond
// loopback without Config.Insecure.
var ErrNotLoopback = errors.New("listening beyond loopback without authentication or TLS")

// loopback tells whether host (an IP address or a name) can only be
// reached from this machine.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Start starts a server and waits until it accepts connections.
func Start(cfg Config) (*server.Server, error) {
	opts := &server.Options{
		ServerName: cfg.Name,
		NoSigs:     true, // the coordinator owns its signals and shutdown
		DontListen: cfg.Listen == "",
		// A coordinator receives every agent's events: a larger outbound
		// buffer before NATS calls a subscriber slow (the fleet's own credit
		// windows keep it far below this).
		MaxPending:   128 << 20,
		PingInterval: 10 * time.Second,
		MaxPingsOut:  3,
	}
	if cfg.Listen != "" {
		host, port, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("listen address %q: %w", cfg.Listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p < 0 || p > 65535 {
			return nil, fmt.Errorf("listen address %q: bad port", cfg.Listen)
		}
		if host == "" {
			// nats-server reads "" as every interface; never by accident.
			return nil, fmt.Errorf("listen address %q: give a host (127.0.0.1 for this machine only)", cfg.Listen)
		}
		if !loopback(host) && !cfg.Insecure {
			return nil, fmt.Errorf("listen address %q: %w: anyone who reaches it could run commands on every node; "+
				"listen on 127.0.0.1, or say --insecure on a trusted network", cfg.Listen, ErrNotLoopback)
		}
		if p == 0 {
			p = server.RANDOM_PORT
		}
		opts.Host, opts.Port = host, p
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.Listen != "" && cfg.Insecure && !loopback(opts.Host) {
		log.Warn("INSECURE: the fleet's NATS port is open beyond loopback without authentication or TLS: "+
			"anyone who reaches it can run commands on every node", "listen", cfg.Listen)
	}
	l := &logger{l: log.With("component", "nats")}
	s.SetLoggerV2(l, false, false, false)
	s.Start()
	// Wait for readiness, but give up at once on a fatal error (a port in
	// use): the server then never becomes ready.
	for deadline := time.Now().Add(10 * time.Second); !s.ReadyForConnections(20 * time.Millisecond); {
		if f := l.lastFatal(); f != "" {
			s.Shutdown()
			return nil, fmt.Errorf("nats server: %s", f)
		}
		if time.Now().After(deadline) {
			s.Shutdown()
			return nil, errors.New("nats server not ready after 10s")
		}
	}
	if cfg.Listen != "" && s.Addr() == nil {
		s.Shutdown()
		return nil, fmt.Errorf("nats server: not listening on %s: %s", cfg.Listen, l.lastFatal())
	}
	return s, nil
}

// Addr returns the host:port a started server listens on ("" if none).
func Addr(s *server.Server) string {
	if a := s.Addr(); a != nil {
		return a.String()
	}
	return ""
}

// logger adapts nats-server's logging to slog; Fatalf must not exit the
// process (the server's own logger calls os.Exit).
type logger struct {
	l     *slog.Logger
	mu    sync.Mutex
	fatal string
}

func (n *logger) lastFatal() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.fatal
}

func (n *logger) Noticef(f string, a ...any) { n.l.Debug(fmt.Sprintf(f, a...)) }
func (n *logger) Warnf(f string, a ...any)   { n.l.Warn(fmt.Sprintf(f, a...)) }
func (n *logger) Errorf(f string, a ...any)  { n.l.Error(fmt.Sprintf(f, a...)) }
func (n *logger) Fatalf(f string, a ...any) {
	msg := fmt.Sprintf(f, a...)
	n.mu.Lock()
	n.fatal = msg
	n.mu.Unlock()
	n.l.Error("fatal: " + msg)
}
func (n *logger) Debugf(f string, a ...any) {}
func (n *logger) Tracef(f string, a ...any) {}
