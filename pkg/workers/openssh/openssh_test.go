package openssh

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/sshdtest"
	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

func TestArgs(t *testing.T) {
	t.Setenv("HOME", "/home/u")
	src := t.TempDir()
	for _, tc := range []struct {
		name string
		job  engine.Job
		want []string
	}{
		{"plain", engine.Job{Node: "node1", Command: "uname -r"},
			[]string{"ssh", "-oForwardAgent=no", "-oForwardX11=no", "-oBatchMode=yes", "node1", "uname -r"}},
		{"all", engine.Job{Node: "n", Command: "echo %h", ConnectTimeout: 15500 * time.Millisecond,
			Info: testutil.InfoMap(map[string]any{"ssh_path": "~/bin/ssh -q", "ssh_user": "admin", "ssh_options": "-i ~/.ssh/k -oPort=2222 -o 'ProxyJump gw'"})},
			[]string{"/home/u/bin/ssh", "-q", "-i", "/home/u/.ssh/k", "-oPort=2222", "-o", "ProxyJump gw", "-oForwardAgent=no", "-oForwardX11=no",
				"-l", "admin", "-oConnectTimeout=15", "-oBatchMode=yes", "n", "echo %h"}},
		{"copy", engine.Job{Node: "n1", ConnectTimeout: 10 * time.Second, Copy: &protocol.CopySpec{Source: "/etc/hosts", Dest: "/tmp/"},
			Info: testutil.InfoMap(map[string]any{"ssh_options": "-oA=b", "ssh_user": "u"})},
			[]string{"scp", "-oA=b", "-oConnectTimeout=10", "/etc/hosts", "u@[n1]:/tmp/"}},
		{"copy dir", engine.Job{Node: "n1", Copy: &protocol.CopySpec{Source: src, Dest: "/tmp", Preserve: true},
			Info: testutil.InfoMap(map[string]any{"ssh_options": "-oA=b", "scp_options": "-oC=d", "scp_user": "v", "ssh_user": "u", "scp_path": "/opt/scp"})},
			[]string{"/opt/scp", "-oC=d", "-r", "-p", src, "v@[n1]:/tmp"}},
		{"rcopy", engine.Job{Node: "n2", Copy: &protocol.CopySpec{Source: "/etc/hostname", Dest: "/back/hostname.n2", Reverse: true}},
			[]string{"scp", "-r", "[n2]:/etc/hostname", "/back/hostname.n2"}},
	} {
		got, err := Args(&tc.job)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: Args = %q, %v\nwant %q", tc.name, got, err, tc.want)
		}
	}
	for _, info := range []map[string]any{{"ssh_options": `-o "x`}, {"ssh_path": `'`}, {"ssh_path": " "}} {
		if _, err := Args(&engine.Job{Node: "n", Command: "x", Info: testutil.InfoMap(info)}); err == nil {
			t.Errorf("Args with %v: no error", info)
		}
	}
	res := New().Run(t.Context(), &engine.Job{Node: "n", Command: "x", Info: testutil.InfoMap(map[string]any{"ssh_options": `"`})})
	if engine.ReasonOf(res.Err) != engine.ReasonLocal || !strings.Contains(res.Err.Error(), "ssh_options") {
		t.Errorf("bad options: %+v", res)
	}
}

func TestClassify(t *testing.T) {
	for line, want := range map[string]engine.Reason{
		"ssh: connect to host 127.0.0.1 port 1: Connection refused":                         engine.ReasonConnectRefused,
		"ssh: Could not resolve hostname nohost.invalid: Name or service not known":         engine.ReasonDNS,
		"ssh: Could not resolve hostname x: Temporary failure in name resolution\r":         engine.ReasonDNS,
		"ssh: connect to host 10.0.0.1 port 22: Connection timed out":                       engine.ReasonConnectTimeout,
		"Connection timed out during banner exchange":                                       engine.ReasonConnectTimeout,
		"root@127.0.0.1: Permission denied (publickey).":                                    engine.ReasonAuth,
		"admin@node1: Permission denied (publickey,gssapi-keyex,gssapi-with-mic,password).": engine.ReasonAuth,
		"Host key verification failed.":                                                     engine.ReasonHostKeyUnknown,
		"@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @":                       engine.ReasonHostKeyChanged,
		"ssh: connect to host 10.0.0.1 port 22: No route to host":                           engine.ReasonConnect,
		"kex_exchange_identification: read: Connection reset by peer":                       engine.ReasonConnect,
		"Connection closed by 127.0.0.1 port 22":                                            engine.ReasonConnect,
		"hello":                                                                             "",
		"rm: cannot remove 'x': Permission denied":                                          "",
		"": "",
	} {
		if got := Classify(line); got != want {
			t.Errorf("Classify(%q) = %q, want %q", line, got, want)
		}
	}
	var c classifier
	for _, l := range []string{"@@@@@@@", "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @", "blah", "Host key verification failed."} {
		c.keep([]byte(l))
	}
	if r, msg := c.result(); r != engine.ReasonHostKeyChanged || !strings.HasPrefix(msg, "Host key verification failed.") {
		t.Errorf("changed key: %q %q", r, msg)
	}
}

// server starts sshd and returns it with the info the driver needs.
func server(t *testing.T) (*sshdtest.Server, map[string]any) {
	t.Helper()
	if _, err := osexec.LookPath("ssh"); err != nil {
		sshdtest.SkipUnlessRequired(t, "OpenSSH client not installed")
	}
	s := sshdtest.Start(t)
	return s, map[string]any{"ssh_options": s.SSHOptions()}
}

func runJob(ctx context.Context, job engine.Job, sepErr bool) testutil.JobOutput {
	return testutil.RunJob(ctx, New(), job, sepErr)
}

func TestSSHCommand(t *testing.T) {
	s, info := server(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	job := engine.Job{Node: "node1", Command: "echo out; echo err >&2; cat; exit 7",
		Stdin: strings.NewReader("from stdin\n"), ConnectTimeout: 10 * time.Second, Info: testutil.InfoMap(info)}
	r := runJob(ctx, job, true)
	if r.Res.Err != nil || r.Res.ExitCode != 7 {
		t.Fatalf("result %+v (stderr %q)\n%s", r.Res, r.Err, s.Logs())
	}
	if r.Out != "out\nfrom stdin\n" || r.Err != "err\n" {
		t.Errorf("stdout %q stderr %q", r.Out, r.Err)
	}
	want := "SSHCLIENT: ssh -F " + s.ClientConfig + " -oForwardAgent=no -oForwardX11=no -oConnectTimeout=10 -oBatchMode=yes node1 echo out; echo err >&2; cat; exit 7"
	if !slices.Equal(r.Debug, []string{want}) {
		t.Errorf("debug %q\nwant %q", r.Debug, want)
	}
	// Merged streams, no stdin, exit 0.
	job.Stdin, job.Command = nil, "echo a; echo b >&2; cat"
	r = runJob(ctx, job, false)
	if r.Res.Err != nil || r.Res.ExitCode != 0 || (r.Out != "a\nb\n" && r.Out != "b\na\n") {
		t.Errorf("merged: %+v %q", r.Res, r.Out)
	}
	// A remote exit 255 without an ssh message is only a status.
	job.Command = "exit 255"
	if r = runJob(ctx, job, true); r.Res.Err != nil || r.Res.ExitCode != 255 {
		t.Errorf("remote 255: %+v", r.Res)
	}
}

func TestSSHFailures(t *testing.T) {
	s, info := server(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	closed := testutil.RefusedPort(t)
	for _, tc := range []struct {
		name    string
		opts    string
		user    string
		reason  engine.Reason
		message string
	}{
		{"refused", fmt.Sprintf(" -oPort=%d", closed), "", engine.ReasonConnectRefused, fmt.Sprintf("ssh: connect to host 127.0.0.1 port %d: Connection refused", closed)},
		{"unknown host key", " -oUserKnownHostsFile=/dev/null", "", engine.ReasonHostKeyUnknown, "Host key verification failed."},
		{"changed host key", " -oUserKnownHostsFile=" + changedKnownHosts(t, s), "", engine.ReasonHostKeyChanged, "Host key verification failed."},
		{"auth", "", "fleetsh-nobody", engine.ReasonAuth, "fleetsh-nobody@127.0.0.1: Permission denied (publickey)."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inf := map[string]any{"ssh_options": info["ssh_options"].(string) + tc.opts, "ssh_user": tc.user}
			for _, sep := range []bool{true, false} {
				r := runJob(ctx, engine.Job{Node: "node1", Command: "echo never", Info: testutil.InfoMap(inf)}, sep)
				if engine.ReasonOf(r.Res.Err) != tc.reason || r.Res.ExitCode != 255 {
					t.Errorf("sep=%v: result %+v, want %q", sep, r.Res, tc.reason)
				}
				if r.Res.Err != nil && !strings.Contains(r.Res.Err.Error(), "node1: ") {
					t.Errorf("error %q does not name the node", r.Res.Err)
				}
				// OpenSSH's own lines reach the user unchanged.
				text := r.Err
				if !sep {
					text = r.Out
				}
				if !strings.Contains(text, tc.message+"\r\n") || strings.Contains(text, "never") { // OpenSSH ends its messages with CRLF
					t.Errorf("sep=%v: output %q lacks %q", sep, text, tc.message)
				}
			}
		})
	}
}

// changedKnownHosts writes a known_hosts file holding another key for the
// server's name.
func changedKnownHosts(t *testing.T, s *sshdtest.Server) string {
	dir := t.TempDir()
	k := filepath.Join(dir, "other")
	if out, err := osexec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", k).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	pub, _ := os.ReadFile(k + ".pub")
	f := strings.Fields(string(pub))
	p := filepath.Join(dir, "known_hosts")
	os.WriteFile(p, fmt.Appendf(nil, "[127.0.0.1]:%d %s %s\n", s.Port, f[0], f[1]), 0o600)
	return p
}

func TestSSHCancel(t *testing.T) {
	_, info := server(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan testutil.JobOutput, 1)
	go func() {
		done <- runJob(ctx, engine.Job{Node: "n", Command: "echo started; sleep 100", Info: testutil.InfoMap(info)}, true)
	}()
	time.Sleep(time.Second) // let the session start
	if r := testutil.CancelAndWait(t, cancel, done, 2*time.Second, 10*time.Second); engine.ReasonOf(r.Res.Err) != engine.ReasonAborted {
		t.Errorf("result %+v", r.Res)
	}
}

// mkTree makes root/src/{a, sub/b} with old times.
func mkTree(t *testing.T, root string) string {
	src := filepath.Join(root, "src")
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, f := range []string{"a", "sub/b"} {
		p := filepath.Join(src, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(f+"\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, old, old)
	}
	return src
}

func checkTree(t *testing.T, dir string) {
	t.Helper()
	for _, f := range []string{"a", "sub/b"} {
		p := filepath.Join(dir, f)
		b, err := os.ReadFile(p)
		if err != nil || string(b) != f+"\n" {
			t.Errorf("%s: %q %v", p, b, err)
			continue
		}
		if fi, _ := os.Stat(p); fi.ModTime().Year() != 2001 {
			t.Errorf("%s: time %v not preserved", p, fi.ModTime())
		}
	}
}

func TestSCPCopyAndRcopy(t *testing.T) {
	s, info := server(t)
	if _, err := osexec.LookPath("scp"); err != nil {
		sshdtest.SkipUnlessRequired(t, "scp not installed")
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	root := t.TempDir()
	src := mkTree(t, root)
	dst := filepath.Join(root, "dst")
	os.Mkdir(dst, 0o755)
	r := runJob(ctx, engine.Job{Node: "node1", Copy: &protocol.CopySpec{Source: src, Dest: dst, Preserve: true}, Info: testutil.InfoMap(info)}, true)
	if r.Res.Err != nil || r.Res.ExitCode != 0 {
		t.Fatalf("copy: %+v %q\n%s", r.Res, r.Err, s.Logs())
	}
	checkTree(t, filepath.Join(dst, "src"))
	want := "SCPCLIENT: scp -F " + s.ClientConfig + " -r -p " + src + " [node1]:" + dst
	if !slices.Equal(r.Debug, []string{want}) {
		t.Errorf("debug %q\nwant %q", r.Debug, want)
	}
	back := filepath.Join(root, "back")
	os.Mkdir(back, 0o755)
	for _, n := range []string{"node1", "node2"} {
		dest := filepath.Join(back, "src."+n)
		r = runJob(ctx, engine.Job{Node: n, Copy: &protocol.CopySpec{Source: src, Dest: dest, Reverse: true, Preserve: true}, Info: testutil.InfoMap(info)}, true)
		if r.Res.Err != nil || r.Res.ExitCode != 0 {
			t.Fatalf("rcopy %s: %+v %q", n, r.Res, r.Err)
		}
		checkTree(t, dest)
	}
	// A missing source is a copy failure without a connection reason.
	r = runJob(ctx, engine.Job{Node: "n", Copy: &protocol.CopySpec{Source: "/nonexistent/x", Dest: back + "/x.n", Reverse: true}, Info: testutil.InfoMap(info)}, true)
	if r.Res.ExitCode == 0 || r.Res.Err != nil || r.Err == "" {
		t.Errorf("missing source: %+v %q", r.Res, r.Err)
	}
	// A refused connection is.
	inf := map[string]any{"scp_options": s.SSHOptions() + " -oPort=1"}
	r = runJob(ctx, engine.Job{Node: "n", Copy: &protocol.CopySpec{Source: src, Dest: "/tmp"}, Info: testutil.InfoMap(inf)}, true)
	if engine.ReasonOf(r.Res.Err) != engine.ReasonConnectRefused || r.Res.ExitCode == 0 {
		t.Errorf("refused copy: %+v %q", r.Res, r.Err)
	}
}

func TestSSHMissingBinary(t *testing.T) {
	r := runJob(t.Context(), engine.Job{Node: "n", Command: "x", Info: testutil.InfoMap(map[string]any{"ssh_path": "/nonexistent/ssh"})}, true)
	if r.Res.ExitCode != 255 || engine.ReasonOf(r.Res.Err) != engine.ReasonLocal {
		t.Errorf("%+v", r.Res)
	}
}

type hashWriter struct {
	h interface{ Write([]byte) (int, error) }
	n int64
}

func (w *hashWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return w.h.Write(p) }

// TestSSHLargeBinaryOutput sends 100 MB of random bytes from one node
// through ssh and checks them against the remote sha256.
func TestSSHLargeBinaryOutput(t *testing.T) {
	_, info := server(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	h := sha256.New()
	hw := &hashWriter{h: h}
	var errb bytes.Buffer
	job := engine.Job{Node: "node1", ConnectTimeout: 10 * time.Second, Info: testutil.InfoMap(info), Stdout: hw, Stderr: &errb,
		Command: "f=$(mktemp); head -c 104857600 /dev/urandom > $f; sha256sum < $f | cut -c1-64 >&2; cat $f; rm -f $f"}
	res := New().Run(ctx, &job)
	if res.Err != nil || res.ExitCode != 0 || hw.n != 100<<20 {
		t.Fatalf("result %+v, %d bytes, stderr %q", res, hw.n, errb.String())
	}
	if got, want := fmt.Sprintf("%x", h.Sum(nil)), strings.TrimSpace(errb.String()); got != want {
		t.Fatalf("sha256 %s, remote %s", got, want)
	}
}

// TestCraftedNodeName: ssh would read "-oProxyCommand=..." as an option
// and run it; such names (and names with shell syntax) are refused
// before ssh starts.
func TestCraftedNodeName(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "injected")
	fake := filepath.Join(t.TempDir(), "ssh")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\ntouch "+marker+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	info := testutil.InfoMap(map[string]any{"ssh_path": fake})
	for _, n := range []string{"-oProxyCommand=touch " + marker, "a;id", "a`id`"} {
		var out bytes.Buffer
		res := New().Run(t.Context(), &engine.Job{Node: n, Command: "true", Info: info, Stdout: &out})
		if engine.ReasonOf(res.Err) != engine.ReasonLocal || !strings.Contains(res.Err.Error(), "hostname contains invalid characters") {
			t.Errorf("%q: %+v", n, res)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("ssh ran for a crafted node name")
	}
}

// TestSSHHostCertificate: ssh itself checks @cert-authority lines; the
// driver passes the user's known_hosts handling (here ssh_options -F)
// through, and reports ssh's refusal as a host key failure.
func TestSSHHostCertificate(t *testing.T) {
	if _, err := osexec.LookPath("ssh"); err != nil {
		sshdtest.SkipUnlessRequired(t, "OpenSSH client not installed")
	}
	for _, tc := range []struct {
		principals []string
		ok         bool
	}{{[]string{"127.0.0.1"}, true}, {[]string{"node9.example"}, false}} {
		s := sshdtest.StartCertified(t, tc.principals...)
		job := engine.Job{Node: "node1", Command: "echo ran", ConnectTimeout: 10 * time.Second,
			Info: testutil.InfoMap(map[string]any{"ssh_options": s.SSHOptions()})}
		r := runJob(t.Context(), job, true)
		if tc.ok {
			if r.Res.Err != nil || r.Res.ExitCode != 0 || r.Out != "ran\n" {
				t.Fatalf("%+v stdout %q stderr %q", r.Res, r.Out, r.Err)
			}
			continue
		}
		if engine.ReasonOf(r.Res.Err) != engine.ReasonHostKeyUnknown || r.Out != "" || !strings.Contains(r.Err, "name is not a listed principal") {
			t.Fatalf("principals %q: %+v stderr %q", tc.principals, r.Res, r.Err)
		}
	}
}
