package statusweb

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/fleet/agent"
	"github.com/fleetsh/fleetsh/pkg/fleet/client"
	"github.com/fleetsh/fleetsh/pkg/fleet/coordinator"
	"github.com/fleetsh/fleetsh/pkg/protocol"
	_ "github.com/fleetsh/fleetsh/pkg/workers"
)

// testTopology has two gateway groups with agents (gw1: one, gw2: two)
// and one without any (gw3: its nodes end as "no agent"); n* nodes are
// under no gateway (the local agent's).
const testTopology = `[routes]
admin: gw[1-3]
gw1: a[1-6]
gw2: b[1-6]
gw3: c[1-2]
`

// testFleet is a real coordinator and real exec-worker agents on a real
// NATS server in this process.
type testFleet struct {
	co     *coordinator.Coordinator
	client *client.Client
}

func startFleet(t *testing.T) *testFleet {
	t.Helper()
	srv := natstest.Start(t, 0)
	router := testutil.Router(t, testTopology, "admin")
	log := natstest.Logger(t)
	co, err := coordinator.New(srv.Connect(t, "coordinator"), coordinator.Config{Logger: log,
		Router: coordinator.FromTopology(router), LostAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 5)
	go func() { _ = co.Run(ctx); done <- struct{}{} }()
	agents := []agent.Config{{ID: "local-1", Name: "local", Local: true}, {ID: "gw1-1", Name: "gw1"},
		{ID: "gw2-1", Name: "gw2"}, {ID: "gw2-2", Name: "gw2"}}
	for _, cfg := range agents {
		cfg.Worker, cfg.Logger, cfg.CoordinatorKeys, cfg.Capacity = "exec", log.With("agent", cfg.ID), []string{co.PublicKey()}, 8
		ag, err := agent.New(srv.Connect(t, cfg.ID), cfg)
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = ag.Run(ctx); done <- struct{}{} }()
	}
	t.Cleanup(func() {
		cancel()
		for range 1 + len(agents) {
			<-done
		}
	})
	deadline := time.Now().Add(time.Minute) // a hang catcher
	for len(co.Agents()) < len(agents) {
		if time.Now().After(deadline) {
			t.Fatalf("agents registered: %+v", co.Agents())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return &testFleet{co: co, client: &client.Client{Conn: srv.Connect(t, "csub"), Subjects: protocol.Subjects{}, User: "operator"}}
}

// submit starts spec and returns a function that reads its output to the
// end.
func (f *testFleet) submit(t *testing.T, spec protocol.JobSpec) func() {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	job, err := f.client.Submit(ctx, spec)
	if err != nil {
		cancel()
		t.Fatalf("submit %s: %v", spec.ID, err)
	}
	return func() {
		t.Helper()
		defer cancel()
		defer job.Close()
		for {
			_, err := job.Next(ctx)
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatalf("job %s: %v", spec.ID, err)
			}
		}
	}
}

// runMixed runs a job whose nodes end in three final states: exited (a3
// and b2 with status 3), no agent (gw3's c[1-2]) and cancelled (n2, which
// waits until the job is cancelled once every other node has ended).
func (f *testFleet) runMixed(t *testing.T) {
	t.Helper()
	wait := f.submit(t, protocol.JobSpec{ID: "mixed", Nodes: "n[1-4],a[1-6],b[1-6],c[1-2]", Worker: "exec",
		Command: `case %h in a3|b2) exit 3;; n2) while :; do sleep 1; done;; esac; echo ok`})
	waitEnded(t, f.co, "mixed", 17)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := f.client.Cancel(ctx, "mixed"); err != nil {
		t.Fatal(err)
	}
	wait()
}

// mixedStates are its nodes per final state.
var mixedStates = map[protocol.State]string{
	protocol.StateExited:  "a[1-6],b[1-6],n[1,3-4]",
	protocol.StateCancel:  "n2",
	protocol.StateNoAgent: "c[1-2]",
}

// waitEnded waits until job id of src has n nodes ended.
func waitEnded(t *testing.T, src Source, id string, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute) // a hang catcher
	for {
		st, _ := src.Job(id)
		if ended(st) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: %d nodes ended, want %d", id, ended(st), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
