package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/internal/sshtest"
	"github.com/fleetsh/fleetsh/pkg/fleet/client"
	"github.com/fleetsh/fleetsh/pkg/fleet/site"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// haFleet is the deployment of docs/fleet.md "Two coordinators", on
// loopback: three NATS servers in a cluster, each run from the site's own
// nats-server.conf (`init-site --cluster-route`, ports set per server),
// two coordinator processes joining it with the site's coordinator
// credential, each its own --id and the same signing key, and gateway
// agents that trust that key.
//
// Coordinator a connects to server 0, b to server 1 (coordHome), so that
// a server's subscriptions tell one coordinator's from the other's.
type haFleet struct {
	t       *testing.T
	dir     string
	cluster *natstest.Cluster
	ext     *siteNATS // the site's files (its server is not run)
	urls    string
	coords  map[string]*proc
	env     *sshtest.Env
	key     string // the coordinators' public signing key
	client  *client.Client
}

// coordHome is the cluster server each coordinator connects to.
var coordHome = map[string]int{"a": 0, "b": 1}

// startHAFleet starts the cluster, coordinators a and b, the agents of
// fleetTopology (gw1, gw2 for node[1-700], gw3 for node[701-1000]; fanout
// each) and SSH nodes node[1-nodes].
func startHAFleet(t *testing.T, nodes, fanout int) *haFleet {
	t.Helper()
	f := &haFleet{t: t, dir: t.TempDir(), coords: map[string]*proc{}}
	f.ext = &siteNATS{t: t, dir: filepath.Join(f.dir, "site")}
	t.Setenv(site.ServerNameEnv, "placeholder") // natstest names each server
	if err := site.Init(f.ext.dir, site.InitOptions{Users: []string{"tester"}, Agents: fleetAgents,
		URL: "tls://127.0.0.1:4222", Listen: "127.0.0.1:4222", ClusterRoutes: []string{"127.0.0.1:6222"}}); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(f.ext.dir, site.NATSServerConfFile)
	f.cluster = natstest.StartCluster(t, natstest.ClusterOptions{Name: site.DefaultClusterName,
		Base: func() (*server.Options, error) { return server.ProcessConfigFile(conf) }})
	var urls []string
	for _, p := range f.cluster.Ports() {
		urls = append(urls, fmt.Sprintf("tls://127.0.0.1:%d", p))
	}
	f.urls = strings.Join(urls, ",")

	_, env := sshtest.StartNodes(t, sshtest.Config{}, sshtest.NodeNames("node", nodes)...)
	f.env = env
	topo := filepath.Join(f.dir, "topology.conf")
	if err := os.WriteFile(topo, []byte(fleetTopology), 0o644); err != nil {
		t.Fatal(err)
	}
	seed, pub := signingKey(t, f.dir)
	f.key = pub
	for _, id := range []string{"a", "b"} {
		// The default heartbeat and --lost-after (1 s, 3 s): a loss is
		// declared as in production.
		home := fmt.Sprintf("tls://127.0.0.1:%d", f.cluster.Ports()[coordHome[id]])
		args := append([]string{"--nats", home, "--id", id, "--local-agent=false", "--signing-key", seed,
			"--store-replicas", "3", "--policy", allowAllPolicy(t), "--topology", topo, "--root", "admin"},
			f.ext.coordCreds()...)
		f.coords[id] = startProc(t, f.dir, "coordinator-"+id, "coordinator", args...)
		// One after the other: two coordinators creating the store's
		// replicated bucket at the same moment both time out (seen with
		// nats-server v2.15.2; docs/fleet.md, "Two coordinators").
		f.waitLog(id, "coordinator ready", 1, time.Minute)
	}
	for _, gw := range []string{"gw1", "gw2", "gw3"} {
		args := append([]string{"--nats", f.urls, "--name", gw, "--fanout", fmt.Sprint(fanout), "--coordinator-key", pub,
			"--info", "ssh_config=" + env.ConfigPath}, f.ext.agentCreds(gw)...)
		startProc(t, f.dir, "agent-"+gw, "agent", args...)
	}
	nc, err := nats.Connect(f.urls, append(f.ext.userOptions("tester"), nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond), nats.RetryOnFailedConnect(true))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	f.client = &client.Client{Conn: nc, User: "tester"}
	// Both coordinators must know both agents and each other before the
	// job: each logs every agent it registers and the coordinator it
	// hears.
	for id := range f.coords {
		f.waitLog(id, "agent registered", 3, 30*time.Second)
		f.waitLog(id, "coordinator joined", 1, 30*time.Second)
	}
	return f
}

// waitLog waits until coordinator id's log has n lines containing text.
func (f *haFleet) waitLog(id, text string, n int, within time.Duration) {
	f.t.Helper()
	deadline := time.Now().Add(within)
	for {
		data, _ := os.ReadFile(f.coords[id].log)
		if strings.Count(string(data), text) >= n {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("coordinator %s: %d lines with %q after %v, want %d", id, strings.Count(string(data), text), text, within, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// owner returns the coordinator whose log says it took job id.
func (f *haFleet) owner(id string) string {
	f.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for c, p := range f.coords {
			data, _ := os.ReadFile(p.log)
			for _, l := range strings.Split(string(data), "\n") {
				if strings.Contains(l, "job submitted") && strings.Contains(l, id) {
					return c
				}
			}
		}
	}
	f.t.Fatalf("no coordinator logged job %s", id)
	return ""
}

// TestFaultCoordinatorFailover: two coordinators on a three-server NATS
// cluster; the one that took a job is killed with SIGKILL while the job
// runs, holding a status request of the client; the other takes the job
// over from the shared store and finishes it: the client's next status
// request says so, and every node ends exited with its whole output,
// which `attach` through the survivor shows.
func TestFaultCoordinatorFailover(t *testing.T) {
	skipShort(t)
	bound := scenarioBound(t)
	nodes := 300
	if faultFull() {
		nodes = 1000
	}
	f := startHAFleet(t, nodes, 50)
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	spec := protocol.JobSpec{ID: client.NewID(), Nodes: fmt.Sprintf("node[1-%d]", nodes),
		Command: "echo begin; sleep 2; echo end"}
	job, err := f.client.Submit(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	// The submitter's stream may end when its coordinator dies: what
	// counts is what the survivor reports. Its first output says the job
	// runs; it is read no further, so that the test's status requests are
	// its only requests to the coordinators (Next's checks of a silent
	// stream are some too).
	for running := false; !running; {
		b, err := job.Next(ctx)
		if err != nil {
			break
		}
		for _, r := range b.Events {
			running = running || r.Kind == protocol.KindStdout
		}
	}
	job.Close()
	owner := f.owner(spec.ID)
	survivor := map[string]string{"a": "b", "b": "a"}[owner]
	// The owner dies holding a status request of the test, unanswered:
	// stopped (SIGSTOP), it keeps its connection and subscriptions, and
	// takes its share of the requests of the queue group; the first one
	// its server gives it, it dies (SIGKILL). CI once did the same with
	// the SIGKILL alone: the request sent right after it went to the
	// owner, whose server had not yet seen its connection close.
	delivered, err := f.registryMsgs(coordHome[owner])
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(-f.coords[owner].cmd.Process.Pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	killedAt := make(chan time.Time, 1)
	kctx, polled := context.WithCancel(ctx)
	go func() {
		for n, err := delivered, error(nil); n == delivered && err == nil && kctx.Err() == nil; {
			time.Sleep(10 * time.Millisecond)
			n, err = f.registryMsgs(coordHome[owner])
		}
		f.coords[owner].kill(syscall.SIGKILL)
		killedAt <- time.Now()
	}()

	// Wait for the survivor to report the job done, then read it whole.
	lost := waitDone(ctx, t, f.client, spec.ID, bound)
	polled() // none reached the owner (each one had an even chance): kill it now
	killed := <-killedAt
	took := time.Since(killed)
	t.Logf("killed coordinator %s %v after the submit; %s survives; %d status request(s) unanswered",
		owner, killed.Sub(began).Round(time.Millisecond), survivor, lost)
	// The survivor finished it by taking it over, not the killed one
	// before it died.
	data, _ := os.ReadFile(f.coords[survivor].log)
	if !strings.Contains(string(data), `msg="coordinator lost: its jobs taken over" coordinator=`+owner+" running=1") {
		t.Errorf("coordinator %s did not log taking over the job of %s", survivor, owner)
	}
	res := attachAll(t, ctx, f.client, spec.ID)
	counts := countStates(t, res)
	if counts[protocol.StateExited] != nodes || len(counts) != 1 {
		t.Errorf("final states %v, want %d exited", counts, nodes)
	}
	for n, r := range res {
		if got := strings.Join(r.out, ","); r.state == protocol.StateExited && got != "begin,end" {
			t.Errorf("%s: output %q, want begin,end", n, got)
			break
		}
	}
	total := time.Since(began)
	t.Logf("%d nodes: done %v after the kill, %v in all (bound %v)", nodes, took.Round(time.Millisecond), total.Round(time.Millisecond), bound)
	if total > bound {
		t.Errorf("took %v, over the bound of %v", total, bound)
	}
}

// registryMsgs is how many requests server i gave the coordinators'
// registry subscription (fleet.jobs.*) of its own clients.
func (f *haFleet) registryMsgs(i int) (int64, error) {
	sz, err := f.cluster.Server(i).Subsz(&server.SubszOptions{Subscriptions: true,
		Test: f.client.Subjects.Jobs(f.client.User)})
	if err != nil {
		return 0, err
	}
	var n int64
	for _, sub := range sz.Subs {
		if sub.Queue == protocol.CoordinatorQueue {
			n += sub.Msgs
		}
	}
	return n, nil
}

// statusPoll bounds each status request of waitDone. A coordinator
// answers one at once; one unanswered this long was lost, and is sent
// again: the queue group gave it to a coordinator that died holding it.
// Bounded by the scenario's deadline instead, that one request waited for
// its answer until the deadline (CI: "job not done within 1m0s ... no
// answer in time", while the survivor had finished the job 6 s after the
// kill).
const statusPoll = 5 * time.Second

// waitDone polls job id's status until it is done, and returns how many
// requests got no answer. It fails t when ctx (the scenario's bound)
// ends first.
func waitDone(ctx context.Context, t *testing.T, c *client.Client, id string, bound time.Duration) (lost int) {
	t.Helper()
	for {
		rctx, cancel := context.WithTimeout(ctx, statusPoll)
		st, err := c.Status(rctx, id)
		cancel()
		var ue *client.UnreachableError
		switch {
		case err == nil && st.Done:
			return lost
		case ctx.Err() != nil:
			t.Fatalf("job not done within %v (last status %+v, err %v)", bound, st, err)
		case errors.As(err, &ue):
			lost++
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// attachAll attaches to job id and reads its stream to the end.
func attachAll(t *testing.T, ctx context.Context, c *client.Client, id string) map[string]*nodeResult {
	t.Helper()
	job, err := c.Attach(ctx, id)
	if err != nil {
		t.Fatalf("attach %s: %v", id, err)
	}
	defer job.Close()
	return readJob(ctx, t, job, nil)
}
