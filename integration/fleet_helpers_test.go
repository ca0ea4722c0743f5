package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/internal/sshtest"
	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth/authtest"
	"github.com/fleetsh/fleetsh/pkg/fleet/client"
	"github.com/fleetsh/fleetsh/pkg/fleet/site"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// fleetBins are coordinator, agent, csub and the exec bench's barespawn;
// bareloopBin is the sim bench's bareloop, built only by the benchmarks
// that run it.
var (
	fleetBins = testutil.Binaries{Packages: []string{"../cmd/coordinator", "../cmd/agent", "../cmd/csub",
		"../bench/exec/barespawn"}}
	bareloopBin = testutil.Binaries{Packages: []string{"../bench/sim/bareloop"}}
)

func TestMain(m *testing.M) {
	// csub leaves an ignored SIGINT ignored (a job started in the
	// background of a shell), and a child inherits the disposition: run
	// from a background script, these tests would see csub ignore the
	// Ctrl-C they send it. Handling SIGINT in the test process gives its
	// children the default back (exec resets handled signals).
	if signal.Ignored(os.Interrupt) {
		signal.Notify(make(chan os.Signal, 1), os.Interrupt)
	}
	code := m.Run()
	fleetBins.Remove()
	bareloopBin.Remove()
	os.Exit(code)
}

// binaries builds fleetBins once per test run and returns their
// directory.
func binaries(t testing.TB) string {
	t.Helper()
	return fleetBins.Dir(t)
}

// benchAgentEnv reads the benchmarks' FLEETSH_BENCH_AGENT_ENV: NAME=VALUE
// words for the agents' environment alone (GOMAXPROCS=1 gives each of
// several agents one core's share, docs/bench/agentcpu.md).
func benchAgentEnv() ([]string, error) {
	env := strings.Fields(os.Getenv("FLEETSH_BENCH_AGENT_ENV"))
	for _, kv := range env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return nil, fmt.Errorf("FLEETSH_BENCH_AGENT_ENV: %q is not NAME=VALUE", kv)
		}
	}
	return env, nil
}

// proc is a fleet process started by a test; it is killed (by PID) when
// the test ends, and its log is printed if the test failed.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func startProc(t testing.TB, dir, name, bin string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binaries(t), bin), args...)
	cmd.Stdout, cmd.Stderr = f, f
	// A coordinator keeps its state (--store) in the test's directory,
	// never in the user's.
	cmd.Env = append(os.Environ(), "STATE_DIRECTORY=", "XDG_STATE_HOME="+filepath.Join(dir, "state"),
		"CACHE_DIRECTORY=", "XDG_CACHE_HOME="+filepath.Join(dir, "cache"))
	if bin == "agent" {
		env, err := benchAgentEnv()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Env = append(cmd.Env, env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill(syscall.SIGKILL)
		if t.Failed() {
			data, _ := os.ReadFile(logPath)
			if len(data) > 8000 {
				data = data[len(data)-8000:]
			}
			t.Logf("--- %s log (tail) ---\n%s", name, data)
		}
	})
	return p
}

// kill signals the process group and waits for the process.
func (p *proc) kill(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

func freePort(t testing.TB) int { return natstest.FreePort(t) }

// testFleet is a coordinator, agents and SSH nodes, all real processes
// or servers on loopback.
type testFleet struct {
	t       testing.TB
	dir     string
	natsURL string
	coord   *proc
	agents  map[string]*proc
	ssh     *sshtest.Server
	env     *sshtest.Env
	client  *client.Client
	// coordKey is the public key the coordinator signs shards with.
	coordKey string
	// site holds the credentials of a fleet whose coordinator embeds its
	// NATS server (TLS only, the site's identities); nil when it joins
	// an external server without authentication.
	site *authtest.Site
	// ext is the site of the external server the fleet joins with
	// credentials (startSiteFleet).
	ext *siteNATS
	// fleetConfig is the submitter's fleet.yaml (with site).
	fleetConfig string
}

// signingKey writes a new coordinator signing key (an nkey seed, 0600)
// in dir and returns its file and public key.
func signingKey(t testing.TB, dir string) (file, pub string) {
	t.Helper()
	kp, pub := testutil.UserKey(t)
	seed, err := kp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(dir, "coordinator.nk")
	if err := os.WriteFile(file, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	return file, pub
}

const fleetTopology = `# test topology: two gateway groups, and nodes under none (local)
[routes]
admin: gw[1-3]
gw[1-2]: node[1-700]
gw3: node[701-1000]
`

// startFleet starts SSH nodes node[1-1000] and local[1-20] (one
// in-process SSH server, names mapped by an ssh_config), a coordinator
// with the topology above (embedding NATS, or joining natsURL without
// credentials), and the agents gw1 and gw2 (group gw[1-2]) and gw3
// (group gw3).
func startFleet(t testing.TB, natsURL string, agentArgs ...string) *testFleet {
	t.Helper()
	return launchFleet(t, natsURL, nil, agentArgs...)
}

// fleetAgents are the agents of startFleet, for a site of startSiteNATS.
var fleetAgents = []site.AgentSpec{{ID: "gw1", Name: "gw1"}, {ID: "gw2", Name: "gw2"}, {ID: "gw3", Name: "gw3"}}

// startSiteFleet is startFleet joining the external server ext (started
// with fleetAgents) with the site's credentials and TLS.
func startSiteFleet(t *testing.T, ext *siteNATS, agentArgs ...string) *testFleet {
	t.Helper()
	return launchFleet(t, ext.URL(), ext, agentArgs...)
}

func launchFleet(t testing.TB, natsURL string, ext *siteNATS, agentArgs ...string) *testFleet {
	t.Helper()
	return launchTopology(t, natsURL, ext, fleetTopology, agentArgs...)
}

// launchTopology is launchFleet with another topology.conf: its gateways
// must be gw1, gw2 and gw3.
func launchTopology(t testing.TB, natsURL string, ext *siteNATS, topology string, agentArgs ...string) *testFleet {
	t.Helper()
	return launchGateways(t, natsURL, ext, topology, []string{"gw1", "gw2", "gw3"}, agentArgs...)
}

// launchGateways is launchTopology with an agent of each of gateways,
// which must be the topology's gateway names (and, with ext, its agents).
func launchGateways(t testing.TB, natsURL string, ext *siteNATS, topology string, gateways []string, agentArgs ...string) *testFleet {
	t.Helper()
	return launchGatewaysArgs(t, nil, func(string) []string { return agentArgs }, natsURL, ext, topology, gateways)
}

// launchGatewaysArgs is launchGateways giving the coordinator the extra
// flags coordArgs and the agent of gateway gw agentArgs(gw).
func launchGatewaysArgs(t testing.TB, coordArgs []string, agentArgs func(gw string) []string, natsURL string, ext *siteNATS,
	topology string, gateways []string) *testFleet {
	t.Helper()
	return launchFleetOpts(t, fleetOpts{coordArgs: coordArgs, agentArgs: agentArgs, natsURL: natsURL, ext: ext,
		topology: topology, gateways: gateways})
}

// fleetOpts are the choices of launchFleetOpts: launchGatewaysArgs's,
// and the nodes' sink (sshtest.Config.Sink) for copy tests.
type fleetOpts struct {
	coordArgs []string
	agentArgs func(gw string) []string
	natsURL   string
	ext       *siteNATS
	topology  string
	gateways  []string
	sink      *sshtest.SinkConfig
}

func launchFleetOpts(t testing.TB, o fleetOpts) *testFleet {
	t.Helper()
	coordArgs, natsURL, ext, topology, gateways := o.coordArgs, o.natsURL, o.ext, o.topology, o.gateways
	agentArgs := o.agentArgs
	if agentArgs == nil {
		agentArgs = func(string) []string { return nil }
	}
	dir := t.TempDir()
	f := &testFleet{t: t, dir: dir, agents: map[string]*proc{}, ext: ext}
	f.ssh, f.env = sshtest.StartNodes(t, sshtest.Config{Sink: o.sink}, append(sshtest.NodeNames("node", 1000), sshtest.NodeNames("local", 20)...)...)
	topo := filepath.Join(dir, "topology.conf")
	if err := os.WriteFile(topo, []byte(topology), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--policy", allowAllPolicy(t), "--topology", topo, "--root", "admin", "--heartbeat", "200ms", "--lost-after", "1500ms",
		"--info", "ssh_config=" + f.env.ConfigPath}
	var clientOpts []nats.Option
	if natsURL == "" {
		// Embedded: TLS and credentials on loopback, as a site runs it.
		f.site = authtest.NewSite(t)
		seed := f.site.Add(auth.Submitter, "tester")
		for _, gw := range gateways {
			f.site.Add(auth.Agent, gw)
		}
		ids, err := json.Marshal(f.site.Identities)
		if err != nil {
			t.Fatal(err)
		}
		idsPath := filepath.Join(f.site.Dir, "identities.json")
		if err := os.WriteFile(idsPath, ids, 0o600); err != nil {
			t.Fatal(err)
		}
		port := freePort(t)
		natsURL = fmt.Sprintf("tls://127.0.0.1:%d", port)
		args = append(args, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--identities", idsPath,
			"--tls-cert", f.site.Cert, "--tls-key", f.site.Key)
		f.fleetConfig = filepath.Join(f.site.Dir, "fleet.yaml")
		if err := os.WriteFile(f.fleetConfig, []byte("url: "+natsURL+"\nuser: tester\ncreds: "+seed+"\nca: "+f.site.CA+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if clientOpts, err = auth.ClientOptions(protocol.Subjects{}, auth.Identity{Role: auth.Submitter, ID: "tester"}, "tester",
			f.site.Creds(seed)); err != nil {
			t.Fatal(err)
		}
	} else {
		args = append(args, "--nats", natsURL)
		if ext != nil {
			args = append(args, ext.coordCreds()...)
			f.fleetConfig = ext.fleetConfig("tester")
			clientOpts = ext.userOptions("tester")
		}
	}
	f.natsURL = natsURL
	var seedFile string
	seedFile, f.coordKey = signingKey(t, dir)
	args = append(append(args, "--signing-key", seedFile), coordArgs...)
	f.coord = startProc(t, dir, "coordinator", "coordinator", args...)
	for _, gw := range gateways {
		f.startAgent(gw, agentArgs(gw)...)
	}
	nc, err := nats.Connect(natsURL, append(clientOpts, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond),
		nats.RetryOnFailedConnect(true))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	f.client = &client.Client{Conn: nc, User: "tester"}
	f.waitAgents(len(gateways) + 1) // the gateways and the coordinator's local agent
	return f
}

func (f *testFleet) startAgent(name string, extra ...string) *proc {
	// Each agent has its own file cache, kept across its restarts.
	args := append([]string{"--nats", f.natsURL, "--name", name, "--fanout", "32", "--coordinator-key", f.coordKey,
		"--info", "ssh_config=" + f.env.ConfigPath, "--file-cache", filepath.Join(f.dir, "cache-"+name)}, extra...)
	if f.site != nil {
		args = append(args, "--id", name, "--creds", f.site.SeedFile(auth.Agent, name), "--ca", f.site.CA)
	} else if f.ext != nil {
		args = append(args, f.ext.agentCreds(name)...)
	}
	p := startProc(f.t, f.dir, "agent-"+name, "agent", args...)
	f.agents[name] = p
	return p
}

// csubEnv is the environment csub needs to reach the fleet: its URL,
// and the submitter's fleet.yaml when the fleet has credentials.
func (f *testFleet) csubEnv() []string {
	env := []string{"FLEETSH_FLEET=" + f.natsURL}
	if f.fleetConfig != "" {
		env = append(env, "FLEETSH_FLEET_CONFIG="+f.fleetConfig)
	}
	return env
}

// agentsStatus asks the coordinator which agents it knows.
func (f *testFleet) agentsStatus() ([]protocol.AgentStatus, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var r protocol.JobsReply
	err := wire.Request(ctx, f.client.Conn, protocol.Subjects{}.Jobs("tester"), protocol.TypeJobsRequest, protocol.JobsRequest{Kind: protocol.JobsAgents}, &r)
	return r.Agents, err
}

func (f *testFleet) waitAgents(n int) {
	f.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		agents, err := f.agentsStatus()
		live := 0
		for _, a := range agents {
			if !a.Lost {
				live++
			}
		}
		if err == nil && live >= n {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%d live agents of %d after 30s (err %v)", live, n, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// nodeResult is what the submitter saw of one node.
type nodeResult struct {
	out   []string
	state protocol.State
	code  int
	ends  int
}

// run submits a job and reads its merged stream to the end.
func (f *testFleet) run(spec protocol.JobSpec, during func(elapsed time.Duration)) map[string]*nodeResult {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	job, err := f.client.Submit(ctx, spec)
	if err != nil {
		f.t.Fatal(err)
	}
	defer job.Close()
	return readJob(ctx, f.t, job, during)
}

// readJob reads a submitted or attached job's stream to its end; during,
// when set, is called before each batch.
func readJob(ctx context.Context, t testing.TB, job *client.Job, during func(elapsed time.Duration)) map[string]*nodeResult {
	t.Helper()
	names := job.Nodes()
	res := make(map[string]*nodeResult, len(names))
	for _, n := range names {
		res[n] = &nodeResult{}
	}
	began := time.Now()
	for {
		if during != nil {
			during(time.Since(began))
		}
		b, err := job.Next(ctx)
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("job %s stream: %v", job.ID(), err)
		}
		for _, r := range b.Events {
			for _, i := range r.Nodes {
				nr := res[names[i]]
				switch r.Kind {
				case protocol.KindStdout:
					nr.out = append(nr.out, strings.Split(string(r.Data), "\n")...)
				case protocol.KindEnd:
					nr.ends++
					nr.state, nr.code = r.State, r.Code
				}
			}
		}
		if b.Last {
			break
		}
	}
	return res
}

// countStates counts nodes per final state, failing on any node without
// exactly one.
func countStates(t testing.TB, res map[string]*nodeResult) map[protocol.State]int {
	t.Helper()
	counts := map[protocol.State]int{}
	bad := 0
	for n, r := range res {
		if r.ends != 1 {
			if bad < 10 {
				t.Errorf("%s: %d final states", n, r.ends)
			}
			bad++
			continue
		}
		counts[r.state]++
	}
	if bad > 0 {
		t.Errorf("%d nodes without exactly one final state", bad)
	}
	return counts
}
