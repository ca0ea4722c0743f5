package nodesim_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/nodesim"
	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/workers/ssh"
)

// newTask is an engine task keeping standard error apart.
func newTask(t *testing.T) *engine.Task {
	task := engine.New()
	if err := task.SetDefault(engine.DefaultStderr, true); err != nil {
		t.Fatal(err)
	}
	return task
}

func TestClass(t *testing.T) {
	for name, want := range map[string]nodesim.Behaviour{
		"n1": nodesim.OK, "n10": nodesim.Refuse, "n114": nodesim.Refuse, "n15": nodesim.Hang,
		"n9920": nodesim.AuthFail, "n29": nodesim.MidClose, "n30": nodesim.OK, "n10000": nodesim.OK,
		"hang1": nodesim.Hang, "ok10": nodesim.OK, "refuse": nodesim.Refuse, "midclose3": nodesim.MidClose,
		"authfail99": nodesim.AuthFail, "gw": nodesim.OK, "x": nodesim.OK,
	} {
		if got := nodesim.Class(name); got != want {
			t.Errorf("Class(%q) = %s, want %s", name, got, want)
		}
	}
	// Every 100 consecutive numbers hold 5 of each failing class.
	for _, set := range []string{"n[1-10000]", "node[1-2000]", "n[57-156]"} {
		ns := nodeset.MustParse(set)
		counts := map[nodesim.Behaviour]int{}
		for n := range ns.All() {
			counts[nodesim.Class(n)]++
		}
		per100 := ns.Len() / 100
		for _, b := range nodesim.Behaviours {
			want := 5 * per100
			if b == nodesim.OK {
				want = 80 * per100
			}
			if counts[b] != want {
				t.Errorf("%s: %d %s nodes, want %d", set, counts[b], b, want)
			}
		}
	}
}

// TestSimThroughEngine runs a command on 200 simulated nodes through the
// engine and the native ssh driver, as an agent does, and checks each
// class ends as its behaviour promises. The hang nodes run apart with a
// short connect timeout, the others with one no handshake reaches even
// on a loaded machine: no node's class depends on how fast it is served.
func TestSimThroughEngine(t *testing.T) {
	sim := nodesim.Start(t, nodesim.Config{MidcloseLines: 2})
	all := nodeset.MustParse("n[1-200]")
	hang := nodeset.New()
	for n := range all.All() {
		if nodesim.Class(n) == nodesim.Hang {
			if err := hang.AddNode(n); err != nil {
				t.Fatal(err)
			}
		}
	}
	run := func(nodes *nodeset.NodeSet, connectTimeout time.Duration) (*engine.Task, *engine.Worker) {
		task := newTask(t)
		task.SetInfo(engine.InfoFanout, 64)
		task.SetInfo(engine.InfoConnectTimeout, connectTimeout)
		w, err := task.Run("seq 5; echo done >&2", engine.Options{Nodes: nodes,
			Driver: &ssh.Driver{Config: sim.Env.ConfigPath, Home: t.TempDir(), RetryBackoff: 5 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		return task, w
	}
	task, w := run(all.Difference(hang), time.Minute)
	hangTask, hangWorker := run(hang, 200*time.Millisecond)
	reasons := map[nodesim.Behaviour]engine.Reason{
		nodesim.Refuse: engine.ReasonConnectRefused, nodesim.Hang: engine.ReasonConnectTimeout,
		nodesim.AuthFail: engine.ReasonAuth, nodesim.MidClose: engine.ReasonConnect,
	}
	counts := map[nodesim.Behaviour]int{}
	for n := range all.All() {
		b := nodesim.Class(n)
		counts[b]++
		task, w := task, w
		if b == nodesim.Hang {
			task, w = hangTask, hangWorker
		}
		out, rc, reason := string(task.NodeBuffer(n)), -1, engine.ReasonOf(w.NodeFailure(n))
		if code, ok := task.NodeRetcode(n); ok {
			rc = code
		}
		got := fmt.Sprintf("out %q rc %d reason %q", out, rc, reason)
		want := fmt.Sprintf("out %q rc %d reason %q", "", 255, reasons[b])
		switch b {
		case nodesim.OK:
			got = fmt.Sprintf("out %q err %q rc %d reason %q", out, task.NodeError(n), rc, reason)
			want = fmt.Sprintf("out %q err %q rc %d reason %q", "1\n2\n3\n4\n5", "done", 0, "")
		case nodesim.MidClose:
			want = fmt.Sprintf("out %q rc %d reason %q", "1\n2", 255, reasons[b])
		}
		if got != want {
			t.Errorf("%s (%s): %s, want %s", n, b, got, want)
		}
	}
	st := sim.Stats()
	if st[nodesim.OK].Execs != counts[nodesim.OK] || st[nodesim.MidClose].Execs != counts[nodesim.MidClose] ||
		st[nodesim.AuthFail].Handshakes != 0 || st[nodesim.Hang].Handshakes != 0 {
		t.Errorf("server stats %+v for classes %v", st, counts)
	}
}

// TestSimUnknownCommand checks the interpreter's answer to a command it
// does not know, through ssh.
func TestSimUnknownCommand(t *testing.T) {
	sim := nodesim.Start(t, nodesim.Config{})
	task := newTask(t)
	_, err := task.Run("uname -a", engine.Options{Nodes: nodeset.MustParse("ok1"),
		Driver: &ssh.Driver{Config: sim.Env.ConfigPath, Home: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := task.NodeRetcode("ok1")
	if msg := string(task.NodeError("ok1")); rc != 127 || !strings.Contains(msg, "nodesim: unknown command: uname") {
		t.Fatalf("rc %d stderr %q", rc, msg)
	}
}

// TestLoginAsNode checks that nodes named with LoginAsNode each print
// their own name and lines, through ssh, and other nodes log in as the
// client's user.
func TestLoginAsNode(t *testing.T) {
	sim := nodesim.Start(t, nodesim.Config{})
	if err := sim.LoginAsNode("ok1", "ok2"); err != nil {
		t.Fatal(err)
	}
	task := newTask(t)
	_, err := task.Run("whoami; nodelines 2 x", engine.Options{Nodes: nodeset.MustParse("ok[1-3]"),
		Driver: &ssh.Driver{Config: sim.Env.ConfigPath, Home: t.TempDir(), User: "someone"}})
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range map[string]string{"ok1": "ok1\nok1 1 x\nok1 2 x", "ok2": "ok2\nok2 1 x\nok2 2 x",
		"ok3": "someone\nsomeone 1 x\nsomeone 2 x"} {
		if got := string(task.NodeBuffer(n)); got != want {
			rc, _ := task.NodeRetcode(n)
			t.Errorf("%s: stdout %q (rc %d, stderr %q), want %q", n, got, rc, task.NodeError(n), want)
		}
	}
}

// BenchmarkSim runs `seq 10` on 2 000 simulated ok nodes through the
// engine and the native ssh driver (client and simulator share the
// machine's cores):
//
//	go test -run '^$' -bench Sim -benchtime 1x ./internal/nodesim
func BenchmarkSim(b *testing.B) {
	sim := nodesim.Start(b, nodesim.Config{})
	nodes := nodeset.MustParse("ok[1-2000]")
	for _, fanout := range []int{64, 256} {
		b.Run(fmt.Sprintf("fanout%d", fanout), func(b *testing.B) {
			for b.Loop() {
				task := engine.New()
				task.SetInfo(engine.InfoFanout, fanout)
				if _, err := task.Run("seq 10", engine.Options{Nodes: nodes,
					Driver: &ssh.Driver{Config: sim.Env.ConfigPath, Home: b.TempDir()}}); err != nil {
					b.Fatal(err)
				}
				if rc, ok := task.MaxRetcode(); !ok || rc != 0 {
					b.Fatalf("max rc %d", rc)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/2000, "ns/node")
		})
	}
}
