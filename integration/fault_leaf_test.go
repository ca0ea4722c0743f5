package integration

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/internal/tcpproxy"
	"github.com/fleetsh/fleetsh/pkg/fleet/client"
	"github.com/fleetsh/fleetsh/pkg/fleet/site"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// The layout of deploy/README.md, "Many sites": a 3-server NATS cluster
// at the admin site (the coordinator joins it), and one NATS leaf server
// per gateway site (west, east) that the site's agent connects to, all
// from the files one `coordinator init-site` wrote: TLS everywhere, each
// agent's own key at its leaf, each leaf's own key at the hub. The
// servers run in the test process from those confs (ports set per
// server); coordinator, agents and csub are real processes.

// leafLayout is the running layout.
type leafLayout struct {
	f       *testFleet
	site    string           // the site directory
	hubURLs string           // the cluster's client URLs (tls://, comma-separated)
	west    *tcpproxy.Proxy  // between west's leaf server and the hub
	leaves  []*server.Server // west, east
}

// The sizes: west's agent gw1 serves west[1-W], east's gw2 east[1-E],
// each at fanout F (so F commands of each site wait at once: on the
// 2-core test machine, 300 waiting at once starved the agents of CPU
// until a heartbeat was late).
func leafSizes() (w, e, fanout int) {
	if faultFull() {
		return 300, 300, 32
	}
	return 24, 16, 8
}

func startLeafLayout(t *testing.T) *leafLayout {
	t.Helper()
	w, e, fanout := leafSizes()
	l := &leafLayout{site: filepath.Join(t.TempDir(), "site")}
	// Held until the servers listen there: the ports go into init-site's
	// files before any server runs (natstest.HoldPort).
	hold := natstest.HoldPort
	hubLeaf := []int{hold(t), hold(t), hold(t)} // each cluster server's leaf-node port
	leafPort := map[string]int{"west": hold(t), "east": hold(t)}
	args := []string{"init-site", l.site, "--user", "tester", "--url", "tls://127.0.0.1:4222",
		"--agent", "gw1:leaf=west", "--agent", "gw2:leaf=east",
		"--leaf", fmt.Sprintf("west=tls://127.0.0.1:%d", leafPort["west"]),
		"--leaf", fmt.Sprintf("east=tls://127.0.0.1:%d", leafPort["east"]),
		"--leaf-listen", fmt.Sprintf("127.0.0.1:%d", hubLeaf[0])}
	// The cluster's routes and client ports are set per server by
	// natstest; the leaf ports by the test (below).
	for i := range hubLeaf {
		args = append(args, "--cluster-route", fmt.Sprintf("127.0.0.1:%d", 6222+i),
			"--hub-url", fmt.Sprintf("tls://127.0.0.1:%d", hubLeaf[i]))
	}
	if out, err := exec.Command(filepath.Join(binaries(t), "coordinator"), args...).CombinedOutput(); err != nil {
		t.Fatalf("coordinator init-site: %v\n%s", err, out)
	}

	t.Setenv(site.ServerNameEnv, "placeholder") // natstest names each server
	conf := filepath.Join(l.site, site.NATSServerConfFile)
	var next atomic.Int32
	cluster := natstest.StartCluster(t, natstest.ClusterOptions{Name: site.DefaultClusterName,
		Base: func() (*server.Options, error) {
			o, err := server.ProcessConfigFile(conf)
			if err != nil {
				return nil, err
			}
			o.LeafNode.Host, o.LeafNode.Port = "127.0.0.1", hubLeaf[int(next.Add(1)-1)%len(hubLeaf)]
			return o, nil
		}})
	var urls []string
	for _, p := range cluster.Ports() {
		urls = append(urls, fmt.Sprintf("tls://127.0.0.1:%d", p))
	}
	l.hubURLs = strings.Join(urls, ",")

	// West's leaf reaches the hub through a proxy the test cuts; east's
	// dials the hub URLs its conf names.
	var err error
	if l.west, err = tcpproxy.Start(fmt.Sprintf("127.0.0.1:%d", hubLeaf[0])); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.west.Close() })
	for _, name := range []string{"west", "east"} {
		o, err := server.ProcessConfigFile(filepath.Join(l.site, site.LeavesDir, name, site.LeafConfFile))
		if err != nil {
			t.Fatal(err)
		}
		o.NoSigs, o.NoLog = true, true
		o.LeafNode.ReconnectInterval = 100 * time.Millisecond
		if name == "west" {
			u, err := url.Parse("tls://" + l.west.Addr())
			if err != nil {
				t.Fatal(err)
			}
			// Only through the proxy: not to the servers the hub tells of.
			o.LeafNode.Remotes[0].URLs, o.LeafNode.Remotes[0].IgnoreDiscoveredServers = []*url.URL{u}, true
		}
		srv, err := natstest.RunOptions(o)
		if err != nil {
			t.Fatalf("leaf %s: %v", name, err)
		}
		t.Cleanup(srv.Shutdown)
		l.leaves = append(l.leaves, srv)
	}
	for deadline := time.Now().Add(30 * time.Second); l.leaves[0].NumLeafNodes()+l.leaves[1].NumLeafNodes() != 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the leaf servers did not connect to the hub within 30s")
		}
	}

	dir := t.TempDir()
	l.f = &testFleet{t: t, dir: dir, natsURL: l.hubURLs, agents: map[string]*proc{},
		fleetConfig: filepath.Join(l.site, site.UsersDir, "tester", site.ClientConfigFile)}
	topo := filepath.Join(dir, "topology.conf")
	if err := os.WriteFile(topo, []byte(fmt.Sprintf("[routes]\nadmin: gw[1-2]\ngw1: west[1-%d]\ngw2: east[1-%d]\n", w, e)), 0o644); err != nil {
		t.Fatal(err)
	}
	seed := filepath.Join(l.site, site.CoordinatorSeedFile)
	l.f.coord = startProc(t, dir, "coordinator", "coordinator", "--nats", l.hubURLs, "--creds", seed,
		"--ca", filepath.Join(l.site, site.CACertFile), "--identities", filepath.Join(l.site, site.IdentitiesFile),
		"--signing-key", seed, "--policy", allowAllPolicy(t), "--topology", topo, "--root", "admin")
	// The default heartbeat and --lost-after (1 s, 3 s), as in production:
	// a loaded test machine delays no heartbeat that long, so the only
	// agent declared lost is the one whose link is cut.
	for _, gw := range []string{"gw1", "gw2"} {
		l.f.agents[gw] = startProc(t, dir, "agent-"+gw, "agent", "--config",
			filepath.Join(l.site, site.AgentsDir, gw, site.AgentConfigFile), "--fanout", fmt.Sprint(fanout))
	}
	ext := &siteNATS{t: t, dir: l.site}
	nc, err := nats.Connect(l.hubURLs, append(ext.userOptions("tester"), nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond), nats.RetryOnFailedConnect(true))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	l.f.client = &client.Client{Conn: nc, User: "tester"}
	l.f.waitAgents(3) // gw1, gw2 and the coordinator's local agent
	return l
}

// TestFaultLeafLinkCut runs the layout: a csub job over both sites
// (every node's output and exit), then a job whose west link to the hub
// stalls while both sites' nodes run: west's started nodes end "gateway
// lost", its unstarted ones "no agent", every east node "exited".
func TestFaultLeafLinkCut(t *testing.T) {
	skipShort(t)
	bound := scenarioBound(t)
	w, e, fanout := leafSizes()
	l := startLeafLayout(t)
	nodes := fmt.Sprintf("west[1-%d],east[1-%d]", w, e)

	// csub, with the user's fleet.yaml from init-site.
	cmd := exec.Command(filepath.Join(binaries(t), "csub"), "-R", "exec", "-w", nodes, "echo %h via its site")
	cmd.Env = append(os.Environ(), "FLEETSH_FLEET="+l.hubURLs, "FLEETSH_FLEET_CONFIG="+l.f.fleetConfig)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("csub across both sites: %v\n%s", err, out)
	}
	lines := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		lines[line] = true
	}
	for _, n := range expand(t, nodes) {
		if want := n + ": " + n + " via its site"; !lines[want] {
			t.Errorf("csub output lacks %q", want)
		}
	}
	if len(lines) != w+e {
		t.Errorf("csub printed %d distinct lines, want %d:\n%s", len(lines), w+e, out)
	}

	// Every node records its start, then waits for the release, or for
	// the test's directory to go: a command whose agent died with the test
	// (killed by go test's timeout) must not outlive it.
	runs, release := filepath.Join(l.f.dir, "leafcut.runs"), filepath.Join(l.f.dir, "leafcut.release")
	spec := protocol.JobSpec{ID: "leafcut", Nodes: nodes, Worker: "exec", Command: fmt.Sprintf(
		`echo %%h >> %s; while [ ! -e %s ] && [ -d %s ]; do sleep 0.1; done; echo %%h done`, runs, release, l.f.dir)}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	began := time.Now()
	job, err := l.f.client.Submit(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	var cutAt time.Duration
	cut := make(chan error, 1)
	go func() {
		// The commands end once this returns, whatever happened.
		defer os.WriteFile(release, nil, 0o644)
		// Each site's fanout started: cut west's link.
		if err := awaitStarts(runs, map[string]int{"west": fanout, "east": fanout}); err != nil {
			cut <- err
			return
		}
		l.west.Stall()
		cutAt = time.Since(began)
		// The coordinator declares gw1 lost (its heartbeats stop at the
		// hub); then the commands may end: east's finish, west's finish
		// behind a link that carries nothing.
		for deadline := time.Now().Add(time.Minute); !agentLost(l.f, "gw1"); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				cut <- errors.New("gw1 not declared lost within a minute of its leaf link's cut")
				return
			}
		}
		cut <- nil
	}()
	res := readJob(ctx, t, job, nil)
	took := time.Since(began)
	if err := <-cut; err != nil {
		t.Fatal(err)
	}
	counts := countStates(t, res)
	t.Logf("leaf link of site west cut at %v, %d west nodes and %d east nodes, fanout %d per agent: %v in %v (bound %v)",
		cutAt.Round(time.Millisecond), w, e, fanout, counts, took.Round(time.Millisecond), bound)
	want := map[protocol.State]int{protocol.StateExited: e, protocol.StateLost: fanout, protocol.StateNoAgent: w - fanout}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("states %v, want %v", counts, want)
	}
	for n, r := range res {
		switch {
		case strings.HasPrefix(n, "east") && (r.code != 0 || strings.Join(r.out, "|") != n+" done"):
			t.Errorf("%s: code %d output %q, want %q", n, r.code, r.out, n+" done")
		case strings.HasPrefix(n, "west") && r.state == protocol.StateExited:
			t.Errorf("%s exited: its result crossed a stalled link", n)
		}
	}
	if data, err := os.ReadFile(runs); err != nil || strings.Count(string(data), "west") != fanout {
		t.Errorf("west nodes started %d times, want %d (none runs after its agent is lost): %v",
			strings.Count(string(data), "west"), fanout, err)
	}
	if took > bound {
		t.Errorf("the job took %v, over the bound of %v", took, bound)
	}

	// The link comes back: gw1, whose own connection to its leaf never
	// dropped, is heard again and serves west's nodes.
	l.west.Resume()
	l.f.waitAgents(3)
	res = l.f.run(protocol.JobSpec{ID: "leafback", Nodes: fmt.Sprintf("west[1-%d]", w), Worker: "exec", Command: "echo %h back"}, nil)
	counts = countStates(t, res)
	t.Logf("after the link came back, %d west nodes: %v", w, counts)
	if counts[protocol.StateExited] != w {
		t.Errorf("after the link came back: states %v, want %d exited", counts, w)
	}
}

// awaitStarts waits until the runs file names at least want[prefix]
// nodes of each prefix.
func awaitStarts(runs string, want map[string]int) error {
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		data, _ := os.ReadFile(runs)
		ok := true
		for p, n := range want {
			if strings.Count(string(data), p) < n {
				ok = false
			}
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("starts after a minute: %q, want %v", data, want)
		}
	}
}

// agentLost reports whether the coordinator lists agent id as lost.
func agentLost(f *testFleet, id string) bool {
	agents, err := f.agentsStatus()
	if err != nil {
		return false
	}
	for _, a := range agents {
		if a.Agent == id && a.Lost {
			return true
		}
	}
	return false
}
