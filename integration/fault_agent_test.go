package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/tcpproxy"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// The agent fault scenarios (issue 13, item 4): an agent killed with
// SIGKILL, frozen with SIGSTOP, or cut from NATS by a stalled network
// path, mid-job, without and with a standby agent in its gateway group.
//
// Every node's command first appends its node name to a file shared by
// all nodes (the SSH test server tells a command its login name, and the
// ssh_config logs in to each node under its own name), then waits for a
// release file, written once the coordinator declared the agent lost. So
// at the fault each agent has exactly its fanout (32) of nodes started
// and blocked, which makes the outcome exact: those end "gateway lost",
// the agent's other nodes run on the standby or end "no agent", and the
// file proves each node ran at most once.

// faultFanout is the agents' fanout in startFleet.
const faultFanout = 32

// agentFaultNodes are the nodes of a scenario: in gw3's group (one agent)
// or, with a standby, in gw[1-2]'s (two agents, half each); CI's size or
// the full size (every node of the group).
func agentFaultNodes(standby bool) (nodes string, n int) {
	switch {
	case standby && faultFull():
		return "node[1-700]", 700
	case standby:
		return "node[1-128]", 128
	case faultFull():
		return "node[701-1000]", 300
	}
	return "node[701-764]", 64
}

// faultJob is a job of a fault scenario, and what its nodes did.
type faultJob struct {
	f        *testFleet
	runs     string // each command appends its node name here
	release  string // commands wait for this file
	released bool
	spec     protocol.JobSpec
	names    []string
	res      map[string]*nodeResult
	starts   int
	firstAt  time.Time // the first end in state lost
	endedAt  time.Time // the last final state
}

// newFaultJob prepares a job over nodes whose commands record their run
// and wait for the release; nodes log in to SSH under their own name.
func newFaultJob(f *testFleet, id, nodes string) *faultJob {
	f.t.Helper()
	fj := &faultJob{f: f, runs: filepath.Join(f.dir, id+".runs"), release: filepath.Join(f.dir, id+".release")}
	// A connect timeout far above what a handshake takes even on a
	// loaded machine: these scenarios are about agents, and a node that
	// ends "connect failure" would make the counts inexact.
	fj.spec = protocol.JobSpec{ID: id, Nodes: nodes, ConnectTimeout: time.Minute, Command: fmt.Sprintf(
		`echo "$SSHTEST_USER" >> %s; while [ ! -e %s ]; do sleep 0.05; done; echo done`, fj.runs, fj.release)}
	var lines []string
	for _, n := range expand(f.t, nodes) {
		lines = append(lines, "Host "+n, "    User "+n)
	}
	if err := f.env.AddConfig(lines...); err != nil {
		f.t.Fatal(err)
	}
	return fj
}

func expand(t testing.TB, nodes string) []string {
	t.Helper()
	set, err := nodeset.Parse(nodes)
	if err != nil {
		t.Fatal(err)
	}
	return set.Nodes()
}

// releaseAll lets every waiting and future command end.
func (fj *faultJob) releaseAll() {
	if fj.released {
		return
	}
	fj.released = true
	if err := os.WriteFile(fj.release, nil, 0o644); err != nil {
		fj.f.t.Fatal(err)
	}
}

// run submits the job and reads its stream to the end; after each batch
// it calls step with the job (starts and results so far).
func (fj *faultJob) run(step func(fj *faultJob)) {
	t := fj.f.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	job, err := fj.f.client.Submit(ctx, fj.spec)
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	fj.names = job.Nodes()
	fj.res = make(map[string]*nodeResult, len(fj.names))
	for _, n := range fj.names {
		fj.res[n] = &nodeResult{}
	}
	for {
		b, err := job.Next(ctx)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("job %s stream: %v", fj.spec.ID, err)
		}
		for _, r := range b.Events {
			for _, i := range r.Nodes {
				fj.record(fj.res[fj.names[i]], r)
			}
		}
		if b.Last {
			fj.endedAt = time.Now()
			return
		}
		if step != nil {
			step(fj)
		}
	}
}

func (fj *faultJob) record(nr *nodeResult, r protocol.Event) {
	switch r.Kind {
	case protocol.KindStart:
		fj.starts++
	case protocol.KindStdout:
		nr.out = append(nr.out, strings.Split(string(r.Data), "\n")...)
	case protocol.KindEnd:
		nr.ends++
		nr.state, nr.code = r.State, r.Code
		if r.State == protocol.StateLost && fj.firstAt.IsZero() {
			fj.firstAt = time.Now()
		}
	}
}

// ranTotal reads how many commands ran.
func (fj *faultJob) ranTotal() int {
	ran := 0
	for _, c := range fj.runCounts() {
		ran += c
	}
	return ran
}

// runCounts reads how many times each node's command ran.
func (fj *faultJob) runCounts() map[string]int {
	data, err := os.ReadFile(fj.runs)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		fj.f.t.Fatal(err)
	}
	n := map[string]int{}
	for _, l := range strings.Fields(string(data)) {
		n[l]++
	}
	return n
}

// check asserts the exact count of nodes per final state, that no node
// ran twice: nodes ended "exited" ran once, "gateway lost" at most once
// (an agent runs a command once the coordinator acknowledged its start:
// an ack lost with the agent leaves it never run), the others never;
// and that every node ended within bound of the fault.
func (fj *faultJob) check(want map[protocol.State]int, fault time.Time) {
	t := fj.f.t
	t.Helper()
	counts := countStates(t, fj.res)
	if !mapsEqual(counts, want) {
		t.Errorf("final states %v, want %v", counts, want)
	}
	runs := fj.runCounts()
	for n, r := range fj.res {
		switch ran := runs[n]; {
		case r.state == protocol.StateExited && ran != 1,
			r.state == protocol.StateLost && ran > 1,
			r.state != protocol.StateExited && r.state != protocol.StateLost && ran != 0:
			t.Errorf("%s (%s) ran %d times", n, r.state, ran)
		}
		if r.state == protocol.StateExited && (r.code != 0 || strings.Join(r.out, "|") != "done") {
			t.Errorf("%s: code %d output %q", n, r.code, r.out)
		}
	}
	took := fj.endedAt.Sub(fault)
	bound := scenarioBound(t)
	t.Logf("%s: %v; every node final %v after the fault (bound %v); first gateway lost after %v",
		fj.spec.ID, counts, took.Round(time.Millisecond), bound, fj.firstAt.Sub(fault).Round(time.Millisecond))
	if took > bound {
		t.Errorf("the job ended %v after the fault, over the bound %v", took, bound)
	}
}

func mapsEqual(a, b map[protocol.State]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// atStarts returns a step that calls fault once n nodes have started:
// the coordinator has their start (the stream shows it) and their
// commands run (they wrote the runs file).
func atStarts(n int, fault func()) func(*faultJob) {
	done := false
	return func(fj *faultJob) {
		if !done && fj.starts >= n {
			done = true
			fj.waitRuns(n)
			fault()
		}
	}
}

// waitRuns waits until n commands have started on their nodes.
func (fj *faultJob) waitRuns(n int) {
	t := fj.f.t
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		ran := fj.ranTotal()
		if ran >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d commands running after 30s, want %d", ran, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitLog waits until p's log holds s.
func waitLog(t testing.TB, p *proc, s string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		data, _ := os.ReadFile(p.log)
		if strings.Contains(string(data), s) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's log has no %q after 30s", p.name, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// revive resumes a stopped agent after its job ended, waits until it
// dropped its shard (the coordinator told it to cancel), and checks that
// nothing it sent changed the job's final states.
func (fj *faultJob) revive(p *proc, counts map[protocol.State]int) {
	t := fj.f.t
	t.Helper()
	if err := syscall.Kill(-p.cmd.Process.Pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitLog(t, p, "shard summary refused, shard dropped")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := fj.f.client.Status(ctx, fj.spec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Done || !mapsEqual(st.Finals, counts) {
		t.Errorf("after the agent came back: done %v finals %v, want %v", st.Done, st.Finals, counts)
	}
}

// signalAgent runs a job and, once every agent has its fanout of
// commands running, sends sig to an agent: gw3, alone in its group, or
// gw1, with gw2 as standby. Its started nodes must end "gateway lost",
// its others "no agent" or, on the standby, "exited"; every node runs at
// most once. A stopped agent is woken after the job ended.
func signalAgent(t *testing.T, id string, standby bool, sig syscall.Signal) *testFleet {
	t.Helper()
	skipShort(t)
	f := startFleet(t, "")
	nodes, n := agentFaultNodes(standby)
	fj := newFaultJob(f, id, nodes)
	victim, running, rest := f.agents["gw3"], faultFanout, protocol.StateNoAgent
	if standby {
		victim, running, rest = f.agents["gw1"], 2*faultFanout, protocol.StateExited
	}
	var fault time.Time
	signal := atStarts(running, func() {
		if err := syscall.Kill(-victim.cmd.Process.Pid, sig); err != nil {
			t.Fatal(err)
		}
		fault = time.Now()
	})
	fj.run(func(fj *faultJob) {
		signal(fj)
		if !fj.firstAt.IsZero() {
			// The coordinator declared the agent lost: only now may the
			// commands end, or one that ends while the signal takes
			// effect would be "exited" and the counts inexact.
			fj.releaseAll()
		}
	})
	fj.releaseAll()
	want := map[protocol.State]int{protocol.StateLost: faultFanout, rest: n - faultFanout}
	if sig == syscall.SIGSTOP {
		fj.revive(victim, want)
	}
	fj.check(want, fault)
	return f
}

// TestFaultAgentKill9: the only agent of a gateway group is killed with
// SIGKILL mid-job: its started nodes end "gateway lost", the others "no
// agent"; then a job for the group (and csub) says "no agent" at once.
func TestFaultAgentKill9(t *testing.T) {
	checkNoAgent(t, signalAgent(t, "kill9", false, syscall.SIGKILL))
}

// checkNoAgent runs a job over both gateway groups while gw3's has no
// live agent: its nodes fail at once, the other group's run; csub says
// so in one line naming the group and the fix, and exits non-zero.
func checkNoAgent(t *testing.T, f *testFleet) {
	t.Helper()
	began := time.Now()
	res := f.run(protocol.JobSpec{ID: "noagent", Nodes: "node[695-705]", Command: "echo hi"}, nil)
	counts := countStates(t, res)
	if counts[protocol.StateExited] != 6 || counts[protocol.StateNoAgent] != 5 {
		t.Fatalf("states %v", counts)
	}
	if d := time.Since(began); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
	r := runCsubProc(t, f.csubEnv(), "--fleet", f.natsURL, "-w", "node[700-701]", "echo hi")
	if r.status != 255 || r.stdout != "node700: hi\n" ||
		r.stderr != "csub: node701: no agent: no live agent serves gateway group gw3 (start an agent there: agent --name <one of gw3>)\n" {
		t.Errorf("csub exit %d stdout %q stderr %q", r.status, r.stdout, r.stderr)
	}
}

// TestFaultAgentKill9Standby: an agent of a group of two is killed with
// SIGKILL mid-job: its started nodes end "gateway lost", its unstarted
// ones run on the other agent, and nothing runs twice.
func TestFaultAgentKill9Standby(t *testing.T) {
	signalAgent(t, "kill9standby", true, syscall.SIGKILL)
}

// TestFaultAgentStop: the only agent of a group is frozen with SIGSTOP
// (its TCP connection stays up) mid-job: the same outcome as SIGKILL;
// woken after the job ended, it is told to cancel its shard, runs
// nothing more and changes no final state.
func TestFaultAgentStop(t *testing.T) {
	signalAgent(t, "stop", false, syscall.SIGSTOP)
}

// TestFaultAgentStopStandby: SIGSTOP of an agent of a group of two: its
// unstarted nodes run on the other; woken after the job, it runs none of
// them again.
func TestFaultAgentStopStandby(t *testing.T) {
	signalAgent(t, "stopstandby", true, syscall.SIGSTOP)
}

// TestFaultAgentProxyStall: the network path between an agent and NATS
// stalls (a TCP proxy forwards nothing either way, connections open) long
// enough for the coordinator to declare the agent lost, then drops its
// connections; the agent reconnects through the proxy, forwarding again.
// Its started nodes end "gateway lost", its unstarted ones run on the
// standby, nothing runs twice, and its late batches change no state.
func TestFaultAgentProxyStall(t *testing.T) {
	skipShort(t)
	f := startFleet(t, "")
	// gw1 again, now behind the proxy: the new process takes over the
	// agent id of the one killed.
	f.agents["gw1"].kill(syscall.SIGKILL)
	proxy, err := tcpproxy.Start(strings.TrimPrefix(f.natsURL, "tls://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	direct := f.natsURL
	f.natsURL = "tls://" + proxy.Addr()
	gw1 := f.startAgent("gw1")
	f.natsURL = direct
	waitLog(t, gw1, "agent registered")

	nodes, n := agentFaultNodes(true)
	fj := newFaultJob(f, "stall", nodes)
	var fault time.Time
	ranAtRelease := -1 // commands run when they were released
	reconnect := func() {
		if proxy.Stalled() {
			proxy.DropAll()
			proxy.Resume()
		}
	}
	fj.run(func(fj *faultJob) {
		switch {
		case fault.IsZero() && fj.starts >= 2*faultFanout:
			fj.waitRuns(2 * faultFanout)
			proxy.Stall()
			fault = time.Now()
		case ranAtRelease < 0 && !fj.firstAt.IsZero():
			// Declared lost: every command may end, the stalled
			// agent's too, which then picks up its next nodes while cut
			// off, as the coordinator gives them to the standby.
			ranAtRelease = fj.ranTotal()
			fj.releaseAll()
		case ranAtRelease >= 0 && fj.ranTotal() >= ranAtRelease+faultFanout:
			// A wave later on the standby: the connections drop and the
			// agent reconnects while the job still runs.
			reconnect()
		}
	})
	if ranAtRelease < 0 {
		t.Fatal("the job ended before gw1 was declared lost")
	}
	reconnect()
	want := map[protocol.State]int{protocol.StateLost: faultFanout, protocol.StateExited: n - faultFanout}
	waitLog(t, gw1, "shard summary refused, shard dropped")
	fj.check(want, fault)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := f.client.Status(ctx, fj.spec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !mapsEqual(st.Finals, want) {
		t.Errorf("after gw1 reconnected: finals %v, want %v", st.Finals, want)
	}
	if proxy.Accepted() < 2 {
		t.Errorf("gw1 did not reconnect through the proxy (%d connections)", proxy.Accepted())
	}
}
