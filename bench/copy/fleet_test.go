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

	"github.com/fleetsh/fleetsh/internal/benchrec"
	"github.com/fleetsh/fleetsh/internal/natstest"
)

// fleet is the fleet row's processes: a NATS server with JetStream in
// this process (so that its counters can be read: the coordinator's
// embedded server has no monitoring endpoint), a coordinator joining it
// (--nats) and the agents of gateways gw1 and gw2, half of the nodes
// each.
type fleet struct {
	srv  *server.Server
	url  string
	csub string
	// agents maps a gateway to the NATS connection id of its agent.
	agents map[string]uint64
}

// allowAll lets any user copy anything anywhere: the bench measures the
// copy, not the policy.
const allowAll = `rules: [{name: bench, users: ["*"], commands: ["**"], nodes: "*", workers: ["*"], info: ["*"],
  copy: true, reverse_copy: true, actions: [see_all, cancel_any, attach_any, agents]}]
`

func startFleet(b *testing.B, ns *nodes, n, fanout int) *fleet {
	dir := b.TempDir()
	bin := filepath.Join(dir, "bin")
	build := exec.Command("go", "build", "-o", bin+"/", "../../cmd/coordinator", "../../cmd/agent", "../../cmd/csub")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	srv, err := natstest.RunOptions(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true,
		MaxPending: 128 << 20, JetStream: true, StoreDir: filepath.Join(dir, "jetstream"),
		JetStreamMaxMemory: 256 << 20, JetStreamMaxStore: 8 << 30})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	f := &fleet{srv: srv, url: srv.ClientURL(), csub: filepath.Join(bin, "csub"), agents: map[string]uint64{}}

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
	start(b, dir, "coordinator", filepath.Join(bin, "coordinator"), "--nats", f.url, "--policy", filepath.Join(dir, "policy.yaml"),
		"--topology", filepath.Join(dir, "topology.conf"), "--root", "admin", "--local-agent=false",
		"--signing-key", filepath.Join(dir, "coordinator.nk"))
	for _, gw := range []string{"gw1", "gw2"} {
		seen := f.conns()
		start(b, dir, "agent-"+gw, filepath.Join(bin, "agent"), "--nats", f.url, "--name", gw,
			"--fanout", fmt.Sprint(max(fanout/2, 1)), "--coordinator-key", pub, "--info", "ssh_config="+ns.sshCfg)
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
	return f
}

// start runs a fleet process, its output in dir/name.log, killed (its
// process group, by PID) when the benchmark ends.
func start(b *testing.B, dir, name, bin string, args ...string) {
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
// agent just started.
func (f *fleet) newConn(b *testing.B, seen map[uint64]connBytes) uint64 {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for cid := range f.conns() {
			if _, ok := seen[cid]; !ok {
				return cid
			}
		}
	}
	b.Fatal("agent did not connect to NATS in 1 min")
	return 0
}

// bytes is the server's totals ("" key: in and out of /varz) and its
// connections.
func (f *fleet) bytes(b *testing.B) map[string]connBytes {
	vz, err := f.srv.Varz(nil)
	if err != nil {
		b.Fatal(err)
	}
	m := map[string]connBytes{"": {In: vz.InBytes, Out: vz.OutBytes}}
	for cid, c := range f.conns() {
		m[fmt.Sprint(cid)] = c
	}
	return m
}

// report adds to rec what NATS carried between before and after: the
// server's totals, per gateway what its agent received, and the csub
// upload; nats_copies is the agents' bytes over the file's size (the
// target: about one copy per gateway, 2).
func (f *fleet) report(b *testing.B, before, after map[string]connBytes, rec *benchrec.Record, size int) {
	delta := func(k string) (int64, int64) { return after[k].In - before[k].In, after[k].Out - before[k].Out }
	in, out := delta("")
	rec.Extra["nats_in_bytes"], rec.Extra["nats_out_bytes"] = float64(in), float64(out)
	var agents int64
	var parts []string
	for _, gw := range []string{"gw1", "gw2"} {
		k := fmt.Sprint(f.agents[gw])
		ain, aout := delta(k)
		agents += aout
		rec.Extra[gw+"_received_bytes"], rec.Extra[gw+"_sent_bytes"] = float64(aout), float64(ain)
		parts = append(parts, fmt.Sprintf("%s received %.1f MB, sent %.1f MB", gw, float64(aout)/1e6, float64(ain)/1e6))
	}
	for k, c := range after {
		if _, old := before[k]; !old && k != "" && strings.Contains(c.Name, "csub") {
			rec.Extra["csub_sent_bytes"] += float64(c.In)
		}
	}
	rec.Extra["nats_bytes"] = float64(agents)
	rec.Extra["nats_copies"] = float64(agents) / float64(size)
	fmt.Printf("%-28s NATS in %.1f MB out %.1f MB; %s; csub sent %.1f MB\n", "", float64(in)/1e6, float64(out)/1e6,
		strings.Join(parts, ", "), rec.Extra["csub_sent_bytes"]/1e6)
}
