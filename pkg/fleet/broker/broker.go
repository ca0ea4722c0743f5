// Package broker runs the nats-server embedded in the coordinator (and in
// csub's in-process fleet): safe defaults, our logger, no signal capture;
// with a site's identities, nkey users with their role's subject
// permissions (pkg/fleet/auth) and no anonymous user; with a
// certificate, TLS only; beyond loopback, both or an explicit Insecure.
package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/protocol"
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
	// Insecure lets Listen name an address beyond loopback without TLS
	// or without Identities: whoever reaches such a port can run
	// commands on every node, so Start refuses it without Insecure, and
	// with it logs a warning at every start.
	Insecure bool

	// Subjects are the fleet's subjects, which the identities'
	// permissions name.
	Subjects protocol.Subjects
	// Identities are the credentials the server accepts, each with its
	// role's permissions (auth.Permissions). None: every client is
	// accepted and may do anything (the in-process fleet, loopback).
	Identities []auth.Identity
	// InProcessKey is a public nkey ("U...") the server accepts, on
	// in-process connections only, as the coordinator: the process's own
	// parts authenticate with it when Identities are set, so they need no
	// credential file.
	InProcessKey string

	// TLS, when set, is the server's TLS configuration (certificate
	// loaded); else TLSCert and TLSKey name the PEM files of the server's
	// certificate and key. With either, clients must speak TLS.
	TLS             *tls.Config
	TLSCert, TLSKey string
	// TLSCA is the site CA's PEM file: with it the server also asks
	// clients for a certificate and, when they show one, verifies it
	// against this CA (a client without one still connects, its nkey
	// authenticating it).
	TLSCA string

	// JetStream runs JetStream (the coordinator's durable state,
	// pkg/fleet/store) with its files under StoreDir, which must exist.
	JetStream bool
	StoreDir  string
	// MaxMemory bounds what JetStream keeps in memory (0: the server's
	// default, three quarters of the machine's memory).
	MaxMemory int64
}

// ErrNotLoopback is wrapped by Start's error for a listen address beyond
// loopback without TLS and identities, and without Config.Insecure.
var ErrNotLoopback = errors.New("listening beyond loopback without authentication and TLS")

// ErrConfig is wrapped by Start's error for identities or TLS files it
// cannot use.
var ErrConfig = errors.New("bad setting")

// tlsTimeout bounds a client's TLS handshake, in seconds: generous for a
// loaded machine, short enough that idle half-open connections go.
const tlsTimeout = 5

// secure tells whether cfg makes clients authenticate and encrypt.
func (cfg Config) secure() bool {
	return len(cfg.Identities) > 0 && (cfg.TLS != nil || cfg.TLSCert != "")
}

// tlsConfig returns the server's TLS configuration (nil: no TLS).
func (cfg Config) tlsConfig() (*tls.Config, error) {
	if cfg.TLS != nil {
		return cfg.TLS, nil
	}
	if cfg.TLSCert == "" && cfg.TLSKey == "" {
		if cfg.TLSCA != "" {
			return nil, errors.New("tls: a CA without a server certificate and key")
		}
		return nil, nil
	}
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey,
		CaFile: cfg.TLSCA, Timeout: tlsTimeout})
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	if cfg.TLSCA != "" {
		// Verify the certificate a client shows; do not require one.
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return tc, nil
}

// users returns the nkey users of cfg's identities (nil: no
// authentication).
func (cfg Config) users() ([]*server.NkeyUser, error) {
	if len(cfg.Identities) == 0 {
		if cfg.InProcessKey != "" {
			return nil, errors.New("an in-process key without identities")
		}
		return nil, nil
	}
	var users []*server.NkeyUser
	seen := map[string]bool{}
	add := func(key string, perm *server.Permissions, types ...string) error {
		if seen[key] {
			return fmt.Errorf("two identities share the key %s", key)
		}
		seen[key] = true
		allowed := map[string]struct{}{}
		for _, t := range types {
			allowed[t] = struct{}{}
		}
		users = append(users, &server.NkeyUser{Nkey: key, Permissions: perm, AllowedConnectionTypes: allowed})
		return nil
	}
	for _, id := range cfg.Identities {
		if err := id.Validate(); err != nil {
			return nil, err
		}
		types := []string{connStandard}
		if id.Role == auth.Coordinator {
			types = append(types, connInProcess)
		}
		if err := add(id.Nkey, auth.Permissions(cfg.Subjects, id), types...); err != nil {
			return nil, err
		}
	}
	if cfg.InProcessKey != "" {
		co := auth.Identity{Role: auth.Coordinator, ID: "in-process", Nkey: cfg.InProcessKey}
		if err := add(co.Nkey, auth.Permissions(cfg.Subjects, co), connInProcess); err != nil {
			return nil, err
		}
	}
	return users, nil
}

// The connection types of server.NkeyUser.AllowedConnectionTypes (jwt's
// ConnectionTypeStandard and ConnectionTypeInProcess).
const (
	connStandard  = "STANDARD"
	connInProcess = "IN_PROCESS"
)

// Loopback tells whether host (an IP address or a name) can only be
// reached from this machine: the daemons' other listeners (the operator
// HTTP one, pkg/fleet/ops) apply the same rule as Listen.
func Loopback(host string) bool { return loopback(host) }

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
	if cfg.JetStream {
		if cfg.StoreDir == "" {
			// The server would pick $TMPDIR/nats, lost at reboot.
			return nil, fmt.Errorf("nats server: %w: jetstream without a store directory", ErrConfig)
		}
		opts.JetStream, opts.StoreDir, opts.DisableJetStreamBanner = true, cfg.StoreDir, true
		opts.JetStreamMaxMemory = cfg.MaxMemory
	}
	users, err := cfg.users()
	if err != nil {
		return nil, fmt.Errorf("nats server: %w: %w", ErrConfig, err)
	}
	opts.Nkeys = users // and no other user: no anonymous access
	tc, err := cfg.tlsConfig()
	if err != nil {
		return nil, fmt.Errorf("nats server: %w: %w", ErrConfig, err)
	}
	if tc != nil {
		opts.TLS, opts.TLSConfig, opts.TLSTimeout = true, tc, tlsTimeout
		opts.TLSVerify = tc.ClientAuth == tls.RequireAndVerifyClientCert
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
		if !loopback(host) && !cfg.secure() && !cfg.Insecure {
			return nil, fmt.Errorf("listen address %q: %w: anyone who reaches it could run commands on every node; "+
				"give a TLS certificate and identities (coordinator init-site), listen on 127.0.0.1, "+
				"or say --insecure on a trusted network", cfg.Listen, ErrNotLoopback)
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
	if cfg.Listen != "" && !cfg.secure() && !loopback(opts.Host) {
		log.Warn("INSECURE: the fleet's NATS port is open beyond loopback without authentication and TLS: "+
			"anyone who reaches it can run commands on every node", "listen", cfg.Listen,
			"identities", len(cfg.Identities), "tls", tc != nil)
	} else if cfg.Listen != "" && len(cfg.Identities) == 0 {
		// Loopback is every local user's: fine on a workstation, not on a
		// shared admin node.
		log.Warn("the fleet's NATS port takes any client of this machine without a credential: "+
			"every local user can run commands on every node (give --identities, see coordinator init-site)",
			"listen", cfg.Listen)
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
	if cfg.JetStream && !s.JetStreamEnabled() {
		s.Shutdown()
		return nil, fmt.Errorf("nats server: jetstream did not start in %s: %s", cfg.StoreDir, l.lastFatal())
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
