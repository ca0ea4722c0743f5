package coordinator

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/fleet/client"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// startPair runs coordinators "a" and "b" on two servers of a three-server
// NATS cluster and waits until each has heard the other.
func startPair(t *testing.T, cfg Config, opts natstest.ClusterOptions) (*natstest.Cluster, *Coordinator, *Coordinator) {
	t.Helper()
	opts.NoJetStream = true
	c := natstest.StartCluster(t, opts)
	cfg.ID = "a"
	a := runCoordinator(t, onServer{c, 0}, cfg)
	cfg.ID = "b"
	b := runCoordinator(t, onServer{c, 1}, cfg)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if lost, ok := a.Peers()["b"]; ok && !lost {
			if lost, ok := b.Peers()["a"]; ok && !lost {
				return c, a, b
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the coordinators did not hear each other: a %v, b %v", a.Peers(), b.Peers())
		}
	}
}

// onServer connects to server i of a cluster first.
type onServer struct {
	c *natstest.Cluster
	i int
}

func (o onServer) Connect(t testing.TB, name string) *nats.Conn { return o.c.ConnectTo(t, o.i, name) }

// owner returns which of the coordinators holds job id.
func owner(t *testing.T, id string, cos ...*Coordinator) *Coordinator {
	t.Helper()
	var out *Coordinator
	for _, co := range cos {
		if co.job(id) != nil {
			if out != nil {
				t.Fatalf("job %s held by two coordinators", id)
			}
			out = co
		}
	}
	if out == nil {
		t.Fatalf("job %s held by no coordinator", id)
	}
	return out
}

// Two coordinators on one NATS cluster: an agent registered once is known
// to both; each job is taken by one of them and only that one dispatches
// it and answers its agent's summary (a summary refused by the other
// would make the agent drop its shard); status, list and cancel reach
// the job's owner through either.
func TestTwoCoordinatorsShareWork(t *testing.T) {
	c, a, b := startPair(t, Config{}, natstest.ClusterOptions{})
	ag := newFakeAgent(t, onServer{c, 2}, "g1")
	for _, co := range []*Coordinator{a, b} {
		for len(co.Agents()) == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	const jobs = 6
	var waits []func() result
	for i := range jobs {
		waits = append(waits, submit(t, onServer{c, 2}, protocol.JobSpec{ID: fmt.Sprintf("j%d", i), Nodes: "n[1-2]", Command: "true"}))
	}
	held := map[string]int{}
	for range jobs {
		s := ag.shard()
		held[owner(t, s.Job, a, b).cfg.ID]++
		ag.finish(s, start(0, 1), line("out", 0, 1), exit(0, 0, 1))
	}
	t.Logf("jobs per coordinator: %v", held)
	for i, wait := range waits {
		if res := wait(); res.states["n1"] != protocol.StateExited || res.states["n2"] != protocol.StateExited {
			t.Errorf("j%d: %v", i, res.states)
		}
	}
	nc := c.ConnectTo(t, 2, "csub")
	// The queue group sends each request to either: every one is answered
	// for every job.
	for range 4 {
		r := jobsRequest(t, nc, testUser, protocol.JobsRequest{Kind: protocol.JobsList})
		if len(r.Jobs) != jobs || r.Error != "" {
			t.Fatalf("list: %d jobs (%s), want %d", len(r.Jobs), r.Error, jobs)
		}
		for i := range jobs {
			id := fmt.Sprintf("j%d", i)
			r := jobsRequest(t, nc, testUser, protocol.JobsRequest{Kind: protocol.JobsStatus, Job: id})
			if r.Error != "" || len(r.Jobs) != 1 || r.Jobs[0].ID != id {
				t.Fatalf("status of %s: %+v", id, r)
			}
		}
	}
	if r := jobsRequest(t, nc, testUser, protocol.JobsRequest{Kind: protocol.JobsStatus, Job: "nope"}); r.Code != protocol.CodeUnknownJob {
		t.Errorf("status of an unknown job: %+v", r)
	}
	// A cancel through either coordinator reaches the owner.
	wait := submit(t, onServer{c, 2}, protocol.JobSpec{ID: "jc", Nodes: "n[1-2]", Command: "sleep 9"})
	s := ag.shard()
	ag.send(s, start(0, 1))
	if r := jobsRequest(t, nc, testUser, protocol.JobsRequest{Kind: protocol.JobsCancel, Job: "jc"}); r.Error != "" {
		t.Fatalf("cancel: %+v", r)
	}
	for ctl := range ag.ctl {
		if ctl.Kind == protocol.ControlCancel && ctl.Job == "jc" {
			break
		}
	}
	ag.finish(s, protocol.Event{Kind: protocol.KindEnd, Nodes: []uint32{0, 1}, State: protocol.StateCancel})
	if res := wait(); res.states["n1"] != protocol.StateCancel {
		t.Errorf("cancelled job: %v", res.states)
	}
}

// A node set too large for one message arrives in parts, each of which
// the queue group may give to either coordinator: they are put together
// by one, and the job runs whole.
func TestTwoCoordinatorsSubmitParts(t *testing.T) {
	const maxPayload = 16 << 10
	c, a, b := startPair(t, Config{LostAfter: time.Hour, DispatchTimeout: time.Minute, MaxBatch: 4 << 10}, natstest.ClusterOptions{
		Base: func() (*server.Options, error) {
			return &server.Options{MaxPayload: maxPayload, MaxPending: 128 << 20}, nil
		}})
	ag := newFakeAgent(t, onServer{c, 2}, "g1")
	for _, co := range []*Coordinator{a, b} {
		for len(co.Agents()) == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	names := testutil.BadNames(2500)
	cl := &client.Client{Conn: c.ConnectTo(t, 2, "csub")}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 3 {
		spec := protocol.JobSpec{ID: fmt.Sprintf("big%d", i), Nodes: fold(t, names), Command: "true"}
		if data, _ := protocol.Marshal(spec); len(data) < 3*maxPayload {
			t.Fatalf("job spec of %d bytes: not in parts", len(data))
		}
		job, err := cl.Submit(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		owner(t, spec.ID, a, b)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for covered := 0; covered < len(names); {
				select {
				case s := <-ag.shards:
					n := len(expand(t, s.Nodes))
					covered += n
					var idx []uint32
					for i := range n {
						idx = append(idx, uint32(i))
					}
					last := ag.send(s, start(idx...), exit(0, idx...))
					if r := ag.doneEventually(s, last); !r.OK {
						t.Errorf("shard %s: done %+v", s.Key(), r)
					}
				case <-ctx.Done():
					return
				}
			}
		}()
		if got := readAll(t, ctx, job); len(got) != len(names) {
			t.Errorf("%s: %d nodes ended, want %d", spec.ID, len(got), len(names))
		}
		<-done
		job.Close()
	}
}

// A coordinator that stops is lost to the other after LostAfter of
// silence; one that comes back is live again.
func TestPeerLost(t *testing.T) {
	c, a, _ := startPair(t, Config{Heartbeat: 50 * time.Millisecond, LostAfter: 200 * time.Millisecond}, natstest.ClusterOptions{})
	// A third coordinator, "c", joins and leaves.
	ctx, cancel := context.WithCancel(context.Background())
	co, err := New(c.ConnectTo(t, 2, "coordinator-c"), Config{ID: "c", Heartbeat: 50 * time.Millisecond, Logger: natstest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = co.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitPeer := func(id string, lost bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if l, ok := a.Peers()[id]; ok && l == lost {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("coordinator %s: lost %v, want %v", id, a.Peers()[id], lost)
			}
		}
	}
	waitPeer("c", false)
	cancel()
	<-done
	waitPeer("c", true)
	if a.Peers()["b"] {
		t.Error("b lost too")
	}
}

// A coordinator started beside another that runs a job hears the agents'
// heartbeats, which list that job's shard, before it hears the other
// coordinator: it must not cancel a shard it does not know (it has not
// listened for LostAfter yet).
func TestNewCoordinatorLeavesOthersShards(t *testing.T) {
	c := natstest.StartCluster(t, natstest.ClusterOptions{NoJetStream: true})
	// LostAfter is 2 s rather than 3 heartbeats: a presence late by 300 ms
	// on a loaded machine would make b see a lost, which is another test.
	cfg := Config{ID: "a", Heartbeat: 100 * time.Millisecond, LostAfter: 2 * time.Second}
	runCoordinator(t, onServer{c, 0}, cfg)
	ag := newFakeAgent(t, onServer{c, 2}, "g1")
	wait := submit(t, onServer{c, 2}, protocol.JobSpec{ID: "jr", Nodes: "n1", Command: "true"})
	s := ag.shard()
	ag.send(s, start(0))
	cfg.ID = "b"
	b := runCoordinator(t, onServer{c, 1}, cfg)
	for b.Peers()["a"] || len(b.Peers()) == 0 || len(b.Agents()) == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(3 * cfg.Heartbeat) // more of the agent's heartbeats
	for len(ag.ctl) > 0 {
		if ctl := <-ag.ctl; ctl.Kind == protocol.ControlCancel {
			t.Fatalf("the new coordinator cancelled the other's shard: %+v", ctl)
		}
	}
	ag.finish(s, exit(0, 0))
	if res := wait(); res.states["n1"] != protocol.StateExited {
		t.Errorf("states %v", res.states)
	}
}
