package sshdtest

import (
	"context"
	"net"
	"os"
	osexec "os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/pkg/workers/exec"
)

func TestStartAndRun(t *testing.T) {
	s := Start(t)
	if _, err := osexec.LookPath("ssh"); err != nil {
		SkipUnlessRequired(t, "ssh client not installed")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := osexec.CommandContext(ctx, "ssh", "-F", s.ClientConfig, "anynode", "echo hello; echo err >&2; exit 3").CombinedOutput()
	if ee, ok := err.(*osexec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("ssh: %v: %s\nlog:\n%s", err, out, s.Logs())
	}
	if string(out) != "hello\nerr\n" {
		t.Errorf("output %q", out)
	}
	// Strict host key checking is on: an empty known_hosts fails.
	out, err = osexec.CommandContext(ctx, "ssh", "-F", s.ClientConfig, "-oUserKnownHostsFile=/dev/null", "n", "true").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Host key verification failed.") {
		t.Errorf("unknown host key accepted: %v %s", err, out)
	}
	if !strings.Contains(s.Logs(), "Accepted publickey") {
		t.Errorf("log lacks the login:\n%s", s.Logs())
	}
}

func TestClose(t *testing.T) {
	s := Start(t)
	if _, err := osexec.LookPath("ssh"); err != nil {
		SkipUnlessRequired(t, "ssh client not installed")
	}
	// A session still running when the server closes is killed with it.
	cmd := osexec.Command("ssh", "-F", s.ClientConfig, "n", "sleep 100")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// A remote process that left its session: ssh returns at once, the
	// process lives on, re-parented to init.
	out, err := osexec.Command("ssh", "-F", s.ClientConfig, "n", "setsid sleep 100 </dev/null >/dev/null 2>&1 & echo $!").Output()
	if err != nil {
		t.Fatalf("ssh: %v", err)
	}
	orphan, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(orphan, syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for len(exec.Descendants(s.cmd.Process.Pid)) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("ssh session survived Close")
	}
	if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
		c.Close()
		t.Error("still listening after Close")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for syscall.Kill(orphan, 0) == nil && !zombie(orphan) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if syscall.Kill(orphan, 0) == nil && !zombie(orphan) {
		t.Errorf("orphaned session process %d survived Close", orphan)
	}
}

func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && i+2 < len(b) && b[i+2] == 'Z'
}

func TestKexAlgorithms(t *testing.T) {
	s := StartWith(t, Options{KexAlgorithms: "curve25519-sha256", MaxStartups: 300, MaxSessions: 70})
	if _, err := osexec.LookPath("ssh"); err != nil {
		SkipUnlessRequired(t, "ssh client not installed")
	}
	for _, want := range []string{"MaxStartups 300\n", "MaxSessions 70\n", "KexAlgorithms curve25519-sha256\n"} {
		if conf, _ := os.ReadFile(s.Dir + "/sshd_config"); !strings.Contains(string(conf), want) {
			t.Errorf("sshd_config lacks %q:\n%s", want, conf)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	// The client config asks for it: ssh -v names the one negotiated.
	out, err := osexec.CommandContext(ctx, "ssh", "-v", "-F", s.ClientConfig, "n", "true").CombinedOutput()
	if err != nil || !strings.Contains(strings.ReplaceAll(string(out), "\r", ""), "kex: algorithm: curve25519-sha256\n") {
		t.Errorf("ssh: %v:\n%s", err, out)
	}
	// The server offers nothing else, whatever the client prefers.
	out, err = osexec.CommandContext(ctx, "ssh", "-F", s.ClientConfig, "-oLogLevel=INFO",
		"-oKexAlgorithms=sntrup761x25519-sha512@openssh.com,diffie-hellman-group14-sha256", "n", "true").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no matching key exchange method found") {
		t.Errorf("another key exchange accepted: %v: %s", err, out)
	}
}
