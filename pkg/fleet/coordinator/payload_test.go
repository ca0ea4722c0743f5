package coordinator

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/fleet/client"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// fold returns the folded set of names and its size.
func fold(t testing.TB, names []string) string {
	set := nodeset.New()
	for _, n := range names {
		if err := set.AddNode(n); err != nil {
			t.Fatal(err)
		}
	}
	return set.String()
}

// answer plays a real agent's part for shard s: every node starts,
// prints its own name as the agent numbers it (the expansion of the
// shard's set) and exits 0; batches stay under max_payload.
func (a *fakeAgent) answer(s protocol.Shard) {
	names := expand(a.t, s.Nodes)
	var last uint64
	for lo := 0; lo < len(names); lo += 2000 {
		hi := min(lo+2000, len(names))
		var recs []protocol.Event
		for i := lo; i < hi; i++ {
			recs = append(recs, start(uint32(i)), line(names[i], uint32(i)), exit(0, uint32(i)))
		}
		last = a.send(s, recs...)
	}
	a.doneOK(s, last)
}

// A job of 40 000 long names that fold to 1.1 MB, over NATS's 1 MiB
// max_payload: the client submits the set in parts, the coordinator
// cuts it into shards that each fit, and every node ends exited with its
// own output (node indexes map back through each shard's own expansion).
func TestJobOverMaxPayload(t *testing.T) {
	const nodes = 40000
	// The work of 40 000 nodes may delay the fake agent's heartbeats and
	// its answers to megabyte shards on a busy machine: losing it, or
	// dispatching a shard again, is not what this test is about.
	srv, _ := startCoordinator(t, Config{LostAfter: time.Hour, DispatchTimeout: time.Minute})
	a := newFakeAgent(t, srv, "a1")
	names := testutil.BadNames(nodes)
	spec := protocol.JobSpec{ID: "big", Nodes: fold(t, names), Command: "true"}
	if data, _ := protocol.Marshal(spec); len(data) < 1<<20 {
		t.Fatalf("job spec of %d bytes: not over max_payload", len(data))
	}
	nc := srv.Connect(t, "csub")
	c := &client.Client{Conn: nc}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	job, err := c.Submit(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	shards := 0
	covered := 0
	var answered sync.WaitGroup
	defer answered.Wait()
	for covered < len(names) {
		var s protocol.Shard
		select { // folding 40 000 names takes a while on a busy machine
		case s = <-a.shards:
		case <-ctx.Done():
			t.Fatalf("%d shards cover %d nodes, then no more", shards, covered)
		}
		shards++
		n := len(expand(t, s.Nodes))
		covered += n
		data, _ := protocol.Marshal(s)
		if len(data) > int(nc.MaxPayload()) {
			t.Errorf("shard %s is %d bytes", s.Key(), len(data))
		}
		answered.Go(func() { a.answer(s) })
	}
	if shards < 2 || covered != len(names) {
		t.Fatalf("%d shards cover %d nodes", shards, covered)
	}
	got := readAll(t, ctx, job)
	if len(got) != len(names) {
		t.Fatalf("%d nodes ended, want %d", len(got), len(names))
	}
	for name, out := range got {
		if out != "exited:"+name {
			t.Fatalf("%s: %q", name, out)
		}
	}
}

// readAll reads a job's stream to its end: per node name, its state and
// its output.
func readAll(t *testing.T, ctx context.Context, job *client.Job) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err := testutil.ReadJob(ctx, job, func(node string, r protocol.Event) {
		switch r.Kind {
		case protocol.KindStdout:
			out[node] += string(r.Data)
		case protocol.KindEnd:
			out[node] = string(r.State) + ":" + out[node] + string(r.Data)
		}
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// Multi-dimensional names: a shard's subset may expand in another order
// than the job's (ClusterShell's vector order). The shard's node i is
// still the i-th name of its own expansion, and the records reach the
// submitter under the right names.
func TestShardOrderOfMultiDimensionalSubsets(t *testing.T) {
	srv, _ := startCoordinator(t, Config{})
	a := newFakeAgent(t, srv, "a1")
	b := newFakeAgent(t, srv, "b1")
	// The second half, a0b2,a3b[1-2],a2b3, folds and expands in another
	// order than the job's [... a0b2 a3b1 a3b2 a2b3].
	spec := protocol.JobSpec{ID: "nd", Nodes: "a1b[0,2-3],a0b[0,2],a3b[1-2],a2b3", Command: "x"}
	wait := submit(t, srv, spec)
	var answered sync.WaitGroup
	defer answered.Wait()
	for _, ag := range []*fakeAgent{a, b} {
		s := ag.shard()
		answered.Go(func() { ag.answer(s) })
	}
	res := wait()
	if res.ends != 8 {
		t.Fatalf("%d ends", res.ends)
	}
	for name, lines := range res.lines {
		if strings.Join(lines, "|") != name {
			t.Errorf("%s printed %q", name, lines)
		}
	}
}

// A job over the coordinator's node limit is refused at once, counted
// from its folded set without expanding it.
func TestJobOverNodeLimit(t *testing.T) {
	srv, _ := startCoordinator(t, Config{MaxJobNodes: 1000})
	nc := srv.Connect(t, "csub")
	var reply protocol.SubmitReply
	spec := protocol.JobSpec{ID: "huge", Nodes: "n[1-100000000]", Command: "true"}
	if err := wire.Request(context.Background(), nc, subj.Submit(testUser), protocol.TypeJobSpec, spec, &reply); err != nil {
		t.Fatal(err)
	}
	want := "a job of 100000000 nodes: over the coordinator's limit of 1000 nodes per job (coordinator --max-nodes)"
	if reply.Error != want {
		t.Fatalf("reply %q, want %q", reply.Error, want)
	}
}

// A shard whose message cannot fit even for one node (the rest of the
// message leaves no room) ends its nodes with an error naming max_payload,
// not as "no agent".
func TestShardThatCannotFit(t *testing.T) {
	srv, co := startCoordinator(t, Config{})
	newFakeAgent(t, srv, "a1")
	j := newJob(co, protocol.JobSpec{ID: "fat", Nodes: "n[1-2]"}, []string{"n1", "n2"})
	got := j.pieces([]uint32{0, 1}, 2)
	if len(got) != 2 || got[0].err == nil || !strings.Contains(got[0].err.Error(), "max_payload") {
		t.Fatalf("pieces %+v", got)
	}
}

// Parts of a node set are bounded and must come in order; a spec naming
// parts that did not all arrive is refused.
func TestSubmitPartsBounds(t *testing.T) {
	_, co := startCoordinator(t, Config{})
	now := time.Now()
	if err := co.stage(protocol.SubmitPart{Job: "p", Part: 1, Nodes: "n1"}, now); err == nil {
		t.Error("part 1 first: accepted")
	}
	for i, p := range []string{"n[1-", "2],m", "3"} {
		if err := co.stage(protocol.SubmitPart{Job: "p", Part: i, Nodes: p}, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := co.stage(protocol.SubmitPart{Job: "p", Part: 2, Nodes: "3"}, now); err != nil {
		t.Errorf("repeated part: %v", err)
	}
	for i := range protocol.MaxSubmitParts + 1 {
		err := co.stage(protocol.SubmitPart{Job: "q", Part: i, Nodes: "n1,"}, now)
		if (err == nil) != (i < protocol.MaxSubmitParts) {
			t.Fatalf("part %d: %v", i, err)
		}
	}
	spec := protocol.JobSpec{ID: "p", NodeParts: 3}
	if err := co.joinParts(&spec); err != nil || spec.Nodes != "n[1-2],m3" || spec.NodeParts != 0 {
		t.Fatalf("joined %+v: %v", spec, err)
	}
	spec = protocol.JobSpec{ID: "r", NodeParts: 2}
	if err := co.joinParts(&spec); err == nil {
		t.Error("spec without its parts accepted")
	}
	// Parts whose spec never comes are forgotten.
	if err := co.stage(protocol.SubmitPart{Job: "s", Part: 0, Nodes: "n1"}, now); err != nil {
		t.Fatal(err)
	}
	co.mu.Lock()
	co.expireParts(now.Add(2 * partsTTL))
	left, bytes := len(co.staged), co.stagedBytes
	co.mu.Unlock()
	if left != 0 || bytes != 0 {
		t.Errorf("%d jobs, %d bytes staged after expiry", left, bytes)
	}
}

// A registry reply about a job whose node set is over max_payload leaves
// the set out (saying so) rather than not answering at all: csub's stall
// checks would take the silence for a dead coordinator.
func TestJobsReplyFits(t *testing.T) {
	_, co := startCoordinator(t, Config{})
	huge := strings.Repeat("x", 2<<20)
	r := protocol.JobsReply{Jobs: []protocol.JobStatus{{ID: "small", Nodes: "n1"},
		{ID: "big", Nodes: "b1", Unfinished: huge, Codes: map[int]string{0: huge}, Failed: 1}}}
	co.fitReply(&r)
	if len(r.Jobs) != 2 || r.Jobs[0].Truncated || r.Jobs[0].Nodes != "n1" || !r.Jobs[1].Truncated || r.Jobs[1].Nodes != "" ||
		r.Jobs[1].Codes != nil || r.Jobs[1].Failed != 1 {
		t.Fatalf("fitted reply: small %+v, big truncated %v", r.Jobs[0], r.Jobs[1].Truncated)
	}
}

// A shard message NATS refuses as over max_payload ends its nodes with
// that reason: another agent would fail the same way, and "no agent"
// would be a lie (the first symptom).
func TestShardOverMaxPayloadNamed(t *testing.T) {
	// The fake agent must not be lost, nor its answer be late, while a
	// loaded machine runs this.
	srv, co := startCoordinator(t, Config{LostAfter: time.Hour, DispatchTimeout: time.Minute})
	newFakeAgent(t, srv, "a1")
	j := newJob(co, protocol.JobSpec{ID: "over", Nodes: "n1"}, []string{"n1"})
	j.mu.Lock()
	s := j.newShard("", 1, localGroup, "a1", []uint32{0})
	s.fold = strings.Repeat("n", 2<<20) // as if the cut were wrong
	j.mu.Unlock()
	co.sendShard(j, s)
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.track.State(0) != protocol.StateError {
		t.Fatalf("finals %v", j.track.Finals())
	}
	last := j.log[len(j.log)-1]
	if !strings.Contains(string(last.Data), "max_payload") {
		t.Errorf("reason %q", last.Data)
	}
}
