package systemd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/internal/sdnotify/sdnotifytest"
	"github.com/fleetsh/fleetsh/internal/sshtest"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth/authtest"
)

// The coordinator and an agent start as their units start them (the
// units' ExecStart, the etc/fleetsh configs with what an admin fills in,
// $STATE_DIRECTORY, $NOTIFY_SOCKET), each says READY=1, a job runs
// through them, and SIGTERM stops each with STOPPING=1 and exit 0.
func TestDaemonsFromEtc(t *testing.T) {
	bin, dir := bins.Dir(t), t.TempDir()
	etc := filepath.Join(dir, "etc")
	port := natstest.FreePort(t)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	// The example tree, its /etc/fleetsh paths and port made the test's.
	if err := os.CopyFS(etc, os.DirFS(filepath.Join(repo, "etc/fleetsh"))); err != nil {
		t.Fatal(err)
	}
	// The coordinator's signing key, and the agent trusting it.
	site := authtest.NewSite(t)
	seed := site.Add(auth.Coordinator, "admin")
	pub := site.Identities[0].Nkey
	demo, err := filepath.Abs(filepath.Join(repo, "deploy/demo-policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	edit(t, filepath.Join(etc, "coordinator.yaml"), etc,
		"signing-key: "+seed+"\npolicy: "+demo+"\n", "127.0.0.1:4222", fmt.Sprintf("127.0.0.1:%d", port),
		"127.0.0.1:9470", "127.0.0.1:0")
	edit(t, filepath.Join(etc, "agent.yaml"), etc,
		"coordinator-key: ["+pub+"]\ninfo:\n  ssh_config: /etc/fleetsh/agent/ssh/config\n", "nats://127.0.0.1:4222", url,
		"127.0.0.1:9471", "127.0.0.1:0")
	// The agent's ssh identity and known_hosts where the example ssh
	// config names them, and the nodes: an ssh server on loopback.
	nodes := sshtest.Start(t, sshtest.Config{})
	key, err := sshtest.GenerateClientKey()
	if err != nil {
		t.Fatal(err)
	}
	nodes.Authorize(key.PublicKey())
	if err := key.WriteFiles(filepath.Join(etc, "agent/ssh/id_ed25519")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "agent/ssh/known_hosts"), []byte(nodes.KnownHostsLine()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	edit(t, filepath.Join(etc, "agent/ssh/config"), etc, "", "Host *\n",
		fmt.Sprintf("Host node1 node2 node3\n    HostName 127.0.0.1\n    Port %d\n\nHost *\n", nodes.Port()))

	start := func(unit, state string) (*sdnotifytest.Socket, *sdnotifytest.Daemon) {
		argv := strings.Fields(installed(unitValue(t, unit, "ExecStart"), bin, etc))
		sock := sdnotifytest.Listen(t)
		d := sock.Start(t, []string{"STATE_DIRECTORY=" + filepath.Join(dir, "state", state)}, argv[0], argv[1:]...)
		t.Logf("%s: %q", unit, sock.Await(t, "READY=1"))
		return sock, d
	}
	coordSock, coord := start("fleetsh-coordinator.service", "coordinator")
	agentSock, agent := start("fleetsh-agent.service", "agent")
	agentSock.AwaitPrefix(t, "STATUS=agent gw1: registered")

	// On the agent's own machine (-R exec), then over ssh (its worker)
	// with the identity of /etc/fleetsh/agent/ssh.
	for _, worker := range [][]string{{"-R", "exec"}, nil} {
		csub := exec.Command(filepath.Join(bin, "csub"), append(append([]string{"--fleet", url}, worker...), "-w", "node[1-3]", "echo hi")...)
		csub.Env = append(os.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "FLEETSH_FLEET_CONFIG=", "FLEETSH_FLEET=")
		out, err := csub.CombinedOutput()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		slices.Sort(lines)
		if err != nil || strings.Join(lines, "\n") != "node1: hi\nnode2: hi\nnode3: hi" {
			t.Errorf("csub %q: %v\n%s", worker, err, out)
		}
	}

	for _, p := range []struct {
		name string
		sock *sdnotifytest.Socket
		d    *sdnotifytest.Daemon
	}{{"agent", agentSock, agent}, {"coordinator", coordSock, coord}} {
		if code := p.d.Stop(t); code != 0 {
			t.Errorf("%s: exit %d after SIGTERM", p.name, code)
		}
		p.sock.Await(t, "STOPPING=1")
	}
	// The coordinator kept its state where systemd's StateDirectory= says.
	if _, err := os.Stat(filepath.Join(dir, "state", "coordinator", "jetstream")); err != nil {
		t.Errorf("coordinator state: %v", err)
	}
}

// edit makes the config file the test's, as an admin would: its
// /etc/fleetsh paths under etc, each pair old, new of pairs replaced (the
// operator HTTP listener's fixed port by a free one: tests run in
// parallel), and the settings add appended.
func edit(t *testing.T, file, etc, add string, pairs ...string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data) + add
	for i := 0; i+1 < len(pairs); i += 2 {
		old, new := pairs[i], pairs[i+1]
		if !strings.Contains(s, old) {
			t.Fatalf("%s: no %s to replace", file, old)
		}
		s = strings.ReplaceAll(s, old, new)
	}
	if err := os.WriteFile(file, []byte(installed(s, "", etc)), 0o600); err != nil {
		t.Fatal(err)
	}
}
