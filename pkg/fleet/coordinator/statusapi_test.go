package coordinator

import (
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Jobs lists every user's jobs, newest first and brief; Job gives one
// with its nodes folded per final state.
func TestStatusAPI(t *testing.T) {
	srv, co := startCoordinator(t, Config{})
	submitAs(t, srv, "alice", protocol.JobSpec{ID: "j1", Nodes: "n[1-5]", Command: "true"})()
	submitAs(t, srv, "bob", protocol.JobSpec{ID: "j2", Nodes: "m[1-3]", Command: "uptime"})()

	jobs := co.Jobs()
	if len(jobs) != 2 || jobs[0].ID != "j2" || jobs[1].ID != "j1" {
		t.Fatalf("jobs %+v", jobs)
	}
	if jobs[0].User != "bob" || jobs[1].User != "alice" || jobs[0].Command != "uptime" {
		t.Errorf("jobs %+v", jobs)
	}
	for _, st := range jobs {
		if st.Nodes != "" || st.States != nil || st.Unfinished != "" || !st.Done {
			t.Errorf("brief %+v", st)
		}
	}
	if jobs[1].Finals[protocol.StateNoAgent] != 5 {
		t.Errorf("finals %v", jobs[1].Finals)
	}

	st, ok := co.Job("j1")
	if !ok || st.Total != 5 || st.Nodes != "n[1-5]" || st.States[protocol.StateNoAgent] != "n[1-5]" || st.Unfinished != "" {
		t.Errorf("job j1: %v %+v", ok, st)
	}
	if _, ok := co.Job("nope"); ok {
		t.Error("unknown job found")
	}
}

// BenchmarkJobStatus is the cost of Job, what the status page asks once a
// second while a job's page is open, on a running job of 100 000 nodes:
// half ended, the other half unfinished; names that fold (node[1-100000])
// or do not (no two share a pattern).
//
//	go test -run '^$' -bench JobStatus ./pkg/fleet/coordinator
func BenchmarkJobStatus(b *testing.B) {
	bad := testutil.LetterNames(100000)
	for name, nodes := range map[string]string{"folding": "node[1-100000]", "not-folding": strings.Join(bad, ",")} {
		b.Run(name, func(b *testing.B) {
			co, err := New(nil, Config{Logger: natstest.Logger(b)})
			if err != nil {
				b.Fatal(err)
			}
			j, err := co.accept(protocol.JobSpec{ID: "big", Nodes: nodes})
			if err != nil {
				b.Fatal(err)
			}
			j.mu.Lock()
			for n := range len(j.nodes) / 2 {
				j.finish(uint32(n), protocol.StateExited, 0, "")
			}
			j.mu.Unlock()
			co.mu.Lock()
			co.jobs[j.spec.ID] = j
			co.mu.Unlock()
			for b.Loop() {
				if st, ok := co.Job("big"); !ok || st.Finals[protocol.StateExited] != 50000 {
					b.Fatalf("%v %v", ok, st.Finals)
				}
			}
		})
	}
}
