// Package ops is the operator HTTP listener of the fleet daemons
// (coordinator and agent --http): Prometheus metrics on /metrics, the
// process's liveness on /healthz and its readiness on /readyz.
//
//	/metrics  the daemon's metrics (Instrument, Watch) in Prometheus's text
//	          format, from a registry of its own (not the global one)
//	/healthz  200 "ok" while the process serves HTTP at all
//	/readyz   200 "ready" once its parts serve (daemon.Fleet.Ready: the
//	          coordinator connected to NATS and listening, the agent
//	          connected and registered), else 503 and the reason in one
//	          line (starting, a NATS outage, stopping)
//
// Other handlers (the coordinator's status page) are mounted on the
// same mux with Handle. Like the embedded NATS server's --listen, the
// listener refuses an address beyond loopback unless told it may
// (Listen's insecure): what it serves tells who runs what where. Remote
// Prometheus servers scrape it through a reverse proxy with credentials
// or an SSH tunnel (docs/fleet.md, "Metrics and health").
package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fleetsh/fleetsh/pkg/fleet/broker"
)

// ErrNotLoopback is wrapped by Listen's error for an address beyond
// loopback without insecure.
var ErrNotLoopback = errors.New("operator HTTP listener beyond loopback")

// ErrAddress is wrapped by Listen's error for an address that is no
// host:port.
var ErrAddress = errors.New("want host:port")

// Server is a daemon's operator HTTP listener.
type Server struct {
	// Mux routes the listener's requests: /metrics, /healthz and /readyz
	// are on it, Handle adds more. It may be added to while it serves.
	Mux *http.ServeMux
	// Registry holds the daemon's metrics: the Go runtime's and the
	// process's, and those Instrument and Watch register.
	Registry *prometheus.Registry

	log   *slog.Logger
	ready atomic.Pointer[func() error]
	live  atomic.Pointer[live] // the running fleet (Watch)
	srv   *http.Server
	ln    net.Listener
	done  chan struct{} // closed when Serve returns
}

// New returns a server whose /readyz says "starting" until Watch, logging
// to log (nil: discarded). It listens once Listen is called.
func New(log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{Mux: http.NewServeMux(), Registry: prometheus.NewRegistry(), log: log}
	s.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.SetReady(func() error { return errors.New("starting") })
	s.Mux.Handle("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn), ErrorHandling: promhttp.ContinueOnError,
		// A slow scraper must not pile up collections: each walks the
		// registry under locks the coordinator's handlers take too.
		MaxRequestsInFlight: 2, Timeout: 10 * time.Second,
	}))
	s.Mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { text(w, http.StatusOK, "ok") })
	s.Mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := (*s.ready.Load())(); err != nil {
			// One line: a part's errors, joined, may hold several.
			text(w, http.StatusServiceUnavailable, "not ready: "+strings.ReplaceAll(err.Error(), "\n", "; "))
			return
		}
		text(w, http.StatusOK, "ready")
	})
	return s
}

// text answers a one-line plain text body.
func text(w http.ResponseWriter, code int, line string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, line+"\n")
}

// Handle routes pattern (http.ServeMux's syntax) to h.
func (s *Server) Handle(pattern string, h http.Handler) { s.Mux.Handle(pattern, h) }

// SetReady makes /readyz answer ready's verdict: nil is ready, an error
// says why not.
func (s *Server) SetReady(ready func() error) { s.ready.Store(&ready) }

// Listen listens on addr (host:port; port 0 picks one, see Addr) and
// serves in the background until Close. A host beyond loopback is
// refused (ErrNotLoopback) unless insecure, which is logged as a warning.
func (s *Server) Listen(addr string, insecure bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--http %q: %w (%v)", addr, ErrAddress, err)
	}
	if host == "" {
		return fmt.Errorf("--http %q: %w: give a host (127.0.0.1 for this machine only)", addr, ErrAddress)
	}
	if !broker.Loopback(host) {
		if !insecure {
			return fmt.Errorf("--http %q: %w: its metrics and status tell anyone who reaches it which jobs run where; "+
				"listen on 127.0.0.1 and scrape through a reverse proxy with credentials or an SSH tunnel, "+
				"or say --http-insecure on a trusted network", addr, ErrNotLoopback)
		}
		s.log.Warn("INSECURE: the operator HTTP listener (metrics, health, status) is open beyond loopback without credentials: "+
			"anyone who reaches it sees the fleet's jobs and agents (--http-insecure)", "addr", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--http: %w", err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s.Mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("operator HTTP listener stopped", "err", err)
		}
	}()
	s.log.Info("operator HTTP listening", "url", "http://"+ln.Addr().String(), "paths", "/metrics /healthz /readyz")
	return nil
}

// Addr returns the address the server listens on ("" before Listen).
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Close stops the listener, giving requests in progress a second.
func (s *Server) Close() error {
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, s.srv.Close())
	}
	<-s.done
	return err
}
