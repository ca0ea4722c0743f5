package coordinator

import (
	"testing"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// A job's status folds its ended nodes per final state and its exited
// nodes per exit status (what `csub status` and the status page print);
// a brief status leaves the sets out, not the count of failed nodes.
func TestStatusFoldsNodesPerState(t *testing.T) {
	srv, _, a, wait, s := agentJob(t, Config{}, protocol.JobSpec{ID: "jst", Nodes: "n[1-5]", Command: "true"})
	a.send(s, start(0, 1, 2, 3, 4))
	a.waitAck(s, a.send(s, exit(0, 0, 1, 3), exit(2, 2),
		protocol.Event{Kind: protocol.KindEnd, Nodes: []uint32{4}, State: protocol.StateTimeout, Code: 255}))
	nc := srv.Connect(t, "status")
	st := jobsRequest(t, nc, testUser, protocol.JobsRequest{Kind: protocol.JobsStatus, Job: "jst"})
	if len(st.Jobs) != 1 {
		t.Fatalf("status: %+v", st)
	}
	want := map[protocol.State]string{protocol.StateExited: "n[1-4]", protocol.StateTimeout: "n5"}
	got := st.Jobs[0].States
	for k, v := range want {
		if got[k] != v {
			t.Errorf("states %v, want %v", got, want)
		}
	}
	if len(got) != len(want) {
		t.Errorf("states %v, want %v", got, want)
	}
	// The exited nodes per exit status, and the failures counted.
	if codes := st.Jobs[0].Codes; len(codes) != 2 || codes[0] != "n[1-2,4]" || codes[2] != "n3" {
		t.Errorf("codes %v", codes)
	}
	if st.Jobs[0].Failed != 2 {
		t.Errorf("failed %d, want 2 (n3 exited 2, n5 timed out)", st.Jobs[0].Failed)
	}
	brief := jobsRequest(t, nc, testUser, protocol.JobsRequest{Kind: protocol.JobsStatus, Job: "jst", Brief: true})
	if len(brief.Jobs) != 1 || brief.Jobs[0].States != nil || brief.Jobs[0].Codes != nil || brief.Jobs[0].Failed != 2 {
		t.Errorf("brief status has node sets, or no failure count: %+v", brief.Jobs)
	}
	a.doneEventually(s, 2)
	wait()
}
