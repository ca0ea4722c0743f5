package ssh

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/sshdtest"
	"github.com/fleetsh/fleetsh/internal/sshtest"
	"github.com/fleetsh/fleetsh/pkg/engine"
)

// TestSameMessagesAsOpenSSH runs each failure with the real OpenSSH
// client and with the driver, against the same servers and the same
// config, and compares what they print: users must see the messages they
// know from clush. Skipped when ssh is not installed.
func TestSameMessagesAsOpenSSH(t *testing.T) {
	sshPath, err := exec.LookPath("ssh")
	if err != nil {
		sshdtest.SkipUnlessRequired(t, "no ssh client")
	}
	s, e := sshtest.StartNodes(t, sshtest.Config{}, "node1", "jump")
	impostor := sshtest.Start(t, sshtest.Config{})
	stalled := sshtest.Start(t, sshtest.Config{})
	stalled.SetStall(true)
	dropper := sshtest.Start(t, sshtest.Config{})
	dropper.DropKex(1000)
	for srv, name := range map[*sshtest.Server]string{stalled: "stalled", dropper: "dropper"} {
		if err := e.AddNodes(srv, name); err != nil {
			t.Fatal(err)
		}
	}
	port := closedPort(t)
	if err := e.AddConfig(
		"Host dead", "    HostName 127.0.0.1", fmt.Sprintf("    Port %d", port),
		"Host deadbehind", "    HostName 127.0.0.1", fmt.Sprintf("    Port %d", port), "    ProxyJump jump",
	); err != nil {
		t.Fatal(err)
	}
	knownHosts, err := os.ReadFile(e.KnownHostsPath)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("[127.0.0.1]:%d", s.Port())
	for _, tc := range []struct {
		name   string
		node   string
		opts   string
		setup  func()
		reason engine.Reason
	}{
		{name: "refused", node: "dead", reason: engine.ReasonConnectRefused},
		{name: "refused quiet", node: "dead", opts: "-q", reason: engine.ReasonConnectRefused},
		{name: "auth", node: "node1", setup: func() { s.SetRejectAuth(true) }, reason: engine.ReasonAuth},
		{name: "auth other user", node: "node1", opts: "-l nobody", setup: func() { s.SetRejectAuth(true) }, reason: engine.ReasonAuth},
		{name: "unknown host key", node: "node1", setup: func() { writeFile(t, e.KnownHostsPath, "") }, reason: engine.ReasonHostKeyUnknown},
		{name: "unknown host key ask", node: "node1", opts: "-oStrictHostKeyChecking=ask", setup: func() { writeFile(t, e.KnownHostsPath, "") }, reason: engine.ReasonHostKeyUnknown},
		{name: "accept-new", node: "node1", opts: "-oStrictHostKeyChecking=accept-new", setup: func() { writeFile(t, e.KnownHostsPath, "") }},
		{name: "changed host key", node: "node1", setup: func() { writeFile(t, e.KnownHostsPath, impostor.KnownHostsLine(name)+"\n") }, reason: engine.ReasonHostKeyChanged},
		{name: "changed host key no", node: "node1", opts: "-oStrictHostKeyChecking=no", setup: func() { writeFile(t, e.KnownHostsPath, impostor.KnownHostsLine(name)+"\n") }},
		{name: "banner timeout", node: "stalled", opts: "-oConnectTimeout=1", reason: engine.ReasonConnectTimeout},
		{name: "reset during kex", node: "dropper", reason: engine.ReasonConnect},
		{name: "jump to a closed port", node: "deadbehind", reason: engine.ReasonConnectRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func(f func() (string, int)) (string, int) {
				writeFile(t, e.KnownHostsPath, string(knownHosts))
				s.SetRejectAuth(false)
				if tc.setup != nil {
					tc.setup()
				}
				return f()
			}
			want, wantCode := run(func() (string, int) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				args := append([]string{"-F", e.ConfigPath}, strings.Fields(tc.opts)...)
				cmd := exec.CommandContext(ctx, sshPath, append(args, tc.node, "true")...)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				_ = cmd.Run()
				// ssh ends its messages with "\r\n" (for terminals in raw
				// mode); the driver with "\n", which line splitters treat
				// the same.
				return strings.ReplaceAll(stderr.String(), "\r\n", "\n"), cmd.ProcessState.ExitCode()
			})
			d := testDriver(t, e)
			d.Retries = -1 // ssh does not retry
			var res engine.Result
			got, gotCode := run(func() (string, int) {
				jr := newJob(tc.node, "true")
				jr.job.ConnectTimeout = 0
				jr.info["ssh_options"] = tc.opts
				res = jr.run(t, d)
				return jr.stderr.String(), res.ExitCode
			})
			if tc.name == "reset during kex" {
				// Whether the dropped connection reads as "reset" or
				// "closed" depends on the timing of the RST; ssh and the
				// driver word each the same.
				got = strings.Replace(got, "Connection reset by", "Connection closed by", 1)
				want = strings.Replace(want, "Connection reset by", "Connection closed by", 1)
			}
			if got != want {
				t.Errorf("driver printed:\n%s\nOpenSSH printed:\n%s", got, want)
			}
			if gotCode != wantCode {
				t.Errorf("exit code %d, OpenSSH's %d", gotCode, wantCode)
			}
			if engine.ReasonOf(res.Err) != tc.reason {
				t.Errorf("reason %q, want %q (%v)", engine.ReasonOf(res.Err), tc.reason, res.Err)
			}
		})
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
