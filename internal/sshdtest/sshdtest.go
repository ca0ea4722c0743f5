// Package sshdtest runs a real OpenSSH sshd on 127.0.0.1 for tests: its
// own host key, a generated client key, a throwaway configuration in a
// temporary directory, and an ssh_config file that makes the OpenSSH
// client reach it under any host name.
//
// A test that needs one calls Start; the server stops when the test ends.
// When sshd or ssh-keygen is not installed the test is skipped, unless
// FLEETSH_REQUIRE_SSHD=1 says that it must run (CI), then it fails.
package sshdtest

import (
	"bufio"
	"cmp"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	osexec "os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/fleetsh/fleetsh/pkg/workers/exec"
)

// SSHD is the sshd binary Start runs. sshd re-executes itself for each
// connection, so it must be an absolute path.
var SSHD = "/usr/sbin/sshd"

// RequireEnv is the environment variable that turns a missing sshd into a
// test failure instead of a skip.
const RequireEnv = "FLEETSH_REQUIRE_SSHD"

// Server is a running sshd.
type Server struct {
	// Addr is "127.0.0.1:port"; Port is its port.
	Addr string
	Port int
	// User is the user the server lets in (the current user).
	User string
	// Dir is the temporary directory holding every file below.
	Dir string
	// ClientConfig is an ssh_config file for the OpenSSH client: any host
	// name goes to 127.0.0.1:Port as User with ClientKey, checking the
	// host key against KnownHosts strictly, in batch mode. Use it with
	// "ssh -F ClientConfig node command" (see SSHOptions).
	ClientConfig string
	// ClientKey is the client's private key file (ClientKey+".pub" holds
	// the public key, which the server authorizes).
	ClientKey string
	// KnownHosts is a known_hosts file with the server's host key for
	// "[127.0.0.1]:Port".
	KnownHosts string
	// AuthorizedKeys is the authorized_keys file sshd reads at every
	// authentication (ClientKey's public key at start): a test may
	// rewrite it, for example to give each of several keys a forced
	// command.
	AuthorizedKeys string
	// HostKey is the server's public host key line ("ssh-ed25519 AAAA...").
	HostKey string
	// Log is the file sshd logs to (-e, LogLevel VERBOSE).
	Log string

	cmd      *osexec.Cmd
	exited   chan struct{}
	hostCert string // HostCertificate file, or ""
	opts     Options
}

// Start starts sshd on a free port of 127.0.0.1, waits until it answers
// with its SSH banner, and registers its shutdown with t.Cleanup.
//
// sshd runs as the current user, with no PAM (UsePAM no), StrictModes no
// (the temporary directory's modes do not matter), public key
// authentication only, and the SFTP subsystem built in (scp uses SFTP
// since OpenSSH 9). Sessions get SHLVL=1 so that the user's ~/.bashrc is
// not run (see isolateShell). Running as root, sshd insists on its privilege
// separation directory /run/sshd; Start creates it when it is missing, as
// Debian's service unit does.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Options{})
}

// Options change what Start sets up.
type Options struct {
	// HostCA, when set, signs the server's host key: sshd presents the
	// certificate (HostCertificate), valid for HostPrincipals, forever.
	// KnownHosts still holds the plain key; StartCertified makes the CA
	// and a known_hosts that trusts only it.
	HostCA ssh.Signer
	// HostPrincipals are the certificate's principals.
	HostPrincipals []string
	// MaxStartups is how many connections sshd lets wait for their
	// authentication at once before it drops new ones (sshd_config
	// MaxStartups, given as one number: no random early drop); 0 keeps
	// 200. A benchmark connecting to many names at once raises it.
	MaxStartups int
	// MaxSessions is how many sessions one connection may open at once;
	// 0 keeps 50.
	MaxSessions int
	// KexAlgorithms, when set, is the only key exchange sshd offers (its
	// sshd_config KexAlgorithms) and the one ClientHostBlock asks for, so
	// that every client, whatever it prefers, negotiates the same one.
	KexAlgorithms string
}

// StartWith is Start with options.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	if err := available(); err != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("sshdtest: %v (and %s=1)", err, RequireEnv)
		}
		t.Skipf("sshdtest: %v", err)
	}
	s, err := start(t.TempDir(), opts)
	if err != nil {
		t.Fatalf("sshdtest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("sshdtest: %v", err)
		}
	})
	return s
}

// available reports why sshd cannot run here, or nil.
func available() error {
	if _, err := os.Stat(SSHD); err != nil {
		return fmt.Errorf("sshd not installed (%v); apt-get install openssh-server", err)
	}
	if _, err := osexec.LookPath("ssh-keygen"); err != nil {
		return fmt.Errorf("ssh-keygen not installed: %v", err)
	}
	return nil
}

func start(dir string, opts Options) (*Server, error) {
	u, err := user.Current()
	if err != nil {
		return nil, err
	}
	s := &Server{
		User:           u.Username,
		Dir:            dir,
		ClientConfig:   filepath.Join(dir, "ssh_config"),
		ClientKey:      filepath.Join(dir, "id_ed25519"),
		KnownHosts:     filepath.Join(dir, "known_hosts"),
		AuthorizedKeys: filepath.Join(dir, "authorized_keys"),
		Log:            filepath.Join(dir, "sshd.log"),
		opts:           opts,
	}
	hostKey := filepath.Join(dir, "ssh_host_ed25519_key")
	for _, k := range []string{hostKey, s.ClientKey} {
		out, err := osexec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fleetsh-sshdtest", "-f", k).CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("ssh-keygen %s: %v: %s", k, err, out)
		}
	}
	pub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		return nil, err
	}
	f := strings.Fields(string(pub))
	if len(f) < 2 {
		return nil, fmt.Errorf("bad host key %q", pub)
	}
	s.HostKey = f[0] + " " + f[1]
	if opts.HostCA != nil {
		if err := certifyHostKey(hostKey, pub, opts); err != nil {
			return nil, err
		}
		s.hostCert = hostKey + "-cert.pub"
	}
	if err := copyFile(s.ClientKey+".pub", s.AuthorizedKeys); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			return nil, fmt.Errorf("privilege separation directory: %w", err)
		}
	}
	// Another process can take the port between our probe and sshd's
	// bind: try a few ports.
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		if lastErr = s.run(port, hostKey); lastErr == nil {
			return s, s.writeClientFiles()
		}
	}
	return nil, lastErr
}

// certifyHostKey writes hostKey's certificate, signed by opts.HostCA, to
// hostKey-cert.pub, as "ssh-keygen -s ca -h" would.
func certifyHostKey(hostKey string, pub []byte, opts Options) error {
	key, _, _, _, err := ssh.ParseAuthorizedKey(pub)
	if err != nil {
		return fmt.Errorf("host key: %w", err)
	}
	cert := &ssh.Certificate{
		Key:             key,
		CertType:        ssh.HostCert,
		KeyId:           "fleetsh-sshdtest",
		ValidPrincipals: opts.HostPrincipals,
		ValidBefore:     ssh.CertTimeInfinity,
	}
	if err := cert.SignCert(rand.Reader, opts.HostCA); err != nil {
		return fmt.Errorf("host certificate: %w", err)
	}
	return os.WriteFile(hostKey+"-cert.pub", ssh.MarshalAuthorizedKey(cert), 0o644)
}

// freePort returns a port of 127.0.0.1 nobody listens on right now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// isolateShell keeps the user's shell startup files out of test sessions.
// bash sources ~/.bashrc for a command run by sshd only when it is a
// top-level shell (SHLVL unset or 0); SHLVL=1 makes it the second level.
// Test commands then do not depend on a developer's dotfiles, and Close
// cannot leave one of them half done (killing a session in the middle of
// a .bashrc's "pyenv rehash" left pyenv's lock file behind, and every later
// shell of that user waited 60 s for it).
const isolateShell = "SetEnv SHLVL=1\n"

func (s *Server) run(port int, hostKey string) error {
	s.Port = port
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cfg := filepath.Join(s.Dir, "sshd_config")
	conf := fmt.Sprintf(`# fleetsh sshdtest
Port %d
ListenAddress 127.0.0.1
AddressFamily inet
HostKey %s
PidFile %s
AuthorizedKeysFile %s
UsePAM no
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers %s
LogLevel VERBOSE
Subsystem sftp internal-sftp
MaxStartups %d
MaxSessions %d
PrintMotd no
UseDNS no
%s`, port, hostKey, filepath.Join(s.Dir, "sshd.pid"), s.AuthorizedKeys, s.User,
		cmp.Or(s.opts.MaxStartups, 200), cmp.Or(s.opts.MaxSessions, 50), isolateShell)
	if s.opts.KexAlgorithms != "" {
		conf += "KexAlgorithms " + s.opts.KexAlgorithms + "\n"
	}
	if s.hostCert != "" {
		conf = "HostCertificate " + s.hostCert + "\n" + conf
	}
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		return err
	}
	// SetEnv needs OpenSSH 8.7; older servers run without it.
	if out, err := osexec.Command(SSHD, "-t", "-f", cfg).CombinedOutput(); err != nil {
		if !strings.Contains(string(out), "SetEnv") {
			return fmt.Errorf("sshd -t: %v: %s", err, out)
		}
		conf = strings.Replace(conf, isolateShell, "", 1)
		if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
			return err
		}
	}
	log, err := os.OpenFile(s.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	// -D: stay in the foreground so that we own the PID; -e: log to
	// stderr, which is the log file.
	cmd := osexec.Command(SSHD, "-D", "-e", "-f", cfg)
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group keeps terminal signals of the test run away.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", SSHD, err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(s.exited) }()
	if err := s.waitReady(10 * time.Second); err != nil {
		s.Close()
		return fmt.Errorf("%w; sshd log:\n%s", err, s.Logs())
	}
	return nil
}

// waitReady waits until sshd sends its banner on Addr.
func (s *Server) waitReady(d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("sshd exited: %v", s.cmd.ProcessState)
		default:
		}
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(2 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if err == nil && strings.HasPrefix(line, "SSH-2.0-") {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("sshd not answering on %s after %v", s.Addr, d)
}

func (s *Server) writeClientFiles() error {
	known := fmt.Sprintf("[127.0.0.1]:%d %s\n", s.Port, s.HostKey)
	if err := os.WriteFile(s.KnownHosts, []byte(known), 0o600); err != nil {
		return err
	}
	// ssh refuses a config file others can write; 0600 it is.
	conf := "# fleetsh sshdtest client\n" + s.ClientHostBlock("*")
	return os.WriteFile(s.ClientConfig, []byte(conf), 0o600)
}

// ClientHostBlock is the ssh_config(5) block that sends the hosts matching
// patterns (a Host line's) to this server as its user and key, checking its
// host key, without prompts or shared connections, with the key exchange
// of Options.KexAlgorithms when that is set.
func (s *Server) ClientHostBlock(patterns string) string {
	kex := ""
	if s.opts.KexAlgorithms != "" {
		kex = "\tKexAlgorithms " + s.opts.KexAlgorithms + "\n"
	}
	return fmt.Sprintf(`Host %s
	HostName 127.0.0.1
	Port %d
	User %s
	IdentityFile %s
	IdentitiesOnly yes
	UserKnownHostsFile %s
	GlobalKnownHostsFile /dev/null
	StrictHostKeyChecking yes
	BatchMode yes
	ControlMaster no
	ControlPath none
	LogLevel ERROR
`, patterns, s.Port, s.User, s.ClientKey, s.KnownHosts) + kex
}

// SSHOptions returns "-F <ClientConfig>", the ssh_options (or
// PDSH_SSH_ARGS) that point the OpenSSH client at this server.
func (s *Server) SSHOptions() string { return "-F " + s.ClientConfig }

// PID is the process id of sshd's listener, the parent of every
// connection's processes.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Logs returns what sshd logged so far.
func (s *Server) Logs() string {
	b, _ := os.ReadFile(s.Log)
	return string(b)
}

// Close stops sshd: it kills with SIGKILL the per-connection processes
// sshd started and everything its sessions run, then sends SIGTERM to sshd
// itself and waits for it, with SIGKILL after 5 seconds.
//
// Session processes are found two ways, because a remote command outlives
// its connection when the client goes away (no terminal, no SIGHUP: a
// cancelled "sleep 100" runs on, re-parented to init): through /proc's
// parent links below sshd, and by their SSH_CONNECTION variable, which
// names this server's port. Both only ever find processes this server
// started. Close is idempotent.
func (s *Server) Close() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	select {
	case <-s.exited:
		return nil
	default:
	}
	pid := s.cmd.Process.Pid
	for _, child := range append(exec.Descendants(pid), s.sessionProcesses()...) {
		syscall.Kill(child, syscall.SIGKILL)
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
		return errors.New("sshd did not stop on SIGTERM")
	}
	return nil
}

// sessionProcesses returns the processes whose environment says they run
// in a session of this server: SSH_CONNECTION="<client> <port> 127.0.0.1
// <Port>".
func (s *Server) sessionProcesses() []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	suffix := " 127.0.0.1 " + strconv.Itoa(s.Port)
	var out []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p == os.Getpid() {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue
		}
		for _, kv := range strings.Split(string(env), "\x00") {
			if v, ok := strings.CutPrefix(kv, "SSH_CONNECTION="); ok && strings.HasSuffix(v, suffix) {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600)
}

// SkipUnlessRequired skips t for reason (a missing ssh, scp or pdsh
// program), or fails it when RequireEnv is set: CI installs them all, so
// there a skip would hide a broken test.
func SkipUnlessRequired(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s, and %s=1", reason, RequireEnv)
	}
	t.Skip(reason)
}
