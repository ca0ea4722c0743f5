package integration

import (
	"context"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/pkg/fleet/client"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// TestFaultCoordinatorRestart: a coordinator joined to an external NATS
// (the site's nats-server.conf, JetStream on) is killed with SIGKILL in
// the middle of a job with output, and started again with the same
// flags. It resumes the job from its journal: the agents resend the
// batches it had not acked and retry their summaries, and every node
// ends exited with its whole output, which an attach from the start
// shows, and which the submitter's own stream shows too: its client
// attaches again to the new coordinator from the records it had. After a
// second restart the finished job is still listed, with its counts.
// `csub status --wait JOB`, started before the kill, waits through the
// restart and exits 0 once the job is done.
func TestFaultCoordinatorRestart(t *testing.T) {
	skipShort(t)
	bound := scenarioBound(t)
	nodes := "node[1-300]" // gw1 and gw2 (the coordinator's local agent dies with it: no local nodes)
	if faultFull() {
		nodes = "node[1-1000]"
	}
	srv := startSiteNATS(t, 0, fleetAgents...)
	began := time.Now()
	f := startSiteFleet(t, srv)
	t.Logf("fleet started in %v", time.Since(began).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	spec := protocol.JobSpec{ID: client.NewID(), Nodes: nodes, Command: "echo begin; sleep 1; echo end"}
	job, err := f.client.Submit(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	total := len(job.Nodes())
	waiter, waitErr := startCsubBg(t, f.csubEnv(), "status", "--wait", "--fleet-reconnect", "1m", spec.ID)
	waited := make(chan error, 1)
	go func() { waited <- waiter.Wait() }()
	// The submitter reads on through the restart: its client attaches
	// again from the records it has (client.Client.Reconnect), as csub
	// --fleet does. The coordinator is killed once output flows.
	args := f.coord.cmd.Args[1:]
	var killed time.Time
	streamed := readJob(ctx, t, job, func(el time.Duration) {
		if killed.IsZero() && el > 1500*time.Millisecond {
			f.coord.kill(syscall.SIGKILL)
			killed = time.Now()
			f.coord = startProc(t, f.dir, "coordinator-2", "coordinator", args...)
		}
	})
	if killed.IsZero() {
		t.Fatal("the job ended before its coordinator was killed")
	}
	t.Logf("the submitter's stream ended %v after the kill (resumed %d times)", time.Since(killed).Round(time.Millisecond), job.Resumed())
	if counts := countStates(t, streamed); counts[protocol.StateExited] != total {
		t.Fatalf("the submitter's stream: states %v, want %d exited", counts, total)
	}
	for n, r := range streamed {
		if !slices.Equal(r.out, []string{"begin", "end"}) {
			t.Fatalf("the submitter's stream: %s printed %q, want begin, end", n, r.out)
		}
	}
	for _, err := f.client.Jobs(ctx); err != nil; _, err = f.client.Jobs(ctx) {
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("the new coordinator answers %v after the kill", time.Since(killed).Round(time.Millisecond))

	// The job ends in the registry of the new coordinator.
	var st *protocol.JobStatus
	for {
		st, err = f.client.Status(ctx, spec.ID)
		if err == nil && st.Done {
			break
		}
		if time.Since(killed) > bound {
			t.Fatalf("job not done %v after the kill: %+v, %v", bound, st, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(killed)
	t.Logf("%d nodes: job done %v after the SIGKILL of its coordinator: %v", total, took.Round(time.Millisecond), st.Finals)
	if st.Finals[protocol.StateExited] != total || st.Total != total {
		t.Fatalf("finals %v of %d nodes, want all exited", st.Finals, st.Total)
	}
	// A status request held by the killed coordinator costs the waiter
	// one RequestTimeout (10 s); bound only catches a hang.
	select {
	case err := <-waited:
		if err != nil {
			t.Fatalf("csub status --wait across the restart: %v: %s", err, waitErr)
		}
		t.Logf("csub status --wait returned %v after the kill", time.Since(killed).Round(time.Millisecond))
	case <-time.After(bound):
		t.Fatalf("csub status --wait still waiting %v after the job ended: %s", bound, waitErr)
	}
	// Attached from the start: every node's whole output, and one end.
	checkOutput := func(what string) {
		t.Helper()
		att, err := f.client.Attach(ctx, spec.ID)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		defer att.Close()
		res := readJob(ctx, t, att, nil)
		counts := countStates(t, res)
		if counts[protocol.StateExited] != total || len(counts) != 1 {
			t.Fatalf("%s: states %v, want %d exited", what, counts, total)
		}
		bad := 0
		for n, r := range res {
			if !slices.Equal(r.out, []string{"begin", "end"}) {
				if bad < 5 {
					t.Errorf("%s: %s printed %q, want begin, end", what, n, r.out)
				}
				bad++
			}
		}
		if bad > 0 {
			t.Fatalf("%s: %d nodes without their whole output", what, bad)
		}
	}
	checkOutput("attach after the restart")

	// Restarted again: the finished job is listed from the registry, and
	// loaded from its journal when attached.
	again := time.Now()
	f.coord.kill(syscall.SIGKILL)
	f.coord = startProc(t, f.dir, "coordinator-3", "coordinator", args...)
	// Killed at once after the end, the coordinator may not have stored
	// the last batches: the agents, which keep them unacked, resend them
	// to the next one, which ends the job again.
	for {
		listed, err := f.client.Jobs(ctx)
		i := slices.IndexFunc(listed, func(s protocol.JobStatus) bool { return s.ID == spec.ID })
		if err == nil && i >= 0 && listed[i].Done {
			if listed[i].Finals[protocol.StateExited] != total {
				t.Fatalf("jobs after a second restart: %s", fmt.Sprint(listed))
			}
			break
		}
		if time.Since(again) > bound {
			t.Fatalf("jobs %v after a second restart: %s, %v", bound, fmt.Sprint(listed), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	checkOutput("attach after a second restart")
	t.Logf("second restart, list and attach: %v", time.Since(again).Round(time.Millisecond))
}
