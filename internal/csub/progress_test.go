package csub

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

func rec(kind protocol.Kind, st protocol.State, code int, nodes ...uint32) protocol.Event {
	return protocol.Event{Kind: kind, Nodes: nodes, State: st, Code: code}
}

func TestTracker(t *testing.T) {
	nodes := []string{"n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9", "n10", "n11", "n12"}
	t0 := time.Unix(1000, 0)
	tr := newTracker(nodes, t0)
	for _, r := range []protocol.Event{
		rec(protocol.KindStart, "", 0, 0, 1, 2, 3),
		rec(protocol.KindStdout, "", 0, 4),                    // output without a start: running
		rec(protocol.KindEnd, protocol.StateExited, 0, 0),     // ok
		rec(protocol.KindEnd, protocol.StateExited, 2, 1),     // failed
		rec(protocol.KindEnd, protocol.StateTimeout, 255, 2),  // failed
		rec(protocol.KindEnd, protocol.StateExited, 0, 2),     // duplicate end
		rec(protocol.KindEnd, protocol.StateNoAgent, 255, 11), // never started
		rec(protocol.KindStart, "", 0, 11),                    // after its end: ignored
	} {
		tr.record(&r)
	}
	if got, want := tr.line(t0.Add(2*time.Second)), "csub:  4/12 done, 3 failed, 2 running, 2.0 nodes/s"; got != want {
		t.Errorf("line %q, want %q", got, want)
	}
	if got, want := tr.status(), "csub: in progress(2): n[4-5]\ncsub: pending(6): n[6-11]\n"; got != want {
		t.Errorf("status %q, want %q", got, want)
	}
	for i := range nodes {
		tr.record(&protocol.Event{Kind: protocol.KindEnd, Nodes: []uint32{uint32(i)}, State: protocol.StateExited})
	}
	if got, want := tr.status(), "csub: in progress(0): \n"; got != want {
		t.Errorf("status %q, want %q", got, want)
	}
}

// fakeTTY is a terminal standard error (and output) for the tests.
func fakeTTY(w *testutil.SyncBuffer) *terminal {
	return &terminal{errw: w, errFd: -1, outTTY: true, bol: true}
}

// waitFor waits until cond holds on w's content.
func waitFor(t *testing.T, w *testutil.SyncBuffer, what string, cond func(string) bool) {
	t.Helper()
	for start := time.Now(); !cond(w.String()); time.Sleep(5 * time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("no %s in %q", what, w.String())
		}
	}
}

func setProgressTiming(t *testing.T, delay, every time.Duration) {
	d, e := progressDelay, progressEvery
	progressDelay, progressEvery = delay, every
	t.Cleanup(func() { progressDelay, progressEvery = d, e })
}

// TestProgressLine: the line shows after the delay, is erased before any
// output and at the end, and never cuts an output line. The test beats
// the clock itself (term.tick with its own times; the real ticker never
// fires), so a loaded machine cannot add or drop a draw.
func TestProgressLine(t *testing.T) {
	setProgressTiming(t, time.Second, time.Hour)
	var w testutil.SyncBuffer
	term := fakeTTY(&w)
	start := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return start.Add(d) }
	term.now = func() time.Time { return start }
	out, errw := term.wrap(&w, true), term.wrap(&w, false)
	term.begin([]string{"a", "b"}, true, true)
	term.batch(&protocol.EventBatch{Events: []protocol.Event{rec(protocol.KindStart, "", 0, 0, 1)}})
	term.tick(at(999 * time.Millisecond))
	if s := w.String(); s != "" {
		t.Fatalf("drawn before the delay: %q", s)
	}
	term.tick(at(time.Second))
	const line = "\rcsub: 0/2 done, 0 failed, 2 running, "
	if s := w.String(); !strings.Contains(s, line) {
		t.Fatalf("no progress line after the delay: %q", s)
	}
	// Half a line: no redraw until the line is complete.
	out.Write([]byte("a: par"))
	n := len(w.String())
	term.tick(at(1250 * time.Millisecond))
	if len(w.String()) != n {
		t.Fatalf("drawn over a partial line: %q", w.String()[n:])
	}
	errw.Write([]byte("tial\n"))
	term.batch(&protocol.EventBatch{Events: []protocol.Event{rec(protocol.KindEnd, protocol.StateExited, 1, 0)}})
	term.tick(at(1500 * time.Millisecond))
	if s := w.String(); !strings.Contains(s, "\rcsub: 1/2 done, 1 failed, 1 running, ") {
		t.Fatalf("no redraw after the node ended: %q", s)
	}
	term.end()
	s := w.String()
	if !strings.HasSuffix(s, eraseLine) {
		t.Fatalf("not erased at the end: %q", s)
	}
	// Every line drawn is erased before what follows it.
	drawn := regexp.MustCompile("\rcsub: [^\r\n]*\x1b\\[K")
	for _, loc := range drawn.FindAllStringIndex(s, -1) {
		if !strings.HasPrefix(s[loc[1]:], eraseLine) {
			t.Fatalf("not erased before %q in %q", s[loc[1]:], s)
		}
	}
	if got := len(drawn.FindAllString(s, -1)); got != 2 {
		t.Fatalf("drawn %d times, want 2 (at 1 s and after the end of a): %q", got, s)
	}
	if got := strings.NewReplacer(eraseLine, "").Replace(s); !strings.Contains(got, "a: partial\n") {
		t.Fatalf("output %q", got)
	}
	// Nothing after the end, whatever the clock says.
	term.tick(at(3 * time.Second))
	if w.String() != s {
		t.Fatalf("written after the end: %q", w.String()[len(s):])
	}
}

// TestProgressLineOff: -q (line false), or clush's counter on the same
// terminal (a write ending with '\r'), keep the line away.
func TestProgressLineOff(t *testing.T) {
	setProgressTiming(t, 0, 5*time.Millisecond)
	for _, counter := range []bool{false, true} {
		var w testutil.SyncBuffer
		term := fakeTTY(&w)
		term.begin([]string{"a"}, counter, true)
		if counter {
			term.wrap(&w, false).Write([]byte("csub: 0/1\r"))
		}
		time.Sleep(40 * time.Millisecond)
		term.key(keyStatus) // Ctrl-T still works
		term.end()
		want := "csub: in progress(0): \ncsub: pending(1): a\n"
		if counter {
			want = "csub: 0/1\r\x1b[K" + want
		}
		if w.String() != want {
			t.Errorf("counter %v: %q, want %q", counter, w.String(), want)
		}
	}
}

// TestKeys: Ctrl-T prints the sets, Enter clush's message; both wait for
// the end of an output line; other keys are dropped.
func TestKeys(t *testing.T) {
	setProgressTiming(t, time.Hour, 5*time.Millisecond)
	var w testutil.SyncBuffer
	term := fakeTTY(&w)
	term.begin([]string{"n1", "n2", "n3"}, true, true)
	defer term.end()
	term.batch(&protocol.EventBatch{Events: []protocol.Event{rec(protocol.KindStart, "", 0, 0, 1)}})
	term.key('x')
	term.key(keyStatus)
	if got, want := w.String(), "csub: in progress(2): n[1-2]\ncsub: pending(1): n3\n"; got != want {
		t.Fatalf("Ctrl-T: %q, want %q", got, want)
	}
	w = testutil.SyncBuffer{}
	out := term.wrap(&w, true)
	out.Write([]byte("n1: half"))
	term.key(keyNL)
	if w.String() != "n1: half" {
		t.Fatalf("status cut a line: %q", w.String())
	}
	out.Write([]byte(" line\n"))
	if got, want := w.String(), "n1: half line\ncsub: interrupt (^C to abort task)\ncsub: in progress(2): n[1-2]\ncsub: pending(1): n3\n"; got != want {
		t.Fatalf("Enter: %q, want %q", got, want)
	}
}

// TestRunningOnInterrupt: the running nodes are named after a Ctrl-C,
// unless no node was pending (clush's message then names them all).
func TestRunningOnInterrupt(t *testing.T) {
	setProgressTiming(t, time.Hour, time.Hour)
	var w testutil.SyncBuffer
	term := fakeTTY(&w)
	term.begin([]string{"n1", "n2", "n3", "n4"}, true, true)
	term.batch(&protocol.EventBatch{Events: []protocol.Event{
		rec(protocol.KindStart, "", 0, 0, 1, 2), rec(protocol.KindEnd, protocol.StateExited, 0, 0)}})
	ns := term.running()
	term.end()
	term.printRunning(ns)
	if got, want := w.String(), "csub: n[2-3] (2): running when interrupted\n"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	term.begin([]string{"n1", "n2"}, true, true)
	term.batch(&protocol.EventBatch{Events: []protocol.Event{rec(protocol.KindStart, "", 0, 0, 1)}})
	if ns := term.running(); ns != nil {
		t.Fatalf("running %v with nothing pending", ns)
	}
	term.end()
}

// TestNoTerminal: without a terminal nothing changes: the writers are
// the same, the hooks do nothing.
func TestNoTerminal(t *testing.T) {
	var term *terminal
	var w testutil.SyncBuffer
	if term.wrap(&w, true) != &w || term.wrap(&w, false) != &w {
		t.Fatal("wrapped without a terminal")
	}
	term.begin([]string{"a"}, true, true)
	term.batch(&protocol.EventBatch{})
	term.printRunning(term.running())
	term.end()
	term.close()
	// stdout not a terminal: only stderr is wrapped.
	term = &terminal{errw: &w, errFd: -1}
	if term.wrap(&w, true) != &w || term.wrap(&w, false) == &w {
		t.Fatal("wrong streams wrapped")
	}
	if w.String() != "" {
		t.Fatalf("wrote %q", w.String())
	}
}
