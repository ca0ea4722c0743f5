// Package statusweb is the coordinator's read-only web status page: the
// jobs of its registry (every user's: the page is for the operators of the
// coordinator's host), each job's nodes folded per final state with live
// progress and exit codes, and the agents per gateway group.
//
// The coordinator mounts it on its operator listener (--http) in one line:
//
//	mux.Handle("/", statusweb.New(co)) // co is the *coordinator.Coordinator
//
// (more specific patterns such as /metrics keep their handlers). Every URL
// the page uses is relative, so it also works under a prefix:
// mux.Handle("/status/", http.StripPrefix("/status", statusweb.New(co))).
//
// Pages and endpoints, all GET or HEAD (anything else is 405):
//
//	/              jobs (newest first) and agents per gateway group
//	/job/{id}      a job's nodes per final state and per exit status, its
//	               unfinished nodes, progress, failed count
//	/api/jobs      JobsPage as JSON
//	/api/agents    AgentsPage as JSON
//	/api/job/{id}  JobPage as JSON (?brief=1: without node sets)
//	/static/{name} the embedded script, style sheet and icon
//
// The pages are complete HTML (html/template: every value is escaped) and a
// small embedded script polls the JSON endpoints every second to update
// them without a reload (a job's node sets, which the coordinator folds
// for each full status, at most every 5 seconds while its nodes end). Nothing is loaded from elsewhere: the
// Content-Security-Policy allows only this origin's script, style, images
// and fetches, no inline script or style, no framing.
//
// Output is bounded whatever the registry holds: at most MaxJobs jobs and
// MaxAgents agents are listed, and each node set is cut to at most
// MaxSetBytes bytes of folded text (the first nodes of the set, folded)
// followed by a note of how many nodes were left out, so a job of 100 000
// badly folding names renders in a few kilobytes.
//
// Security: the page shows what runs where to anyone who can reach it, and
// it has no login. It changes nothing (no method but GET and HEAD is
// served). The coordinator serves it on its --http listener, which is
// loopback-only unless told otherwise; remote operators reach it through
// an SSH tunnel. Because a web page in the operator's browser could point a
// name of its own at 127.0.0.1 (DNS rebinding) and read the page from a
// script, requests whose Host header is not a loopback name or address are
// refused (403) unless AllowHosts names that host, or AllowAnyHost is given.
// docs/status-page.md is the operators' description.
package statusweb

import (
	"embed"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Source is what the page reads: *coordinator.Coordinator satisfies it.
type Source interface {
	// Jobs lists every job, newest first, in brief (no node sets).
	Jobs() []protocol.JobStatus
	// Job returns a job with its node sets, and whether it exists.
	Job(id string) (protocol.JobStatus, bool)
	// Agents lists the agents, live or lost.
	Agents() []protocol.AgentStatus
}

// Defaults of the output bounds (see the Option functions).
const (
	DefaultMaxJobs     = 500
	DefaultMaxAgents   = 2000
	DefaultMaxSetBytes = 4096
)

// Option configures the handler.
type Option func(*handler)

// AllowHosts adds host names (or addresses) the Host header may name,
// besides the loopback ones: the names operators type when the listener
// is reachable beyond loopback. A port in the Host header is ignored.
func AllowHosts(names ...string) Option {
	return func(h *handler) {
		for _, n := range names {
			h.hosts[normHost(n)] = true
		}
	}
}

// AllowAnyHost turns the Host check off: for a listener every client may
// reach anyway (the coordinator's --http-insecure), where a name pointed at
// it gives an attacker nothing more.
func AllowAnyHost() Option { return func(h *handler) { h.anyHost = true } }

// MaxJobs bounds the jobs listed (DefaultMaxJobs; the newest are kept).
func MaxJobs(n int) Option { return func(h *handler) { h.maxJobs = max(n, 1) } }

// MaxAgents bounds the agents listed over all groups (DefaultMaxAgents).
func MaxAgents(n int) Option { return func(h *handler) { h.maxAgents = max(n, 1) } }

// MaxSetBytes bounds the folded text of each node set shown
// (DefaultMaxSetBytes): a longer set shows its first nodes and how many
// more it has.
func MaxSetBytes(n int) Option { return func(h *handler) { h.maxSet = max(n, 64) } }

// Logger receives the handler's logs (default slog.Default()).
func Logger(l *slog.Logger) Option { return func(h *handler) { h.log = l } }

// Now is the clock of heartbeat ages (default time.Now).
func Now(now func() time.Time) Option { return func(h *handler) { h.now = now } }

type handler struct {
	src       Source
	hosts     map[string]bool
	anyHost   bool
	maxJobs   int
	maxAgents int
	maxSet    int
	log       *slog.Logger
	now       func() time.Time
	mux       *http.ServeMux
	pages     *template.Template
}

//go:embed assets
var assets embed.FS

// New returns the status page of src.
func New(src Source, opts ...Option) http.Handler {
	h := &handler{src: src, hosts: map[string]bool{}, maxJobs: DefaultMaxJobs, maxAgents: DefaultMaxAgents,
		maxSet: DefaultMaxSetBytes, log: slog.Default(), now: time.Now}
	for _, o := range opts {
		o(h)
	}
	h.pages = template.Must(template.New("").Funcs(funcs).ParseFS(assets, "assets/*.html"))
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("GET /{$}", h.index)
	h.mux.HandleFunc("GET /job/{id}", h.job)
	h.mux.HandleFunc("GET /api/jobs", h.apiJobs)
	h.mux.HandleFunc("GET /api/agents", h.apiAgents)
	h.mux.HandleFunc("GET /api/job/{id}", h.apiJob)
	h.mux.HandleFunc("GET /static/{name}", h.static)
	return h
}

// csp allows this origin's script, style, images and fetches only: no
// inline script or style attribute, no plugin, no form, no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// ServeHTTP sets the security headers of every answer, refuses foreign
// hosts and methods that are not GET or HEAD, then routes.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("Cache-Control", "no-store")
	if !h.hostAllowed(r.Host) {
		h.log.Warn("status page: request refused for its Host header (DNS rebinding guard; see statusweb.AllowHosts)",
			"host", protocol.Truncate(r.Host, protocol.MaxLogField), "remote", r.RemoteAddr)
		http.Error(w, "host not allowed: use a loopback address, or start the coordinator with this host name allowed", http.StatusForbidden)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "read-only: only GET and HEAD", http.StatusMethodNotAllowed)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// hostAllowed tells whether host (a Host header, with or without a port)
// is a loopback name or address, or one AllowHosts named.
func (h *handler) hostAllowed(host string) bool {
	if h.anyHost {
		return true
	}
	if hn, _, err := net.SplitHostPort(host); err == nil {
		host = hn
	}
	host = normHost(host)
	if host == "localhost" || h.hosts[host] {
		return host != ""
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// normHost lowercases a host name and drops its trailing dot and the
// brackets of an IPv6 address.
func normHost(s string) string {
	s = strings.TrimSuffix(strings.ToLower(s), ".")
	return strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
}
