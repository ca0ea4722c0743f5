// Package ssh is the native ssh driver: it runs commands and copies on
// nodes with golang.org/x/crypto/ssh, without spawning an ssh process per
// node, while behaving as much as it can like the OpenSSH client that
// ClusterShell's default worker runs.
//
// # Configuration
//
// OpenSSH client configuration is honoured: ~/.ssh/config then
// /etc/ssh/ssh_config, or only the file named by "-F" in ssh_options, the
// info key ssh_config or Driver.Config ("none" reads none). Host and Match
// (all, host, originalhost, user, localuser, canonical, final; others make
// their block inactive) blocks with "!" negation, Include, and OpenSSH's
// first-value-wins rule apply to these keywords: HostName (with %h),
// Port, User, IdentityFile (several; ~ and %-tokens expanded),
// IdentitiesOnly, IdentityAgent, ProxyJump (several hops, each resolved
// through the same config), ProxyCommand, ConnectTimeout,
// StrictHostKeyChecking (yes, no, accept-new; ask is yes, since nothing can
// be asked), UserKnownHostsFile, GlobalKnownHostsFile, HashKnownHosts,
// HostKeyAlias, LogLevel, and KexAlgorithms, Ciphers and MACs (OpenSSH's
// list syntax: a list, "+list", "-patterns", "^list"; names OpenSSH knows
// but x/crypto does not implement are left out of what is offered).
// Other keywords are ignored.
//
// The files read (config files, known_hosts, identity files) are parsed
// once and kept while they do not change, which each job checks; a
// driver with Snapshot set (an agent's, one per shard of a job) checks
// once, at their first use: a file edited while a shard runs applies
// from the next shard.
//
// # Info keys
//
//	ssh_options   OpenSSH options: -F file, -i key, -J jumps, -l user,
//	              -p port, -q, -o Key=Value for the keywords above, and
//	              -T, -x, -a, -o BatchMode/ForwardAgent=no/ForwardX11=no/
//	              RequestTTY=no, which restate what the driver does. Any
//	              other option fails the job with an error that names it
//	              and suggests the openssh worker.
//	ssh_user      remote user (weaker than ssh_options, stronger than the
//	              config's User, as with ssh -l after the options)
//	scp_options   for copies, instead of ssh_options, with scp's flags
//	              (-P port, -p preserve, -r, -O scp protocol, -s SFTP only)
//	scp_user      for copies, instead of ssh_user
//	ssh_config    config file, as ssh -F
//	ssh_known_hosts               UserKnownHostsFile override
//	ssh_strict_host_key_checking  StrictHostKeyChecking override (a
//	                              string, or a bool: true is "yes")
//
// The job's ConnectTimeout is ssh's -oConnectTimeout: it bounds the TCP
// connect, the SSH handshake and authentication of each hop.
//
// # Failures
//
// A node that cannot be reached gets exit code 255 and a
// *engine.NodeError with its reason, and the lines OpenSSH would print for
// the same failure are written to the job's stderr (stdout when the
// streams are merged), so that users see the messages they know:
//
//	ssh: connect to host node1 port 22: Connection refused
//	user@node1: Permission denied (publickey).
//	Host key verification failed.
//
// Connections that fail before authentication completes (reset or closed
// during key exchange, as an sshd over MaxStartups does) are retried a few
// times with jittered backoff, since the command never ran. The messages
// are OpenSSH 9's, byte for byte except that ssh ends them with "\r\n"
// and the driver with "\n" (see TestSameMessagesAsOpenSSH).
//
// # Host keys
//
// Host keys are verified by default against the known_hosts files
// (UserKnownHostsFile, GlobalKnownHostsFile) with StrictHostKeyChecking,
// as OpenSSH does:
//
//   - a host certificate is accepted when an "@cert-authority <patterns>
//     <CA key>" line naming the host holds the key that signed it, and the
//     certificate is a host certificate listing the host name (HostKeyAlias
//     or HostName, without port) among its principals, within its
//     validity, with no critical option. Otherwise its plain key is checked
//     like any host key, and OpenSSH's reason ("Certificate invalid: name
//     is not a listed principal", "... expired") is printed; the node's
//     error names the certificate (serial, id, principals, CA, the
//     known_hosts line) and the reason. Under accept-new or no, as with
//     OpenSSH, that plain key may then be learnt like a new host's.
//   - an "@revoked" key refuses the host, whether it is the key sent, the
//     key of the certificate sent, or the CA that signed it.
//   - when an @cert-authority line names the host, certificate algorithms
//     are asked for first; otherwise those of the keys already known.
//
// Host patterns are golang.org/x/crypto/ssh/knownhosts's: "*", "?" and
// "!" as in OpenSSH, hashed names, "[host]:port"; a pattern without a
// port matches port 22 only (OpenSSH's "*" also matches "[host]:2222").
//
// Node names holding shell syntax or starting with '-' (OpenSSH's
// valid_hostname) are refused before anything runs, as ssh 9.6 refuses
// them: such a name could reach a ProxyCommand's %h.
//
// Keys and passphrases: nothing asks for a passphrase (BatchMode); an
// encrypted identity file is used through the agent when the agent holds
// it, else skipped (said in the debug lines). Messages name identity
// files and key fingerprints, never key material.
//
// # Commands
//
// One connection and one session per job; no pseudo-terminal, no agent or
// X11 forwarding, nothing is ever prompted for (BatchMode). The job's
// stdin is forwarded, then closed (EOF); with no Stdin the command reads
// EOF at once. An empty command starts the user's shell reading stdin, as
// ssh does when given an empty command (clush with no command and a stdin
// that is not a terminal). The exit code is the command's, or 128+n for a
// command killed by signal n (OpenSSH's ssh exits 255 then; ClusterShell's exec
// worker reports 128+n, and so does this driver, so that a node killed by
// the OOM killer reads 137 whichever worker ran it).
//
// # Stopping commands
//
// At a command timeout or an abort, ssh and clush leave the remote command
// running (sshd ends nothing when a session without a terminal closes, and
// its "signal" request reaches only the user's shell, not what the shell
// started). This driver ends it: a second session on the same connection
// runs a POSIX sh script that kills, with SIGKILL, the process groups and
// sessions that sshd started for the connection's other sessions, and
// waits until none of their processes is left. The command itself runs as
// it always did (no wrapper, no pseudo-terminal): its output, exit codes
// and stdin are untouched. The Result's error then holds an
// *engine.RemoteStop: "killed on the node (process group N)" only when the
// script saw the processes gone, "no longer running on the node" when the
// command had ended on its own, or "may still run on the node: <why>".
//
// Limits: it needs the server to run each connection's sessions under one
// process of their own, with setsid (OpenSSH's sshd, Dropbear); /bin/sh;
// and /proc (with tr and grep, which check that a session belongs to the
// connection) or else ps -A -o pid=,ppid=,pgid=,stat= (which shows no
// session ids: processes that left the command's process group survive
// then). Processes that left the command's session (setsid, daemons) are
// never touched. A restricted shell, a ForceCommand, MaxSessions reached or
// a connection already lost leave the command as ssh would, and the stop
// says that it may still run. The kill takes one round trip and the
// script's run (bounded by 5 s) before the job ends: 0.5 s per stop
// against OpenSSH on loopback, with 120 processes on 2 busy cores
// (go test -run '^$' -bench SSHDStop -benchtime 10x ./pkg/workers/ssh);
// the script reads every process, so it grows with their number.
//
// # Copies
//
// SFTP when the server offers the subsystem, else the scp protocol, spoken
// to "scp -t" or "scp -f" run on the node (which needs scp installed
// there, as OpenSSH's scp -O does). A directory is copied recursively;
// with Preserve, modes and access and modification times are kept.
// Otherwise new files get the source's mode less 022 (scripts stay
// executable) and existing files keep theirs. As with scp, a destination
// that is an existing directory receives the copy inside it, symbolic
// links are followed, an error on one file is reported as
// "scp: <path>: <error>" and the copy goes on, and the exit code is 1 if
// anything failed. Files are written over without O_TRUNC and cut at the
// size written, as OpenSSH's scp does both over SFTP and as an scp sink:
// a copy onto its own source (the node the copy runs from, same path)
// leaves the file intact, and an existing destination keeps its inode,
// owner, hard links and (without Preserve) mode. A directory is listed
// before its copy is created, so a tree copied into itself is copied
// once (scp recurses until the path is too long). There is no atomic
// replacement: an interrupted copy leaves a partly written file, as scp
// does.
//
// Over SFTP, a tree is walked on one goroutine (directories are made as
// it meets them) while its files are copied (or, reverse, fetched)
// several at once (CopyFilesInFlight, 16 by default; a file takes a
// place per 64 KiB): a small file costs several round trips (open,
// write, close, setstat), and one node's copy would otherwise wait on
// them one after the other. The error lines still come in the order of
// the walk. In a directory the copy made, files and subdirectories are
// known to be new and are not looked at first, and an old file is cut
// only when it was longer than what was written. The scp protocol
// copies one file after the other.
package ssh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh/agent"

	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/workers/exec"
)

// Name is the name users select the native ssh driver by.
const Name = "ssh"

// ExitSSHError is the exit code of a job that failed in ssh itself
// (connection, authentication, host key), as OpenSSH's ssh exits.
const ExitSSHError = 255

// Driver is the native ssh driver. The zero value works with OpenSSH's
// defaults; the fields change them for every job (info keys and
// ssh_options still override them). A Driver is safe for concurrent use
// and must not be copied after its first use: it caches parsed config and
// known_hosts files and identity keys, re-reading them when they change.
type Driver struct {
	// Config is the client config file read instead of ~/.ssh/config and
	// /etc/ssh/ssh_config, as with ssh -F; "none" reads no file. The info
	// key ssh_config and -F in ssh_options override it.
	Config string
	// KnownHosts, when set, replaces UserKnownHostsFile (several files
	// separated by blanks, or "none").
	KnownHosts string
	// StrictHostKeyChecking, when set, replaces the config's: "yes",
	// "no", "accept-new" or "ask" (which is "yes" here).
	StrictHostKeyChecking string
	// User is the remote user when neither the info keys nor the config
	// name one; empty means the local user, as ssh does.
	User string
	// Agent, when set, is the agent asked for keys, instead of the one at
	// IdentityAgent or $SSH_AUTH_SOCK.
	Agent agent.Agent
	// Home is the home directory "~" and the default files are relative
	// to; empty means $HOME (or the user database's).
	Home string
	// Retries bounds the retries of a connection that fails before
	// authentication completes; 0 means 3, a negative value none.
	Retries int
	// RetryBackoff is the mean delay before the first retry, doubled at
	// each retry, with ±50% jitter; 0 means 250ms.
	RetryBackoff time.Duration
	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver *net.Resolver
	// Snapshot makes the driver look at each file it reads (ssh_config
	// files and their Includes, known_hosts files, identity files and
	// their certificates) once, at its first use, and keep what it found
	// for as long as it lives; without it every job checks whether each
	// file changed, as each ssh process would. It is for a driver that
	// runs one batch of nodes and is then dropped, as an agent's shard
	// does: 10 000 nodes then cost one stat of each file rather than
	// 10 000, and a file edited meanwhile is seen by the next batch.
	// Keys the driver itself adds to known_hosts (accept-new) are seen
	// at once either way.
	Snapshot bool
	// CopyFilesInFlight bounds the files of a tree copied at once to one
	// node over SFTP (a file takes one place per 64 KiB, so a big file
	// goes alone); 0 means DefaultCopyFilesInFlight, 1 one file after the
	// other. Error lines come in the order of the walk either way. It
	// applies to reverse copies too; the scp protocol copies one file
	// after the other.
	CopyFilesInFlight int

	cache driverCache
}

// driverCache holds what the driver parsed, keyed by file and checked
// against the file's inode, size and mtime before each use.
type driverCache struct {
	configs    configCache
	knownHosts knownHostsCache
	keys       keyCache
	snap       snapshotCache
}

// New returns a native ssh driver with default settings.
func New() *Driver { return &Driver{} }

var _ engine.Driver = (*Driver)(nil)

// Name returns "ssh".
func (*Driver) Name() string { return Name }

// defaultRetries is how often a pre-authentication failure is retried.
const defaultRetries = 3

func (d *Driver) retries() int {
	switch {
	case d.Retries < 0:
		return 0
	case d.Retries == 0:
		return defaultRetries
	}
	return d.Retries
}

func (d *Driver) backoff() time.Duration {
	if d.RetryBackoff > 0 {
		return d.RetryBackoff
	}
	return 250 * time.Millisecond
}

// home is the directory "~" stands for.
func (d *Driver) home() string {
	if d.Home != "" {
		return d.Home
	}
	if h := os.Getenv("HOME"); h != "" {
		return h
	}
	if u, err := user.Current(); err == nil {
		return u.HomeDir
	}
	return "/"
}

// expandTilde expands a leading "~" or "~/" to the home directory and
// "~name" to name's.
func (d *Driver) expandTilde(p string) string {
	if !strings.HasPrefix(p, "~") {
		return p
	}
	i := strings.IndexByte(p, '/')
	if i < 0 {
		i = len(p)
	}
	if i == 1 {
		return filepath.Join(d.home(), p[1:])
	}
	u, err := user.Lookup(p[1:i])
	if err != nil {
		return p
	}
	return filepath.Join(u.HomeDir, p[i:])
}

// run is one job in progress.
type run struct {
	d   *Driver
	job *engine.Job
	// stdout and stderr are where the command's streams go: the job's
	// writers, or, when the streams are merged, one lockedWriter over its
	// Stdout. stderr is locked in any case, since the driver's own
	// messages (diag) may meet a remote scp's stderr there.
	stdout, stderr io.Writer
	diag           io.Writer // where OpenSSH-style messages go: stderr
	level          logLevel  // the target's LogLevel
	closer         []io.Closer
}

// Run runs job on its node: the command, or the copy. See the package
// documentation for configuration and failures. When ctx is cancelled the
// remote command is killed (see Stopping commands), the connection is
// closed, and Run returns with exit code -1 and an error wrapping
// ctx.Err() and an *engine.RemoteStop (not a *engine.NodeError: the engine
// knows whether it timed out or aborted).
// Nothing is written to the job's writers after Run returns.
func (d *Driver) Run(ctx context.Context, job *engine.Job) engine.Result {
	r := &run{d: d, job: job, level: logInfo}
	r.stdout = io.Discard
	if job.Stdout != nil {
		r.stdout = pooledWriter{job.Stdout}
	}
	if job.Stderr == nil {
		// ClusterShell's stderr=False: one stream, as if 2>&1.
		merged := &lockedWriter{w: r.stdout}
		r.stdout, r.stderr = merged, merged
	} else {
		r.stderr = &lockedWriter{w: job.Stderr}
	}
	r.diag = r.stderr
	res := r.run(ctx)
	for i := len(r.closer) - 1; i >= 0; i-- {
		_ = r.closer[i].Close()
	}
	return res
}

func (r *run) run(ctx context.Context) engine.Result {
	node := r.job.Node
	if err := ctx.Err(); err != nil {
		return r.interrupted(err)
	}
	if err := exec.ValidHostname(node); err != nil {
		return r.localError(err)
	}
	rs, err := r.d.newResolver(r.job)
	if err != nil {
		return r.localError(err)
	}
	hops, err := rs.chain(node)
	if err != nil {
		return r.localError(err)
	}
	t := hops[len(hops)-1]
	r.level = t.LogLevel
	what := r.job.Command
	if r.job.Copy != nil {
		what = copyText(r.job.Copy)
	}
	r.debugf("SSHCLIENT: native %s@%s:%d%s %s", t.User, t.HostName, t.Port, viaText(hops), what)
	client, err := r.connect(ctx, hops)
	if err != nil {
		var f *failure
		if errors.As(err, &f) {
			return r.fail(f)
		}
		if ctx.Err() != nil {
			return r.interrupted(ctx.Err())
		}
		return r.localError(err)
	}
	if r.job.Copy != nil {
		return r.copy(ctx, client, t, rs.cl)
	}
	return r.command(ctx, client, t)
}

func viaText(hops []*target) string {
	if len(hops) == 1 {
		if hops[0].ProxyCommand != "" {
			return " via ProxyCommand " + hops[0].ProxyCommand
		}
		return ""
	}
	names := make([]string, len(hops)-1)
	for i, h := range hops[:len(hops)-1] {
		names[i] = h.Host
	}
	return " via " + strings.Join(names, ",")
}

func (r *run) debugf(format string, args ...any) {
	if r.job.Debug != nil {
		r.job.Debug(fmt.Sprintf(format, args...))
	}
}

// copyFilesInFlight is CopyFilesInFlight or its default.
func (d *Driver) copyFilesInFlight() int {
	if d.CopyFilesInFlight <= 0 {
		return DefaultCopyFilesInFlight
	}
	return d.CopyFilesInFlight
}

// say writes an OpenSSH diagnostic line when LogLevel lets it through.
func (r *run) say(level logLevel, line string) {
	if level <= r.level {
		_, _ = io.WriteString(r.diag, line+"\n")
	}
}

// fail reports a connection failure: OpenSSH's lines, exit code 255 and
// the reason.
func (r *run) fail(f *failure) engine.Result {
	for _, l := range f.lines {
		r.say(l.level, l.text)
	}
	return engine.Result{ExitCode: ExitSSHError, Err: &engine.NodeError{Node: r.job.Node, Reason: f.reason, Err: f}}
}

// localError fails the job before any connection: bad options, bad config.
// The message goes to the job's stderr, as ssh prints its own.
func (r *run) localError(err error) engine.Result {
	r.say(logFatal, err.Error())
	return engine.Result{ExitCode: ExitSSHError, Err: &engine.NodeError{Node: r.job.Node, Reason: engine.ReasonLocal, Err: err}}
}

// interrupted is the result of a job whose context was cancelled: the
// engine knows whether that was a command timeout or an abort.
func (r *run) interrupted(err error) engine.Result {
	return engine.Result{ExitCode: -1, Err: fmt.Errorf("ssh %s: interrupted: %w", r.job.Node, err)}
}

// failure is a connection failure with its reason and the lines OpenSSH
// prints for it.
type failure struct {
	reason engine.Reason
	lines  []diagLine
	err    error
	retry  bool // failed before authentication completed: safe to retry
	// summary, when set, is the one-line reason instead of the lines:
	// for failures whose OpenSSH message is a banner of many lines (a
	// changed host key) or says too little (a timeout).
	summary string
}

type diagLine struct {
	level logLevel
	text  string
}

// Error is the one-line reason csub prints after the node's state: the
// summary, or OpenSSH's lines joined.
func (f *failure) Error() string {
	if f.summary != "" {
		return f.summary
	}
	var msgs []string
	for _, l := range f.lines {
		msgs = append(msgs, l.text)
	}
	msg := strings.Join(msgs, " / ")
	switch {
	case msg == "" && f.err != nil:
		return f.err.Error()
	case f.err != nil && !strings.Contains(msg, f.err.Error()):
		return msg + " (" + f.err.Error() + ")"
	}
	return msg
}

func (f *failure) Unwrap() error { return f.err }

func newFailure(reason engine.Reason, err error, lines ...diagLine) *failure {
	return &failure{reason: reason, err: err, lines: lines}
}

func errLine(format string, args ...any) diagLine {
	return diagLine{level: logError, text: fmt.Sprintf(format, args...)}
}

func fatalLine(format string, args ...any) diagLine {
	return diagLine{level: logFatal, text: fmt.Sprintf(format, args...)}
}
