package ssh

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/sshdtest"
	"github.com/fleetsh/fleetsh/internal/sshtest"
	"github.com/fleetsh/fleetsh/pkg/engine"
)

func TestProxyJump(t *testing.T) {
	jump1, e := sshtest.StartNodes(t, sshtest.Config{}, "jump1")
	jump2 := sshtest.Start(t, sshtest.Config{})
	target := sshtest.Start(t, sshtest.Config{})
	for s, names := range map[*sshtest.Server][]string{jump2: {"jump2"}, target: {"node1", "node2", "node3", "node4"}} {
		if err := e.AddNodes(s, names...); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.AddConfig(
		"Host node1", "    ProxyJump jump1",
		"Host node2", "    ProxyJump jump1,jump2",
		// node3's jump host has its own ProxyJump, which is followed.
		"Host node3", "    ProxyJump jump2",
		"Host jump2", "    ProxyJump jump1",
		"Host !node4 node*", "    User nobody-should-be-used-here",
	); err != nil {
		t.Fatal(err)
	}
	d := testDriver(t, e)
	for _, tc := range []struct {
		node         string
		fwd1, fwd2   int // forwards opened by jump1 and jump2 so far
		wantViaDebug string
	}{
		{"node1", 1, 0, "via jump1"},
		{"node2", 2, 1, "via jump1,jump2"},
		{"node3", 3, 2, "via jump1,jump2"},
	} {
		jr := newJob(tc.node, "echo through")
		jr.info["ssh_user"] = localUser() // beats the config's User
		wantCode(t, jr, jr.run(t, d), 0)
		if jr.stdout.String() != "through\n" {
			t.Fatalf("%s: stdout %q", tc.node, jr.stdout)
		}
		if f1, f2 := jump1.Stats().Forwards, jump2.Stats().Forwards; f1 != tc.fwd1 || f2 != tc.fwd2 {
			t.Fatalf("%s: forwards %d, %d; want %d, %d", tc.node, f1, f2, tc.fwd1, tc.fwd2)
		}
		if !strings.Contains(jr.debug.String(), tc.wantViaDebug) {
			t.Fatalf("%s: debug %q", tc.node, jr.debug)
		}
	}

	// -J in ssh_options.
	jr := newJob("node4", "true")
	jr.info["ssh_options"] = "-J jump2"
	wantCode(t, jr, jr.run(t, d), 0)
	if f1, f2 := jump1.Stats().Forwards, jump2.Stats().Forwards; f1 != 4 || f2 != 3 {
		t.Fatalf("-J: forwards %d, %d; want 4, 3", f1, f2)
	}
}

func TestProxyJumpFailures(t *testing.T) {
	_, e := sshtest.StartNodes(t, sshtest.Config{}, "jump")
	port := closedPort(t)
	if err := e.AddConfig(
		"Host dead", "    HostName 127.0.0.1", fmt.Sprintf("    Port %d", port), "    ProxyJump jump",
		"Host deadjump", "    HostName 127.0.0.1", fmt.Sprintf("    Port %d", port),
		"Host behind-dead", "    ProxyJump deadjump",
	); err != nil {
		t.Fatal(err)
	}
	d := testDriver(t, e)
	jr := newJob("dead", "true")
	wantFailure(t, jr, jr.run(t, d), engine.ReasonConnectRefused,
		"channel 0: open failed: connect failed: Connection refused",
		"stdio forwarding failed",
		"kex_exchange_identification: Connection closed by remote host",
		"Connection closed by UNKNOWN port 65535")

	jr = newJob("behind-dead", "true")
	wantFailure(t, jr, jr.run(t, d), engine.ReasonConnectRefused,
		fmt.Sprintf("ssh: connect to host 127.0.0.1 port %d: Connection refused", port))

	jr = newJob("dead", "true")
	jr.info["ssh_options"] = "-J a,b,c,d,e,f,g,h,i"
	wantFailure(t, jr, jr.run(t, d), engine.ReasonLocal)
}

func TestProxyCommand(t *testing.T) {
	sshPath, err := exec.LookPath("ssh")
	if err != nil {
		sshdtest.SkipUnlessRequired(t, "no ssh client for the ProxyCommand")
	}
	jump, e := sshtest.StartNodes(t, sshtest.Config{}, "jump")
	target := sshtest.Start(t, sshtest.Config{})
	if err := e.AddNodes(target, "node1"); err != nil {
		t.Fatal(err)
	}
	if err := e.AddConfig("Host node1", fmt.Sprintf("    ProxyCommand %s -F %s -W %%h:%%p jump", sshPath, e.ConfigPath)); err != nil {
		t.Fatal(err)
	}
	d := testDriver(t, e)
	jr := newJob("node1", "echo proxied")
	wantCode(t, jr, jr.run(t, d), 0)
	if jr.stdout.String() != "proxied\n" || jump.Stats().Forwards != 1 {
		t.Fatalf("stdout %q, forwards %d", jr.stdout, jump.Stats().Forwards)
	}
}
