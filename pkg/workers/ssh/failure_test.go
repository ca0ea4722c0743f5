package ssh

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/fleetsh/fleetsh/internal/sshtest"
	"github.com/fleetsh/fleetsh/pkg/engine"
)

func TestRefusedPort(t *testing.T) {
	e := sshtest.NewEnv(t)
	port := closedPort(t)
	if err := e.AddConfig("Host dead", "    HostName 127.0.0.1", fmt.Sprintf("    Port %d", port)); err != nil {
		t.Fatal(err)
	}
	d := testDriver(t, e)
	jr := newJob("dead", "true")
	wantFailure(t, jr, jr.run(t, d), engine.ReasonConnectRefused,
		fmt.Sprintf("ssh: connect to host 127.0.0.1 port %d: Connection refused", port))

	// Merged streams: the message goes to stdout.
	jr = newJob("dead", "true")
	jr.job.Stderr = nil
	res := jr.run(t, d)
	if engine.ReasonOf(res.Err) != engine.ReasonConnectRefused || !strings.HasPrefix(jr.stdout.String(), "ssh: connect to host 127.0.0.1") {
		t.Fatalf("merged: %v, stdout %q", res.Err, jr.stdout)
	}
}

// startNXDomain serves DNS on 127.0.0.1 answering every query with
// NXDOMAIN, so that name resolution failures are tested without asking
// any real resolver.
func startNXDomain(t testing.TB) *net.Resolver {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := buf[:n]
			if n < 12 {
				continue
			}
			// Header, then the question (name labels, type, class).
			end := 12
			for end < n && q[end] != 0 {
				end += int(q[end]) + 1
			}
			end += 5
			if end > n {
				continue
			}
			resp := make([]byte, end)
			copy(resp, q[:end])
			flags := binary.BigEndian.Uint16(q[2:4])
			binary.BigEndian.PutUint16(resp[2:4], 0x8000|flags&0x7900|0x0080|3) // QR, opcode, RD, RA, NXDOMAIN
			binary.BigEndian.PutUint16(resp[6:8], 0)
			binary.BigEndian.PutUint16(resp[8:10], 0)
			binary.BigEndian.PutUint16(resp[10:12], 0)
			_, _ = pc.WriteTo(resp, addr)
		}
	})
	t.Cleanup(func() {
		pc.Close()
		wg.Wait()
	})
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

func TestUnresolvableHost(t *testing.T) {
	e := sshtest.NewEnv(t)
	d := testDriver(t, e)
	d.Resolver = startNXDomain(t)
	jr := newJob("nohost.invalid", "true")
	wantFailure(t, jr, jr.run(t, d), engine.ReasonDNS,
		"ssh: Could not resolve hostname nohost.invalid: Name or service not known")
}

func TestAuthFailure(t *testing.T) {
	s, e := sshtest.StartNodes(t, sshtest.Config{}, "node1")
	s.SetRejectAuth(true)
	d := testDriver(t, e)
	jr := newJob("node1", "true")
	wantFailure(t, jr, jr.run(t, d), engine.ReasonAuth,
		localUser()+"@127.0.0.1: Permission denied (publickey).")

	// ssh_user names the user in the message, as it does in ssh's.
	jr = newJob("node1", "true")
	jr.info["ssh_user"] = "bob"
	wantFailure(t, jr, jr.run(t, d), engine.ReasonAuth, "bob@127.0.0.1: Permission denied (publickey).")

	// Auth failures are not retried: the server answered.
	if n := s.Stats().Conns; n != 2 {
		t.Fatalf("%d connections, want 2 (no retry)", n)
	}
}

func TestWrongKey(t *testing.T) {
	_, e := sshtest.StartNodes(t, sshtest.Config{}, "node1")
	other, err := sshtest.GenerateClientKey()
	if err != nil {
		t.Fatal(err)
	}
	path := e.Dir + "/other"
	if err := other.WriteFiles(path); err != nil {
		t.Fatal(err)
	}
	d := testDriver(t, e)
	jr := newJob("node1", "true")
	jr.info["ssh_options"] = "-oIdentitiesOnly=yes -i " + path
	// IdentityFile accumulates: -i comes first, then the config's key,
	// which works.
	wantCode(t, jr, jr.run(t, d), 0)

	// With only the unknown key (a config naming no IdentityFile).
	cfg := e.Dir + "/bare_config"
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "Host node1\n HostName 127.0.0.1\n Port %d\n IdentityAgent none\n UserKnownHostsFile %s\n",
		portOf(t, e, "node1"), e.KnownHostsPath), 0o600); err != nil {
		t.Fatal(err)
	}
	jr = newJob("node1", "true")
	jr.info["ssh_options"] = "-F " + cfg + " -i " + path
	wantFailure(t, jr, jr.run(t, d), engine.ReasonAuth, localUser()+"@127.0.0.1: Permission denied (publickey).")
}

// portOf reads node's port back from the Env's config.
func portOf(t testing.TB, e *sshtest.Env, node string) int {
	rs := &resolver{d: &Driver{}, job: newJob(node, "").job, cl: &cmdLine{}, configPath: e.ConfigPath, configSet: true, localUser: "x"}
	tg, err := rs.resolve(node, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tg.Port
}

func TestUnknownHostKey(t *testing.T) {
	s, e := sshtest.StartNodes(t, sshtest.Config{}, "node1")
	if err := os.WriteFile(e.KnownHostsPath, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d := testDriver(t, e)
	name := fmt.Sprintf("[127.0.0.1]:%d", s.Port())

	jr := newJob("node1", "true")
	wantFailure(t, jr, jr.run(t, d), engine.ReasonHostKeyUnknown,
		"No ED25519 host key is known for "+name+" and you have requested strict checking.",
		"Host key verification failed.")

	jr = newJob("node1", "true")
	jr.info["ssh_strict_host_key_checking"] = "ask"
	wantFailure(t, jr, jr.run(t, d), engine.ReasonHostKeyUnknown, "Host key verification failed.")

	// LogLevel FATAL keeps only the last line, as with ssh.
	jr = newJob("node1", "true")
	jr.info["ssh_options"] = "-o LogLevel=FATAL"
	wantFailure(t, jr, jr.run(t, d), engine.ReasonHostKeyUnknown, "Host key verification failed.")

	// -q: nothing at all.
	jr = newJob("node1", "true")
	jr.info["ssh_options"] = "-q"
	res := jr.run(t, d)
	if engine.ReasonOf(res.Err) != engine.ReasonHostKeyUnknown || jr.stderr.String() != "" {
		t.Fatalf("-q: %v, stderr %q", res.Err, jr.stderr)
	}
}

func TestChangedHostKey(t *testing.T) {
	s, e := sshtest.StartNodes(t, sshtest.Config{}, "node1")
	impostor := sshtest.Start(t, sshtest.Config{})
	name := fmt.Sprintf("[127.0.0.1]:%d", s.Port())
	// known_hosts holds another server's key under node1's name.
	if err := os.WriteFile(e.KnownHostsPath, []byte("# comment\n"+impostor.KnownHostsLine(name)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := testDriver(t, e)
	banner := []string{
		"@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
		"@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @",
		"@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
		"IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!",
		"Someone could be eavesdropping on you right now (man-in-the-middle attack)!",
		"It is also possible that a host key has just been changed.",
		"The fingerprint for the ED25519 key sent by the remote host is",
		fingerprint(s) + ".",
		"Please contact your system administrator.",
		"Add correct host key in " + e.KnownHostsPath + " to get rid of this message.",
		"Offending ED25519 key in " + e.KnownHostsPath + ":2",
		"  remove with:",
		"  ssh-keygen -f \"" + e.KnownHostsPath + "\" -R \"" + name + "\"",
	}
	for _, strict := range []string{"yes", "accept-new", "ask"} {
		jr := newJob("node1", "true")
		jr.info["ssh_strict_host_key_checking"] = strict
		wantFailure(t, jr, jr.run(t, d), engine.ReasonHostKeyChanged, append(banner,
			"Host key for "+name+" has changed and you have requested strict checking.",
			"Host key verification failed.")...)
	}
	// StrictHostKeyChecking=no: the warning, and the command runs.
	jr := newJob("node1", "echo ran")
	jr.info["ssh_strict_host_key_checking"] = false
	wantCode(t, jr, jr.run(t, d), 0)
	want := strings.Join(append(banner,
		"Password authentication is disabled to avoid man-in-the-middle attacks.",
		"Keyboard-interactive authentication is disabled to avoid man-in-the-middle attacks."), "\n") + "\n"
	if jr.stderr.String() != want || jr.stdout.String() != "ran\n" {
		t.Fatalf("no: stdout %q stderr:\n%s", jr.stdout, jr.stderr)
	}
}

func fingerprint(s *sshtest.Server) string {
	return gossh.FingerprintSHA256(s.HostKey())
}

func TestAcceptNew(t *testing.T) {
	names := sshtest.NodeNames("node", 16)
	s, e := sshtest.StartNodes(t, sshtest.Config{}, names...)
	if err := os.WriteFile(e.KnownHostsPath, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d := testDriver(t, e)
	name := fmt.Sprintf("[127.0.0.1]:%d", s.Port())
	acceptNewOnce(t, s, e, d, names)
	// A fresh driver (another process) now knows the host with strict
	// checking.
	jr := newJob("node1", "true")
	wantCode(t, jr, jr.run(t, testDriver(t, e)), 0)

	// And the key changing is refused under accept-new.
	other := sshtest.Start(t, sshtest.Config{})
	if err := os.WriteFile(e.KnownHostsPath, []byte(other.KnownHostsLine(name)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	jr = newJob("node1", "true")
	jr.info["ssh_strict_host_key_checking"] = "accept-new"
	wantFailure(t, jr, jr.run(t, d), engine.ReasonHostKeyChanged)
}

// acceptNewOnce runs true on names with accept-new, all at once, then on
// the first name again: all the nodes share one host name and key, so
// the key must be added once, whichever job sees it first, with one
// warning, and all of them must run.
func acceptNewOnce(t *testing.T, s *sshtest.Server, e *sshtest.Env, d *Driver, names []string) {
	t.Helper()
	var mu sync.Mutex
	var warnings []string
	run := func(n string) {
		jr := newJob(n, "true")
		jr.info["ssh_strict_host_key_checking"] = "accept-new"
		res := jr.run(t, d)
		if res.Err != nil || res.ExitCode != 0 {
			t.Errorf("%s: %d %v %s", n, res.ExitCode, res.Err, jr.stderr)
		}
		if got := jr.stderr.String(); got != "" {
			mu.Lock()
			warnings = append(warnings, got)
			mu.Unlock()
		}
	}
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Go(func() { run(n) })
	}
	wg.Wait()
	run(names[0])
	want := fmt.Sprintf("Warning: Permanently added '[127.0.0.1]:%d' (ED25519) to the list of known hosts.\n", s.Port())
	if len(warnings) != 1 || warnings[0] != want {
		t.Fatalf("warnings %q, want one %q", warnings, want)
	}
	data, err := os.ReadFile(e.KnownHostsPath)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(data); got != s.KnownHostsLine()+"\n" {
		t.Fatalf("known_hosts:\n%q\nwant\n%q", got, s.KnownHostsLine()+"\n")
	}
}

func TestAcceptNewHashed(t *testing.T) {
	s, e := sshtest.StartNodes(t, sshtest.Config{}, "node1")
	if err := os.WriteFile(e.KnownHostsPath, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	d := testDriver(t, e)
	jr := newJob("node1", "true")
	jr.info["ssh_options"] = "-o StrictHostKeyChecking=accept-new -o HashKnownHosts=yes"
	wantCode(t, jr, jr.run(t, d), 0)
	data, _ := os.ReadFile(e.KnownHostsPath)
	if !strings.HasPrefix(string(data), "|1|") || strings.Contains(string(data), fmt.Sprint(s.Port())) {
		t.Fatalf("known_hosts not hashed: %q", data)
	}
	jr = newJob("node1", "true")
	wantCode(t, jr, jr.run(t, testDriver(t, e)), 0)
}

func TestBlackholedConnect(t *testing.T) {
	s, d, jr := stalledJob(t)
	start := time.Now()
	res := jr.run(t, d)
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("connect timeout took %v", took)
	}
	wantFailure(t, jr, res, engine.ReasonConnectTimeout,
		"Connection timed out during banner exchange",
		fmt.Sprintf("Connection to 127.0.0.1 port %d timed out", s.Port()))
	// A timeout is not retried: the time is spent.
	if n := s.Stats().Conns; n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}

	// ConnectTimeout from ssh_options wins over the job's, as
	// -oConnectTimeout before ClusterShell's own.
	jr = newJob("node1", "true")
	jr.job.ConnectTimeout = time.Hour
	jr.info["ssh_options"] = "-oConnectTimeout=1"
	start = time.Now()
	res = jr.run(t, d)
	if took := time.Since(start); took < time.Second || took > 4*time.Second {
		t.Fatalf("ConnectTimeout=1 took %v", took)
	}
	wantFailure(t, jr, res, engine.ReasonConnectTimeout)
}

func TestPreAuthDropRetried(t *testing.T) {
	s, _, d := startNode1(t)
	s.DropKex(2)
	jr := newJob("node1", "echo survived")
	wantCode(t, jr, jr.run(t, d), 0)
	if jr.stdout.String() != "survived\n" || jr.stderr.String() != "" {
		t.Fatalf("stdout %q stderr %q", jr.stdout, jr.stderr)
	}
	if st := s.Stats(); st.Dropped != 2 || st.Execs != 1 {
		t.Fatalf("stats %+v", st)
	}
	if n := strings.Count(jr.debug.String(), "retry "); n != 2 {
		t.Fatalf("%d retry debug lines, want 2:\n%s", n, jr.debug)
	}

	// Retries run out: the last failure is reported.
	s.DropKex(100)
	jr = newJob("node1", "true")
	wantFailure(t, jr, jr.run(t, d), engine.ReasonConnect,
		fmt.Sprintf("Connection reset by 127.0.0.1 port %d", s.Port()))
	if st := s.Stats(); st.Dropped != 2+1+defaultRetries {
		t.Fatalf("dropped %d, want %d", st.Dropped, 2+1+defaultRetries)
	}

	// Retries: -1 disables them.
	d.Retries = -1
	before := s.Stats().Dropped
	jr = newJob("node1", "true")
	wantFailure(t, jr, jr.run(t, d), engine.ReasonConnect)
	if got := s.Stats().Dropped - before; got != 1 {
		t.Fatalf("dropped %d with Retries -1, want 1", got)
	}
}

func TestBadOptions(t *testing.T) {
	_, _, d := startNode1(t)
	for opts, want := range map[string]string{
		"-A":                               `ssh_options: unsupported option "-A": `,
		"-oCompression=yes":                `ssh_options: unsupported option "-o Compression=yes": `,
		"-o ForwardAgent=yes":              `ssh_options: unsupported option "-o ForwardAgent=yes": `,
		"-p notaport":                      `ssh_options: -p notaport: Bad port 'notaport'`,
		"-o Port=70000":                    `ssh_options: -o Port=70000: Bad port '70000'`,
		"node2":                            `ssh_options: unexpected argument "node2"`,
		"-i":                               `ssh_options: option -i needs an argument`,
		"'-o StrictHostKeyChecking=maybe'": `unsupported StrictHostKeyChecking value "maybe"`,
		"-o 'unbalanced":                   `No closing quotation`,
	} {
		jr := newJob("node1", "true")
		jr.info["ssh_options"] = opts
		res := jr.run(t, d)
		if res.ExitCode != ExitSSHError || engine.ReasonOf(res.Err) != engine.ReasonLocal || !strings.Contains(res.Err.Error(), want) {
			t.Errorf("%s: %d %v, want local error with %q", opts, res.ExitCode, res.Err, want)
		}
		if !strings.Contains(jr.stderr.String(), want) {
			t.Errorf("%s: stderr %q lacks %q", opts, jr.stderr, want)
		}
	}
	// The rejection names the alternative.
	jr := newJob("node1", "true")
	jr.info["ssh_options"] = "-X"
	res := jr.run(t, d)
	if !strings.Contains(res.Err.Error(), "use the openssh worker") {
		t.Fatalf("%v", res.Err)
	}
}

func TestSSHOptionsApplied(t *testing.T) {
	s, e := sshtest.StartNodes(t, sshtest.Config{}, "node1")
	d := &Driver{Home: t.TempDir(), Config: "none"} // no config at all
	jr := newJob("anything", "echo $0 ok")
	jr.info["ssh_options"] = fmt.Sprintf("-p %d -i %s -o HostName=127.0.0.1 -oUserKnownHostsFile=%s -o IdentityAgent=none -l someone",
		s.Port(), e.KeyPath, e.KnownHostsPath)
	wantCode(t, jr, jr.run(t, d), 0)
	if !strings.Contains(jr.debug.String(), fmt.Sprintf("someone@127.0.0.1:%d", s.Port())) {
		t.Fatalf("debug: %s", jr.debug)
	}
	// -F from ssh_options, and the info key ssh_config.
	jr = newJob("node1", "true")
	jr.info["ssh_options"] = "-F " + e.ConfigPath
	wantCode(t, jr, jr.run(t, d), 0)
	jr = newJob("node1", "true")
	jr.info["ssh_config"] = e.ConfigPath
	wantCode(t, jr, jr.run(t, d), 0)
	// A missing -F file fails like ssh.
	jr = newJob("node1", "true")
	jr.info["ssh_options"] = "-F /nonexistent/config"
	wantFailure(t, jr, jr.run(t, d), engine.ReasonLocal,
		"Can't open user config file /nonexistent/config: No such file or directory")
}

func TestKnownHostsLeniency(t *testing.T) {
	s, e := sshtest.StartNodes(t, sshtest.Config{}, "node1")
	// A malformed line does not spoil the others, as with OpenSSH.
	writeFile(t, e.KnownHostsPath, "garbage line here\n"+s.KnownHostsLine()+"\n")
	d := testDriver(t, e)
	jr := newJob("node1", "true")
	wantCode(t, jr, jr.run(t, d), 0)

	// The common "never check" options.
	writeFile(t, e.KnownHostsPath, "")
	for range 2 {
		jr = newJob("node1", "echo ok")
		jr.info["ssh_options"] = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
		wantCode(t, jr, jr.run(t, d), 0)
		if jr.stdout.String() != "ok\n" {
			t.Fatalf("stdout %q", jr.stdout)
		}
	}
	if b, _ := os.ReadFile(e.KnownHostsPath); len(b) != 0 {
		t.Fatalf("known_hosts written: %q", b)
	}
}
