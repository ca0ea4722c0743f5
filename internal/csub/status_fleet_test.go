package csub

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/fleet/agent"
	"github.com/fleetsh/fleetsh/pkg/fleet/client"
	"github.com/fleetsh/fleetsh/pkg/fleet/coordinator"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// statusTopology has two gateway groups with agents (gw[1-2], two
// agents; gw3, one) and one without (gw4): its nodes end "no agent".
const statusTopology = `[routes]
admin: gw[1-4]
gw[1-2]: n[1-4]
gw3: m[1-2]
gw4: x1
`

// statusRelease is the release the test agents report.
const statusRelease = "v9.9.9-test"

// groupFleet is a coordinator with a topology and real agents, in this
// process, on a real NATS server.
type groupFleet struct {
	url  string
	co   *coordinator.Coordinator
	nc   *client.Client // as the user csub runs as ("tester")
	stop map[string]func()
}

// startGroupFleet runs a coordinator routing statusTopology, its local
// agent and the agents gw1-a, gw2-a and gw3-a. Each agent but the local
// one reports a fixed load average; every one reports statusRelease.
func startGroupFleet(t *testing.T, cfg coordinator.Config) *groupFleet {
	t.Helper()
	srv := natstest.Start(t, 0)
	cfg.Router, cfg.Logger = coordinator.FromTopology(testutil.Router(t, statusTopology, "admin")), natstest.Logger(t)
	co, err := coordinator.New(srv.Connect(t, "coordinator"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &groupFleet{url: srv.URL(), co: co, stop: map[string]func(){},
		nc: &client.Client{Conn: srv.Connect(t, "tester"), User: "tester"}}
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	wg.Add(1)
	go func() { defer wg.Done(); _ = co.Run(ctx) }()
	loads := map[string]float64{"gw1": 0.25, "gw2": 1.5, "gw3": 12}
	for _, name := range []string{"local", "gw1", "gw2", "gw3"} {
		acfg := agent.Config{ID: name + "-a", Name: name, Local: name == "local", Worker: "exec", Release: statusRelease,
			Logger: natstest.Logger(t), CoordinatorKeys: []string{co.PublicKey()}, Capacity: 16,
			LoadAverage: func() (float64, error) { return 0, errors.New("no load average here") }}
		if l, ok := loads[name]; ok {
			acfg.LoadAverage = func() (float64, error) { return l, nil }
		}
		ag, err := agent.New(srv.Connect(t, name), acfg)
		if err != nil {
			t.Fatal(err)
		}
		actx, acancel := context.WithCancel(ctx)
		done := make(chan struct{})
		wg.Add(1)
		go func() { defer wg.Done(); defer close(done); _ = ag.Run(actx) }()
		f.stop[acfg.ID] = func() { acancel(); <-done }
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	// Ready once every agent has heartbeated (a Hello carries no load).
	f.waitAgents(t, func(as []protocol.AgentStatus) bool {
		with := 0
		for _, a := range as {
			if a.Load != nil {
				with++
			}
		}
		return len(as) == 4 && with == 3
	})
	return f
}

// waitAgents waits until ok holds of the coordinator's agents.
func (f *groupFleet) waitAgents(t *testing.T, ok func([]protocol.AgentStatus) bool) []protocol.AgentStatus {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // a hang catcher
	for {
		as := f.co.Agents()
		if ok(as) {
			return as
		}
		if time.Now().After(deadline) {
			t.Fatalf("agents never as expected: %+v", as)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// csub runs csub on the fleet with its clock at now (nil: time.Now),
// and returns its exit status and outputs.
func (f *groupFleet) csub(t *testing.T, now func() time.Time, args ...string) (int, string, string) {
	t.Helper()
	var out, errb testutil.SyncBuffer
	rc := runCSubAt(t, now, map[string]string{envFleet: f.url}, nil, &out, &errb, args...)
	return rc, out.String(), errb.String()
}

// lastJob returns the id of the newest job csub jobs lists.
func (f *groupFleet) lastJob(t *testing.T) string {
	t.Helper()
	jobs, err := f.nc.Jobs(context.Background())
	if err != nil || len(jobs) == 0 {
		t.Fatalf("jobs: %v %v", jobs, err)
	}
	return jobs[len(jobs)-1].ID
}
