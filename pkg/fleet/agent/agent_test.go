package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// 200 nodes, exit codes by node, stdout and stderr apart, one command
// timeout: every node ends once, with the right state, code and lines.
func TestShardExec(t *testing.T) {
	t.Parallel()
	// Every batch must arrive once: no republishing because a loaded
	// machine acked late.
	_, c, a := fleet(t, Config{Capacity: 64, ResendAfter: time.Hour})
	nodes := names("n", 200)
	sh := shardOf("job1", nodes, protocol.JobSpec{
		Command:        `echo hello %h; echo err >&2; n=%h; case $n in n13) sleep 10;; esac; i=${n#n}; exit $(( i - i / 4 * 4 ))`,
		Stderr:         true,
		CommandTimeout: 4 * time.Second,
	})
	sh.MaxBatch = 2048 // several batches
	r := c.run(a, sh)
	got := r.nodes(t, len(nodes))
	ends := oneEnd(t, got)
	for i, n := range got {
		if n.starts != 1 {
			t.Errorf("%s: %d starts", nodes[i], n.starts)
		}
		if want := []string{"hello " + nodes[i]}; strings.Join(n.stdout, "|") != want[0] {
			t.Errorf("%s: stdout %q", nodes[i], n.stdout)
		}
		if strings.Join(n.stderr, "|") != "err" {
			t.Errorf("%s: stderr %q", nodes[i], n.stderr)
		}
		e := ends[i]
		if i == 13 {
			if e.State != protocol.StateTimeout {
				t.Errorf("%s: state %q, want timeout", nodes[i], e.State)
			}
			continue
		}
		if e.State != protocol.StateExited || e.Code != i%4 {
			t.Errorf("%s: end %q %d, want exited %d", nodes[i], e.State, e.Code, i%4)
		}
	}
	if f := r.summary.Finals; f[protocol.StateExited] != 199 || f[protocol.StateTimeout] != 1 {
		t.Errorf("finals %v", f)
	}
	for seq, n := range r.arrivals {
		if n != 1 {
			t.Errorf("seq %d arrived %d times", seq, n)
		}
	}
	if len(r.batches) < 3 {
		t.Errorf("only %d batches", len(r.batches))
	}
	t.Logf("%d batches, %d records, %d bytes", len(r.batches), r.records, c.bytes.Load())
}

// Gather mode sends identical output once per flush for all the nodes
// that gave it: traffic grows with flushes and distinct outputs, not with
// nodes.
func TestGather(t *testing.T) {
	t.Parallel()
	_, c, a := fleet(t, Config{Capacity: 256})
	nodes := names("g", 500)
	// Shell builtins only: 500 nodes are 500 processes, not 1000.
	cmd := `i=0; while [ $i -lt 20 ]; do i=$((i+1)); echo "the same output, line $i"; done; case %h in g7) echo odd >&2;; esac`
	r := c.run(a, shardOf("gath", nodes, protocol.JobSpec{Command: cmd, Gather: true, Stderr: true}))
	gathered := c.bytes.Load()
	got := r.nodes(t, len(nodes))
	ends := oneEnd(t, got)
	var want []string
	for i := 1; i <= 20; i++ {
		want = append(want, fmt.Sprintf("the same output, line %d", i))
	}
	for i, n := range got {
		if strings.Join(n.stdout, "|") != strings.Join(want, "|") || n.starts != 1 {
			t.Fatalf("%s: stdout %q, %d starts", nodes[i], n.stdout, n.starts)
		}
		wantErr := ""
		if i == 7 {
			wantErr = "odd"
		}
		if strings.Join(n.stderr, "|") != wantErr {
			t.Errorf("%s: stderr %q", nodes[i], n.stderr)
		}
		if ends[i].State != protocol.StateExited || ends[i].Code != 0 {
			t.Errorf("%s: end %+v", nodes[i], ends[i])
		}
	}
	// What per-node mode sends at best: every node's lines in one
	// record, starts and ends coalesced into one record each.
	perNode := protocol.EventBatch{Job: "gath", Shard: "s1", Attempt: 1, Agent: a.ID(), Seq: 1}
	all := make([]uint32, len(nodes))
	for i := range all {
		all[i] = uint32(i)
	}
	perNode.Events = append(perNode.Events, protocol.Event{Kind: protocol.KindStart, Nodes: all, At: time.Now()})
	for i := range nodes {
		perNode.Events = append(perNode.Events, protocol.Event{Kind: protocol.KindStdout, Nodes: []uint32{uint32(i)},
			Data: []byte(strings.Join(want, "\n"))})
	}
	perNode.Events = append(perNode.Events, protocol.Event{Kind: protocol.KindEnd, Nodes: all, State: protocol.StateExited, At: time.Now()})
	plain := int64(len(mustEncode(t, &perNode)))
	t.Logf("gather mode: %d batches, %d records, %d bytes; per-node mode at best: %d bytes", len(r.batches), r.records, gathered, plain)
	if gathered*4 > plain {
		t.Errorf("gather mode sent %d bytes, per-node mode would send %d", gathered, plain)
	}
	if r.records >= len(nodes) {
		t.Errorf("gather mode sent %d records for %d nodes", r.records, len(nodes))
	}
}

// With no acks the agent never has more than Window batches out; it
// resumes when acked. The engine is not held back meanwhile: its batches
// wait in the spool, spilled past the agent's memory bound.
func TestFlowControl(t *testing.T) {
	t.Parallel()
	_, c, a := fleet(t, Config{MaxBuffered: 32 << 10, SpillDir: t.TempDir()})
	c.ack.Store(false)
	c.ackStarts.Store(true) // the command starts: batch 1, its start, is acked
	sh := shardOf("flow", []string{"f1"}, protocol.JobSpec{Command: "seq 1 30000"})
	sh.Window, sh.MaxBatch = 3, 1024
	r := c.accept(a, sh)
	distinct := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(r.arrivals)
	}
	waitFor(t, 10*time.Second, func() bool { return distinct() >= 1+3 })
	time.Sleep(500 * time.Millisecond)
	if n := distinct() - 1; n != 3 {
		t.Fatalf("%d batches of output out without acks, window 3", n)
	}
	s := a.lookup(sh.Key())
	if s == nil || s.spool.outstanding() != 3 {
		t.Fatal("agent does not hold 3 unacked batches")
	}
	waitFor(t, 10*time.Second, s.engineDone.Load) // the command ran to its end
	if n := s.spool.spilledBytes(); n == 0 {
		t.Error("nothing spilled past a 32 KiB memory bound")
	}
	c.ack.Store(true)
	c.ackAll(a.ID())
	r = c.wait(sh.Key())
	got := r.nodes(t, 1)
	if len(got[0].stdout) != 30000 || got[0].stdout[29999] != "30000" || got[0].stdout[0] != "1" {
		t.Fatalf("%d lines", len(got[0].stdout))
	}
	for i, l := range got[0].stdout {
		if l != strconv.Itoa(i+1) {
			t.Fatalf("line %d: %q", i, l)
		}
	}
}

// A batch lost once is sent again when the coordinator asks.
func TestRetransmitOnRequest(t *testing.T) {
	t.Parallel()
	// The stale timer never fires here: a batch that comes again came
	// because the coordinator asked.
	_, c, a := fleet(t, Config{ResendAfter: time.Hour})
	c.askRetransmit.Store(true)
	sh := shardOf("rtx", []string{"r1"}, protocol.JobSpec{Command: "seq 1 3000"})
	sh.MaxBatch = 1024
	c.drop = func(b *protocol.EventBatch, n int) bool {
		return b.Seq == 2 && n == 1
	}
	r := c.run(a, sh)
	if r.arrivals[2] < 2 {
		t.Errorf("seq 2 arrived %d times", r.arrivals[2])
	}
	if got := r.nodes(t, 1); len(got[0].stdout) != 3000 {
		t.Errorf("%d lines", len(got[0].stdout))
	}
}

// Overdue batches go again and the stream goes on: a batch lost with
// nobody asking for it ("stale"), and lost acks ("lostack": the agent
// resends what is overdue, the duplicate makes the coordinator ack again).
func TestResendOverdue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		job, node string
		window    int
		resent    uint64 // the seq that must arrive twice
		lose      func(c *coord)
	}{
		{"stale", "s1", 4, 3, func(c *coord) {
			c.drop = func(b *protocol.EventBatch, n int) bool { return b.Seq == 3 && n == 1 }
		}},
		{"lostack", "l1", 2, 1, func(c *coord) {
			c.ack.Store(false)
			c.ackOnDup.Store(true) // acks get through again once the agent resent
		}},
	} {
		t.Run(tc.job, func(t *testing.T) {
			t.Parallel()
			_, c, a := fleet(t, Config{})
			tc.lose(c)
			sh := shardOf(tc.job, []string{tc.node}, protocol.JobSpec{Command: "seq 1 5000"})
			sh.MaxBatch, sh.Window = 1024, tc.window
			r := c.run(a, sh)
			if r.arrivals[tc.resent] < 2 {
				t.Errorf("seq %d arrived %d times", tc.resent, r.arrivals[tc.resent])
			}
			if got := r.nodes(t, 1); len(got[0].stdout) != 5000 {
				t.Errorf("%d lines", len(got[0].stdout))
			}
		})
	}
}

// A coordinator that answers the summary with Missing gets those batches
// again, then acknowledges.
func TestDoneMissing(t *testing.T) {
	t.Parallel()
	_, c, a := fleet(t, Config{})
	c.drop = func(b *protocol.EventBatch, n int) bool { return b.Seq >= 2 && n == 1 }
	var first protocol.DoneReply
	c.done = func(sum protocol.ShardSummary, r *recv, n int) protocol.DoneReply {
		var rep protocol.DoneReply
		if missing := r.reorder.Missing(sum.LastSeq); len(missing) > 0 {
			rep.Missing = missing
		} else {
			rep.OK = true
		}
		if n == 1 {
			first = rep
		}
		return rep
	}
	sh := shardOf("missing", []string{"m1", "m2"}, protocol.JobSpec{Command: "seq 1 1000"})
	sh.MaxBatch, sh.Window = 1024, 64
	r := c.run(a, sh)
	if len(first.Missing) == 0 || r.dones < 2 {
		t.Fatalf("first reply %+v, %d summaries", first, r.dones)
	}
	got := r.nodes(t, 2)
	oneEnd(t, got)
	if len(got[0].stdout) != 1000 || len(got[1].stdout) != 1000 {
		t.Errorf("%d and %d lines", len(got[0].stdout), len(got[1].stdout))
	}
}

// A summary refused with an error drops the shard (the coordinator has
// forgotten it).
func TestDoneError(t *testing.T) {
	t.Parallel()
	_, c, a := fleet(t, Config{})
	c.done = func(protocol.ShardSummary, *recv, int) protocol.DoneReply {
		return protocol.DoneReply{Error: "unknown shard"}
	}
	sh := shardOf("forgot", []string{"x1"}, protocol.JobSpec{Command: "true"})
	c.accept(a, sh)
	waitFor(t, 5*time.Second, func() bool { return a.lookup(sh.Key()) == nil })
	if d := c.recv(sh.Key()).dones; d != 1 {
		t.Errorf("%d summaries sent", d)
	}
}

// A coordinator that gave up on a shard acks none of its batches and
// repeats cancels: the agent stops waiting for window room, summarises
// what it sent, and drops the shard when the summary is refused.
func TestGivenUp(t *testing.T) {
	t.Parallel()
	_, c, a := fleet(t, Config{})
	c.ack.Store(false)
	c.ackStarts.Store(true) // acked before it gave up: the command ran
	c.done = func(protocol.ShardSummary, *recv, int) protocol.DoneReply {
		return protocol.DoneReply{Error: "shard was given up"}
	}
	sh := shardOf("gaveup", []string{"g1"}, protocol.JobSpec{Command: "seq 1 5000"})
	sh.MaxBatch, sh.Window = 1024, 2
	c.accept(a, sh)
	var s *shard
	waitFor(t, 10*time.Second, func() bool {
		s = a.lookup(sh.Key())
		return s != nil && s.engineDone.Load()
	})
	cancel := func(attempt int) {
		c.control(a.ID(), protocol.Control{Kind: protocol.ControlCancel, Job: sh.Job, Shard: sh.ID, Attempt: attempt})
	}
	cancel(7) // another attempt: not this one
	time.Sleep(200 * time.Millisecond)
	s.mu.Lock()
	why := s.cancelled
	s.mu.Unlock()
	if why != "" {
		t.Fatalf("cancel of attempt 7 cancelled attempt 1: %s", why)
	}
	cancel(1)
	cancel(1)
	waitFor(t, 10*time.Second, func() bool { return a.lookup(sh.Key()) == nil })
}

func waitFor(t testing.TB, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// streaming submits sh to a and returns its stream once n of its batches
// have arrived.
func (c *coord) streaming(t *testing.T, a *Agent, sh *protocol.Shard, n int) *recv {
	t.Helper()
	r := c.accept(a, sh)
	c.await(5*time.Second, func() bool {
		return len(r.batches) >= n
	})
	return r
}

// Cancel mid-shard: running commands are killed, pending nodes never
// start, every node ends cancelled.
func TestCancel(t *testing.T) {
	t.Parallel()
	_, c, a := fleet(t, Config{Capacity: 8})
	nodes := names("c", 20)
	sh := shardOf("cancel", nodes, protocol.JobSpec{Command: "sleep 30"})
	r := c.streaming(t, a, sh, 1)
	start := time.Now()
	c.control(a.ID(), protocol.Control{Kind: protocol.ControlCancel, Job: "cancel"})
	c.wait(sh.Key())
	took := time.Since(start)
	got := r.nodes(t, len(nodes))
	started := 0
	for i, e := range oneEnd(t, got) {
		if e.State != protocol.StateCancel {
			t.Errorf("%s: %q", nodes[i], e.State)
		}
		started += got[i].starts
	}
	if started != 8 {
		t.Errorf("%d nodes started, fanout 8", started)
	}
	if r.summary.Finals[protocol.StateCancel] != 20 {
		t.Errorf("finals %v", r.summary.Finals)
	}
	if took > 5*time.Second {
		t.Errorf("cancel took %v", took)
	}
}

// A repeated shard request is accepted and not run again.
func TestDuplicateShard(t *testing.T) {
	t.Parallel()
	_, c, a := fleet(t, Config{})
	dir := t.TempDir()
	sh := shardOf("dup", []string{"d1", "d2"}, protocol.JobSpec{Command: "echo x >> " + dir + "/%h; sleep 0.3"})
	for range 2 {
		c.accept(a, sh)
	}
	c.wait(sh.Key())
	waitFor(t, 5*time.Second, func() bool { return a.lookup(sh.Key()) == nil })
	if rep := c.submit(a, sh); !rep.Accepted { // after its end too
		t.Fatal(rep.Error)
	}
	time.Sleep(300 * time.Millisecond)
	for n := range nodeset.MustParse(sh.Nodes).All() {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil || string(b) != "x\n" {
			t.Errorf("%s ran: %q %v", n, b, err)
		}
	}
}

// A shard in another protocol version is refused with both versions
// named; so are invalid shards.
func TestRefusals(t *testing.T) {
	t.Parallel()
	_, c, a := fleet(t, Config{})
	data, _ := protocol.Marshal(shardOf("v", []string{"v1"}, protocol.JobSpec{Command: "true"}))
	m := wire.NewMsg(c.subj.Agent(a.ID()), protocol.TypeShard, data)
	m.Header.Set(protocol.HeaderVersion, "99")
	reply, err := c.nc.RequestMsg(m, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var rep protocol.ShardReply
	if err := protocol.Unmarshal(reply.Data, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Accepted || !strings.Contains(rep.Error, "99") || !strings.Contains(rep.Error, "version "+protocol.VersionHeader) {
		t.Errorf("reply %+v", rep)
	}
	for _, bad := range []*protocol.Shard{
		shardOf("v", nil, protocol.JobSpec{Command: "true"}),
		shardOf("v.x", []string{"v1"}, protocol.JobSpec{Command: "true"}),
		shardOf("v", []string{"v1"}, protocol.JobSpec{Command: "true", Worker: "nope"}),
		{Job: "v", ID: "s1", Nodes: "v[1", Spec: protocol.JobSpec{Command: "true"}},
		// Counted before it is expanded: refused at once.
		{Job: "v", ID: "s1", Nodes: "v[1-100000000]", Spec: protocol.JobSpec{Command: "true"}},
	} {
		if rep := c.submit(a, bad); rep.Accepted || rep.Error == "" {
			t.Errorf("%+v: %+v", bad, rep)
		}
	}
}

// Draining refuses new shards, says so in heartbeats, and returns once
// the shards held are acknowledged.
func TestDrain(t *testing.T) {
	t.Parallel()
	_, c, a := fleet(t, Config{})
	sh := shardOf("drain", []string{"d1", "d2"}, protocol.JobSpec{Command: "sleep 0.5"})
	c.accept(a, sh)
	drained := make(chan error, 1)
	go func() { drained <- a.Drain(context.Background()) }()
	waitFor(t, 5*time.Second, func() bool { a.mu.Lock(); defer a.mu.Unlock(); return a.draining })
	rep := c.submit(a, shardOf("late", []string{"d3"}, protocol.JobSpec{Command: "true"}))
	if rep.Accepted || rep.Error != "agent gw1 is draining" {
		t.Errorf("late shard: %+v", rep)
	}
	if rep := c.submit(a, sh); !rep.Accepted { // a repeat is still accepted
		t.Errorf("repeat refused: %s", rep.Error)
	}
	seen := false
	deadline := time.After(5 * time.Second)
	for !seen {
		select {
		case hb := <-c.hbs:
			seen = hb.Draining && len(hb.Shards) == 1 && hb.Shards[0] == sh.Key()
		case <-deadline:
			t.Fatal("no draining heartbeat")
		}
	}
	select {
	case err := <-drained:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("drain did not return")
	}
	if r := c.recv(sh.Key()); r.summary == nil {
		t.Fatal("drained before the summary was acknowledged")
	}
}

// Stopping the agent cancels its shards and still sends their summaries.
func TestStop(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c := newCoord(t, srv, protocol.Subjects{Prefix: "x.y"})
	a, stop, errc := testAgent(t, srv, Config{Subjects: protocol.Subjects{Prefix: "x.y"}})
	time.Sleep(300 * time.Millisecond) // nobody answers yet: the agent retries
	c.welcome(protocol.Welcome{Heartbeat: 100 * time.Millisecond})
	waitRegistered(t, c, a)
	sh := shardOf("stop", []string{"s1", "s2", "s3"}, protocol.JobSpec{Command: "sleep 30"})
	c.accept(a, sh)
	time.Sleep(200 * time.Millisecond)
	stop()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(stopGrace + 3*time.Second):
		t.Fatal("Run did not return")
	}
	r := c.wait(sh.Key())
	for i, e := range oneEnd(t, r.nodes(t, 3)) {
		if e.State != protocol.StateCancel {
			t.Errorf("node %d: %q", i, e.State)
		}
	}
}

// A coordinator refusing the agent's protocol version stops it.
func TestRegisterVersionRefused(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	c := newCoord(t, srv, protocol.Subjects{})
	c.welcome(protocol.Welcome{Error: (&protocol.VersionError{Got: "1"}).Error(), Code: protocol.CodeVersion})
	_, _, errc := testAgent(t, srv, Config{})
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "not supported") {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not fail")
	}
}

// The NATS server restarts mid-shard: the shard still completes with
// every node accounted for, batches lost meanwhile sent again.
func TestNATSRestart(t *testing.T) {
	t.Parallel()
	srv, c, a := fleet(t, Config{Capacity: 8})
	nodes := names("r", 40)
	sh := shardOf("restart", nodes, protocol.JobSpec{Command: "sleep 0.2; echo hi %h"})
	r := c.streaming(t, a, sh, 2)
	srv.Restart(300 * time.Millisecond)
	r = c.wait(sh.Key())
	got := r.nodes(t, len(nodes))
	for i, e := range oneEnd(t, got) {
		if e.State != protocol.StateExited || strings.Join(got[i].stdout, "|") != "hi "+nodes[i] {
			t.Errorf("%s: %q %q", nodes[i], e.State, got[i].stdout)
		}
	}
	if sumFinals(r.summary.Finals) != len(nodes) {
		t.Errorf("finals %v", r.summary.Finals)
	}
}

// Copy jobs, stdin and %hosts (one job for all nodes) go through too.
func TestCopyStdinHosts(t *testing.T) {
	t.Parallel()
	_, c, a := fleet(t, Config{})
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, []byte("payload"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := c.run(a, shardOf("copy", []string{"c1"}, protocol.JobSpec{
		Copy: &protocol.CopySpec{Source: src, Dest: filepath.Join(dir, "dst")}}))
	if e := oneEnd(t, r.nodes(t, 1)); e[0].State != protocol.StateExited || e[0].Code != 0 {
		t.Errorf("copy: %+v", e[0])
	}
	if b, err := os.ReadFile(filepath.Join(dir, "dst")); string(b) != "payload" {
		t.Errorf("copied %q %v", b, err)
	}
	sh := shardOf("stdin", []string{"i1", "i2"}, protocol.JobSpec{Command: "cat", Stdin: true})
	if rep := c.submit(a, sh); !rep.Accepted {
		t.Fatalf("shard refused: %s", rep.Error)
	}
	c.sendStdin(a, sh, "a\n", "b\n", "")
	r = c.wait(sh.Key())
	for i, n := range r.nodes(t, 2) {
		if strings.Join(n.stdout, "|") != "a|b" || n.writtenIn == 0 {
			t.Errorf("stdin node %d: %q, in %d written records", i, n.stdout, n.writtenIn)
		}
	}
	if w := r.writtenTotal(); w != 8 {
		t.Errorf("the two commands took %d bytes of standard input, want 2×4", w)
	}
	r = c.run(a, shardOf("hosts", []string{"h1", "h2", "h3"}, protocol.JobSpec{Command: "echo %hosts"}))
	for i, n := range r.nodes(t, 3) {
		if strings.Join(n.stdout, "|") != "h[1-3]" || len(n.ends) != 1 || n.starts != 1 {
			t.Errorf("hosts node %d: %q %d ends", i, n.stdout, len(n.ends))
		}
	}
}

// A line longer than half a batch is cut into Partial records.
func TestLongLine(t *testing.T) {
	t.Parallel()
	_, c, a := fleet(t, Config{})
	sh := shardOf("long", []string{"l1"}, protocol.JobSpec{Command: "head -c 300000 /dev/zero | tr '\\0' x; echo; echo after"})
	sh.MaxBatch = 16 << 10
	r := c.run(a, sh)
	got := r.nodes(t, 1)[0]
	if len(got.stdout) != 2 || len(got.stdout[0]) != 300000 || got.stdout[1] != "after" {
		t.Fatalf("%d lines", len(got.stdout))
	}
	for _, b := range r.batches {
		if n := len(mustEncode(t, b)); n > sh.MaxBatch+512 {
			t.Errorf("batch %d: %d bytes", b.Seq, n)
		}
	}
	sh = shardOf("longg", []string{"l1", "l2"}, protocol.JobSpec{Gather: true,
		Command: "head -c 100000 /dev/zero | tr '\\0' x; echo; echo after"})
	sh.MaxBatch = 16 << 10
	r = c.run(a, sh)
	for i, n := range r.nodes(t, 2) {
		if len(n.stdout) != 2 || len(n.stdout[0]) != 100000 || n.stdout[1] != "after" {
			t.Errorf("gathered node %d: %d lines", i, len(n.stdout))
		}
	}
}

func mustEncode(t testing.TB, b *protocol.EventBatch) []byte {
	data, err := b.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return data
}
