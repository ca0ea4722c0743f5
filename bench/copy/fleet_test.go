package copybench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/internal/testutil"
)

// fleet is the fleet row's processes: a NATS server with JetStream in
// this process (so that its counters can be read: the coordinator's
// embedded server has no monitoring endpoint), a coordinator joining it
// (--nats), which keeps its file store in that server's JetStream, and
// the agents of gateways gw1 and gw2, half of the nodes each, their file
// caches in the benchmark's temporary directory.
type fleet struct {
	srv  *server.Server
	url  string
	csub string
	dir  string // the processes' logs: <name>.log
	// coord is the NATS connection id of the coordinator.
	coord uint64
	// agents maps a gateway to the NATS connection id of its agent.
	agents map[string]uint64
	// pids maps "coordinator" and each gateway to its process's id.
	pids map[string]int
}

// gateways are the fleet's gateways, each with an agent.
var gateways = []string{"gw1", "gw2"}

// allowAll lets any user copy anything anywhere: the bench measures the
// copy, not the policy.
const allowAll = `rules: [{name: bench, users: ["*"], commands: ["**"], nodes: "*", workers: ["*"], info: ["*"],
  copy: true, reverse_copy: true, actions: [see_all, cancel_any, attach_any, agents]}]
`

// fleetBins are the fleet's programs, built once per test process.
var fleetBins = testutil.Binaries{Packages: []string{"../../cmd/coordinator", "../../cmd/agent", "../../cmd/csub"}}

func startFleet(b *testing.B, ns *nodes, n, fanout, size int) *fleet {
	dir := b.TempDir()
	bin := fleetBins.Dir(b)
	srv, err := natstest.RunOptions(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true,
		MaxPending: 128 << 20, JetStream: true, StoreDir: filepath.Join(dir, "jetstream"),
		JetStreamMaxMemory: 256 << 20, JetStreamMaxStore: 8 << 30})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	f := &fleet{srv: srv, url: srv.ClientURL(), csub: filepath.Join(bin, "csub"), dir: dir, agents: map[string]uint64{},
		pids: map[string]int{}}

	half := n / 2
	topo := fmt.Sprintf("[routes]\nadmin: gw[1-2]\ngw1: node[1-%d]\ngw2: node[%d-%d]\n", half, half+1, n)
	files := map[string]string{"topology.conf": topo, "policy.yaml": allowAll}
	kp, err := nkeys.CreateUser()
	if err != nil {
		b.Fatal(err)
	}
	seed, _ := kp.Seed()
	pub, _ := kp.PublicKey()
	files["coordinator.nk"] = string(seed)
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	// The file store's size is given rather than left to shrink until
	// the server can reserve it: twice the file, at least 1 GiB, always
	// under the server's JetStreamMaxStore.
	seen := f.conns()
	f.pids["coordinator"] = start(b, dir, "coordinator", filepath.Join(bin, "coordinator"), "--nats", f.url, "--policy", filepath.Join(dir, "policy.yaml"),
		"--topology", filepath.Join(dir, "topology.conf"), "--root", "admin", "--local-agent=false",
		"--signing-key", filepath.Join(dir, "coordinator.nk"), "--files-max-bytes", fmt.Sprint(max(1<<30, 2*size)))
	f.coord = f.newConn(b, seen)
	for _, gw := range gateways {
		seen := f.conns()
		f.pids[gw] = start(b, dir, "agent-"+gw, filepath.Join(bin, "agent"), "--nats", f.url, "--name", gw,
			"--fanout", fmt.Sprint(max(fanout/2, 1)), "--coordinator-key", pub, "--info", "ssh_config="+ns.sshCfg,
			"--file-cache", filepath.Join(dir, "agent-"+gw, "files"))
		f.agents[gw] = f.newConn(b, seen)
	}
	// Ready when a job reaches a node of each gateway.
	env := toolEnv(b, ns)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		_, _, stderr, err := runTool(env, []string{f.csub, "--fleet", f.url, "-S", "-w", fmt.Sprintf("node1,node%d", n), "true"})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("fleet not ready after 1 min: %v: %s", err, stderr)
		}
	}
	// The coordinator must keep the pushed chunks in this server's
	// JetStream, whose counters the row reads.
	logged, err := os.ReadFile(filepath.Join(dir, "coordinator.log"))
	if err != nil {
		b.Fatal(err)
	}
	i := strings.Index(string(logged), "file store on jetstream")
	if i < 0 {
		b.Fatalf("the coordinator opened no file store on %s:\n%s", f.url, logged)
	}
	line, _, _ := strings.Cut(string(logged[i:]), "\n")
	fmt.Printf("fleet: coordinator: %s\n", line)
	return f
}

// start runs a fleet process, its output in dir/name.log, killed (its
// process group, by PID) when the benchmark ends; it returns the PID.
func start(b *testing.B, dir, name, bin string, args ...string) int {
	log, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(os.Environ(), "STATE_DIRECTORY=", "XDG_STATE_HOME="+filepath.Join(dir, name, "state"),
		"XDG_CACHE_HOME="+filepath.Join(dir, name, "cache"), "HOME="+filepath.Join(dir, name))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); log.Close(); close(done) }()
	b.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		if b.Failed() {
			data, _ := os.ReadFile(log.Name())
			b.Logf("--- %s log (tail) ---\n%s", name, data[max(0, len(data)-6000):])
		}
	})
	return cmd.Process.Pid
}

// connBytes is what a NATS connection carried: In from the client to
// the server, Out from the server to the client.
type connBytes struct {
	Name    string
	In, Out int64
}

// conns returns the server's connections, open and closed, by id.
func (f *fleet) conns() map[uint64]connBytes {
	cz, err := f.srv.Connz(&server.ConnzOptions{State: server.ConnAll, Limit: 1 << 16})
	if err != nil {
		return nil
	}
	m := map[uint64]connBytes{}
	for _, c := range cz.Conns {
		m[c.Cid] = connBytes{Name: c.Name, In: c.InBytes, Out: c.OutBytes}
	}
	return m
}

// newConn waits for a connection not in seen and returns its id: the
// coordinator or agent just started (each has one connection).
func (f *fleet) newConn(b *testing.B, seen map[uint64]connBytes) uint64 {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for cid := range f.conns() {
			if _, ok := seen[cid]; !ok {
				return cid
			}
		}
	}
	b.Fatal("no new NATS connection in 1 min (coordinator or agent)")
	return 0
}
