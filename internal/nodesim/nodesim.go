// Package nodesim simulates a fleet of SSH nodes for tests and
// benchmarks: thousands of node names, each answering as a healthy host
// or failing as real hosts fail, served by one process without forking.
//
// A Sim is a few servers on 127.0.0.1, one per behaviour, and an
// sshtest.Env (client key, known_hosts, ssh_config) whose Host blocks send
// each node name to its behaviour's port. Point a client's ssh_config at
// Sim.Env.ConfigPath (a job's ssh_config info key, "ssh -F") and it
// reaches any node name:
//
//   - ok: an SSH server (internal/sshtest with Config.Exec) that answers
//     exec requests with a tiny built-in interpreter (Run), without
//     forking: true, false, ":", exit N, echo [-n] ARGS, sleep S,
//     seq [FIRST] LAST, lines N [TEXT] (N lines of TEXT, "y" by default,
//     as yes prints), bytes N (N bytes, lines of 63 'x'), cat (stdin to
//     stdout), whoami (the user the client logged in as), nodelines N
//     [TEXT] (N lines "USER I TEXT", I from 1 to N, " TEXT" left out
//     when not given: lines that differ from node to node, see below),
//     joined by ";", newlines, "&&", "||", with sh's quotes and the
//     redirections >&2, 2>&1 and >/dev/null. Anything else prints
//     "nodesim: unknown command: NAME" on stderr and exits 127.
//   - refuse: a port with nothing listening (connection refused). The port
//     is bound but not listening for the Sim's life, so no other socket
//     takes it and no client's own port can be it.
//   - hang: accepts TCP connections and never speaks; clients time out.
//   - authfail: a real SSH server that refuses every key.
//   - midclose: the ok interpreter, but it prints only the first
//     Config.MidcloseLines lines of the command's standard output (1 by
//     default), then closes the TCP connection without an exit status,
//     as a host that crashes mid-command does.
//
// Which behaviour a name gets (Class, the same rule as the ssh_config):
// a name starting with a behaviour's name gets it ("hang7", "ok12");
// otherwise a name ending in two digits 10–14 is refuse, 15–19 hang,
// 20–24 authfail, 25–29 midclose, and any other name is ok. So in every
// run of 100 consecutive numbers (n[1-100], node[101-200]) exactly 5 are
// of each failing class and 80 are ok: n[1-10000] is 5 % refuse, 5 %
// hang, 5 % authfail, 5 % midclose and 80 % ok. Names are matched as
// written (use lower case, as OpenSSH lowercases the name it matches).
//
// One server plays every ok node, and SSH does not tell a server which
// name the client dialled: a command learns which node it runs on through
// the user it runs as. LoginAsNode adds, for each name given, a Host block
// that sets User to the name, so "ssh -F config ok7 whoami" prints "ok7"
// and "nodelines 3" prints "ok7 1", "ok7 2", "ok7 3": each node's output
// is its own, as a gathering client (clush -b) must see it. A client that
// sets the user itself (ssh -l, csub -l) overrides the config's User.
//
// The servers share the sshtest machinery: x/crypto/ssh key exchange and
// authentication, a few goroutines per connection and no process per
// command, so a simulated node costs far less than a real sshd or an
// agent's work on it.
package nodesim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/fleetsh/fleetsh/internal/sshtest"
)

// Behaviour is how a simulated node answers.
type Behaviour string

// The behaviours of a node.
const (
	OK       Behaviour = "ok"       // runs the command
	Refuse   Behaviour = "refuse"   // connection refused
	Hang     Behaviour = "hang"     // accepts TCP, never speaks
	AuthFail Behaviour = "authfail" // refuses every key
	MidClose Behaviour = "midclose" // drops the connection mid-output
)

// Behaviours lists every behaviour, ok first.
var Behaviours = []Behaviour{OK, Refuse, Hang, AuthFail, MidClose}

// faults are the failing behaviours in the order of their two-digit
// endings: faults[i] owns the endings 10+5i to 14+5i.
var faults = []Behaviour{Refuse, Hang, AuthFail, MidClose}

// Class returns the behaviour the Sim's ssh_config gives name.
func Class(name string) Behaviour {
	for _, b := range Behaviours {
		if len(name) >= len(b) && name[:len(b)] == string(b) {
			return b
		}
	}
	if n := len(name); n >= 2 && isDigit(name[n-2]) && isDigit(name[n-1]) {
		if e := int(name[n-2]-'0')*10 + int(name[n-1]-'0'); e >= 10 && e < 10+5*len(faults) {
			return faults[(e-10)/5]
		}
	}
	return OK
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// endings are the ssh_config Host patterns of b's two-digit endings
// ("*10" ... "*14" for refuse), as Class reads names.
func endings(b Behaviour) []string {
	for i, f := range faults {
		if f == b {
			p := make([]string, 5)
			for j := range p {
				p[j] = fmt.Sprintf("*%d", 10+5*i+j)
			}
			return p
		}
	}
	return nil
}

// Config configures a Sim. The zero value is ready to use.
type Config struct {
	// MidcloseLines is how many lines of standard output a midclose node
	// prints before it drops the connection; 0 means 1.
	MidcloseLines int
	// Logf, when set, receives the servers' notable events.
	Logf func(format string, args ...any)
}

// Sim is a running node simulator. Close (or the end of the test that
// started it) stops it.
type Sim struct {
	// Env is the client side: ConfigPath (the ssh_config mapping names to
	// behaviours), KnownHostsPath, KeyPath.
	Env *sshtest.Env
	// Servers are the SSH servers of ok, hang, authfail and midclose.
	Servers map[Behaviour]*sshtest.Server
	// RefusePort is the port of refuse, on 127.0.0.1.
	RefusePort int

	refuseFD int
}

// Start starts a Sim whose servers and files tb cleans up.
func Start(tb testing.TB, cfg Config) *Sim {
	tb.Helper()
	s, err := start(tb, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

func start(tb testing.TB, cfg Config) (*Sim, error) {
	lines := cfg.MidcloseLines
	if lines <= 0 {
		lines = 1
	}
	s := &Sim{Env: sshtest.NewEnv(tb), Servers: map[Behaviour]*sshtest.Server{}, refuseFD: -1}
	mk := func(b Behaviour, c sshtest.Config) error {
		c.Logf = cfg.Logf
		srv, err := sshtest.NewServer(c)
		if err != nil {
			return err
		}
		s.Servers[b] = srv
		return nil
	}
	if err := errors.Join(mk(OK, sshtest.Config{Exec: okExec}), mk(Hang, sshtest.Config{}),
		mk(AuthFail, sshtest.Config{}), mk(MidClose, sshtest.Config{Exec: midcloseExec(lines)})); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("nodesim: %w", err)
	}
	s.Servers[Hang].SetStall(true)
	s.Servers[AuthFail].SetRejectAuth(true)
	var err error
	if s.refuseFD, s.RefusePort, err = reservePort(); err != nil {
		_ = s.Close()
		return nil, err
	}
	// First match wins: the prefixes, then the two-digit endings, then
	// ok for any other name.
	add := func(b Behaviour, patterns ...string) error {
		if b == Refuse {
			return s.Env.AddHost("127.0.0.1", s.RefusePort, patterns...)
		}
		return s.Env.AddNodes(s.Servers[b], patterns...)
	}
	for _, b := range Behaviours {
		err = errors.Join(err, add(b, string(b)+"*"))
	}
	for _, b := range faults {
		err = errors.Join(err, add(b, endings(b)...))
	}
	if err = errors.Join(err, add(OK, "*")); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("nodesim: %w", err)
	}
	return s, nil
}

// LoginAsNode makes the ssh_config log in to each of names as the user
// of that name, so that whoami and nodelines on a node print its name.
// It adds one Host block per name (ahead of the others, where the first
// User read wins): it is meant for tens to thousands of names.
func (s *Sim) LoginAsNode(names ...string) error {
	lines := make([]string, 0, 2*len(names))
	for _, n := range names {
		lines = append(lines, "Host "+n, "    User "+n)
	}
	if err := s.Env.AddConfig(lines...); err != nil {
		return fmt.Errorf("nodesim: %w", err)
	}
	return nil
}

// Stats returns the counters of each server (refuse has none: the
// kernel refuses).
func (s *Sim) Stats() map[Behaviour]sshtest.Stats {
	st := make(map[Behaviour]sshtest.Stats, len(s.Servers))
	for b, srv := range s.Servers {
		st[b] = srv.Stats()
	}
	return st
}

// Close stops the servers and frees the refused port.
func (s *Sim) Close() error {
	var err error
	for _, srv := range s.Servers {
		err = errors.Join(err, srv.Close())
	}
	if s.refuseFD >= 0 {
		err = errors.Join(err, syscall.Close(s.refuseFD))
		s.refuseFD = -1
	}
	return err
}

// reservePort binds a TCP socket to a free port of 127.0.0.1 without
// listening: connecting to it is refused, and while the socket lives no
// listener (without SO_REUSEADDR on both) and no outgoing connection's
// ephemeral port can take the port, so it stays refused.
func reservePort() (fd, port int, err error) {
	fd, err = syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, 0, fmt.Errorf("nodesim: refused port: %w", err)
	}
	if err = syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err == nil {
		var sa syscall.Sockaddr
		if sa, err = syscall.Getsockname(fd); err == nil {
			return fd, sa.(*syscall.SockaddrInet4).Port, nil
		}
	}
	_ = syscall.Close(fd)
	return -1, 0, fmt.Errorf("nodesim: refused port: %w", err)
}

// okExec runs a command with RunAs, as the session's user.
func okExec(ctx context.Context, x *sshtest.ExecRequest) (int, error) {
	return RunAs(ctx, x.User, x.Command, x.Stdin, x.Stdout, x.Stderr), nil
}

// midcloseExec runs a command with RunAs, its output cut after lines
// lines, and drops the connection.
func midcloseExec(lines int) sshtest.ExecFunc {
	return func(ctx context.Context, x *sshtest.ExecRequest) (int, error) {
		RunAs(ctx, x.User, x.Command, x.Stdin, &cutWriter{w: x.Stdout, lines: lines}, x.Stderr)
		return 0, sshtest.ErrDrop
	}
}

// errCut stops a midclose command once its lines are written.
var errCut = errors.New("nodesim: output cut")

// cutWriter passes the first lines lines through, then fails.
type cutWriter struct {
	w     io.Writer
	lines int
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if c.lines <= 0 {
		return 0, errCut
	}
	n := 0
	for n < len(p) && c.lines > 0 {
		if p[n] == '\n' {
			c.lines--
		}
		n++
	}
	if _, err := c.w.Write(p[:n]); err != nil {
		return 0, err
	}
	if n < len(p) {
		return n, errCut
	}
	return n, nil
}
