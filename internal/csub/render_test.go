package csub

// Table tests of the renderer: protocol records in, clush's output out.
// Each case feeds the records of one run in the order its events
// happened, and expects what /usr/bin/clush (ClusterShell 1.9.1) printed
// for that run, standard output and error merged ("2>&1": clush flushes
// every line, so the merge shows the order of its writes). The command
// of each expectation is in the case; "clush:" reads "csub:". The
// environment of those runs was CLUSTERSHELL_CFGDIR=testdata/golden/conf
// and </dev/null. States clush has no words for have expectations written
// from csub's own rule (see the package documentation).

import (
	"bytes"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// ev builds the records of a case against the job's node list.
type ev struct{ nodes []string }

func (e ev) idx(ns string) []uint32 {
	set := nodeset.MustParse(ns)
	var out []uint32
	for i, n := range e.nodes {
		if set.Contains(n) {
			out = append(out, uint32(i))
		}
	}
	if len(out) != set.Len() {
		panic("nodes " + ns + " not all in the job")
	}
	return out
}

func (e ev) out(ns string, lines ...string) protocol.Event {
	return protocol.Event{Kind: protocol.KindStdout, Nodes: e.idx(ns), Data: []byte(strings.Join(lines, "\n"))}
}

func (e ev) err(ns string, lines ...string) protocol.Event {
	return protocol.Event{Kind: protocol.KindStderr, Nodes: e.idx(ns), Data: []byte(strings.Join(lines, "\n"))}
}

// cut is a record whose last line goes on in the next one.
func (e ev) cut(ns, data string) protocol.Event {
	r := e.out(ns, data)
	r.Partial = true
	return r
}

func (e ev) exit(ns string, code int) protocol.Event {
	return protocol.Event{Kind: protocol.KindEnd, Nodes: e.idx(ns), State: protocol.StateExited, Code: code}
}

func (e ev) end(ns string, st protocol.State, reason string) protocol.Event {
	code := 255
	return protocol.Event{Kind: protocol.KindEnd, Nodes: e.idx(ns), State: st, Code: code, Data: []byte(reason)}
}

func (e ev) start(ns string) protocol.Event {
	return protocol.Event{Kind: protocol.KindStart, Nodes: e.idx(ns)}
}

type renderCase struct {
	name   string
	cmd    string // the clush command whose output is expected
	nodes  string
	args   []string // csub options (output ones)
	recs   func(e ev) []protocol.Event
	want   string
	status int
}

var renderCases = []renderCase{
	{
		name:  "live lines and exit codes as they come",
		cmd:   "clush -R exec -w node[1-4] 'echo out; echo err >&2; exit 3'",
		nodes: "node[1-4]",
		recs: func(e ev) []protocol.Event {
			return []protocol.Event{e.start("node[1-4]"),
				e.out("node1", "out"), e.err("node1", "err"), e.out("node4", "out"), e.err("node4", "err"),
				e.out("node2", "out"), e.err("node2", "err"), e.exit("node1", 3), e.exit("node4", 3), e.exit("node2", 3),
				e.out("node3", "out"), e.err("node3", "err"), e.exit("node3", 3)}
		},
		want: "node1: out\nnode1: err\nnode4: out\nnode4: err\nnode2: out\nnode2: err\n" +
			"csub: node1: exited with exit code 3\ncsub: node4: exited with exit code 3\ncsub: node2: exited with exit code 3\n" +
			"node3: out\nnode3: err\ncsub: node3: exited with exit code 3\n",
	},
	{
		name:  "gathered exit codes in the order first seen",
		cmd:   "clush -R exec -w node[1-6] -b 'case %h in node[12]) exit 7;; node[34]) exit 3;; esac; echo %h'",
		nodes: "node[1-6]",
		args:  []string{"-b"},
		recs: func(e ev) []protocol.Event {
			return []protocol.Event{e.exit("node[3-4]", 3), e.exit("node1", 7), e.out("node5", "node5"),
				e.exit("node5", 0), e.exit("node2", 7), e.out("node6", "node6"), e.exit("node6", 0)}
		},
		want: "---------------\nnode5\n---------------\nnode5\n---------------\nnode6\n---------------\nnode6\n" +
			"csub: node[3-4] (2): exited with exit code 3\ncsub: node[1-2] (2): exited with exit code 7\n",
	},
	{
		name:  "gathered records for many nodes, a line cut across records",
		cmd:   "clush -R exec -w node[1-4] -b 'echo line1; echo long line'",
		nodes: "node[1-4]",
		args:  []string{"-b"},
		recs: func(e ev) []protocol.Event {
			return []protocol.Event{e.out("node[1-4]", "line1"), e.cut("node[1-4]", "lo"), e.cut("node[1-2]", "ng"),
				e.out("node[1-2]", " line"), e.out("node[3-4]", "ng line"), e.exit("node[1-4]", 0)}
		},
		want: "---------------\nnode[1-4] (4)\n---------------\nline1\nlong line\n",
	},
	{
		name:  "live gathered: a node that gives fewer lines",
		cmd:   "clush -R exec -w node[1-3] -bL 'echo a; [ %h = node2 ] || echo b; [ %h = node3 ] && exit 4; true'",
		nodes: "node[1-3]",
		args:  []string{"-bL"},
		recs: func(e ev) []protocol.Event {
			return []protocol.Event{e.out("node1", "a", "b"), e.exit("node1", 0), e.out("node2", "a"),
				e.out("node3", "a"), e.exit("node2", 0), e.out("node3", "b"), e.exit("node3", 4)}
		},
		want: "node[1-3]: a\nnode[1,3]: b\ncsub: node3: exited with exit code 4\n",
	},
	{
		name:  "sorted with a timeout and maxrc",
		cmd:   "clush -R exec -w node[1-3] -L -S -u 0.5 'echo x; [ %h = node2 ] && sleep 2; exit 1'",
		nodes: "node[1-3]",
		args:  []string{"-L", "-S"},
		recs: func(e ev) []protocol.Event {
			return []protocol.Event{e.out("node[1-3]", "x"), e.exit("node3", 1), e.exit("node1", 1),
				e.end("node2", protocol.StateTimeout, "")}
		},
		want:   "node1: x\nnode3: x\ncsub: node[1,3] (2): exited with exit code 1\ncsub: node2: command timeout\n",
		status: 255,
	},
	{
		name:  "gathered verbose shows lines live too",
		cmd:   "clush -R exec -w node[1-2] -bv -S 'echo x; echo e >&2; exit 2'",
		nodes: "node[1-2]",
		args:  []string{"-bv", "-S"},
		recs: func(e ev) []protocol.Event {
			return []protocol.Event{e.out("node2", "x"), e.err("node2", "e"), e.out("node1", "x"), e.err("node1", "e"),
				e.exit("node[1-2]", 2)}
		},
		want:   "node2: x\nnode2: e\nnode1: x\nnode1: e\n---------------\nnode[1-2] (2)\n---------------\nx\ncsub: node[1-2] (2): exited with exit code 2\n",
		status: 2,
	},
	{
		// clush (ssh worker): ssh's own line and exit status 255. csub
		// adds its state line, after the exit codes.
		name:  "connect failures",
		cmd:   "clush -w nohost.invalid,nohost2.invalid true",
		nodes: "nohost.invalid,nohost2.invalid",
		recs: func(e ev) []protocol.Event {
			return []protocol.Event{
				e.err("nohost2.invalid", "ssh: Could not resolve hostname nohost2.invalid: Name or service not known"),
				e.end("nohost2.invalid", protocol.StateConnect, "ssh: Could not resolve hostname nohost2.invalid: Name or service not known"),
				e.err("nohost.invalid", "ssh: Could not resolve hostname nohost.invalid: Name or service not known"),
				e.end("nohost.invalid", protocol.StateConnect, "ssh: Could not resolve hostname nohost.invalid: Name or service not known")}
		},
		want: "nohost2.invalid: ssh: Could not resolve hostname nohost2.invalid: Name or service not known\n" +
			"csub: nohost2.invalid: exited with exit code 255\n" +
			"nohost.invalid: ssh: Could not resolve hostname nohost.invalid: Name or service not known\n" +
			"csub: nohost.invalid: exited with exit code 255\n" +
			"csub: nohost2.invalid,nohost.invalid: connect failure: ssh: Could not resolve hostname %h: Name or service not known\n",
	},
	{
		// No clush equivalent: fleet failures get their state line only
		// (no command exited), after clush's summaries, and count as 255
		// for -S.
		name:  "fleet failures gathered",
		nodes: "node[1-8]",
		args:  []string{"-b", "-S"},
		recs: func(e ev) []protocol.Event {
			return []protocol.Event{
				e.out("node1", "partial"), e.end("node1", protocol.StateLost, "agent gw1-a1 stopped heartbeating"),
				e.end("node2", protocol.StateLost, "agent gw1-a1 stopped heartbeating"),
				e.end("node[3-4]", protocol.StateNoAgent, "no live agent serves gateway group gw2"),
				e.out("node5", "ok"), e.exit("node5", 0),
				e.end("node6", protocol.StateAuth, "Permission denied (publickey)."),
				e.end("node7", protocol.StateError, "unknown worker \"foo\""),
				e.end("node8", protocol.StateTimeout, "")}
		},
		want: "---------------\nnode5\n---------------\nok\n---------------\nnode1\n---------------\npartial\n" +
			"csub: node6: exited with exit code 255\n" +
			"csub: node8: command timeout\n" +
			"csub: node6: auth failure: Permission denied (publickey).\n" +
			"csub: node[1-2]: gateway lost: agent gw1-a1 stopped heartbeating\n" +
			"csub: node[3-4]: no agent: no live agent serves gateway group gw2\n" +
			"csub: node7: error: unknown worker \"foo\"\n",
		status: 255,
	},
	{
		name:  "fleet failures live, reasons that differ",
		nodes: "node[1-3]",
		recs: func(e ev) []protocol.Event {
			return []protocol.Event{e.out("node1", "hi"), e.exit("node1", 0),
				e.end("node2", protocol.StateCancel, "cancelled by alice"),
				e.end("node3", protocol.StateCancel, "cancelled by bob")}
		},
		want: "node1: hi\ncsub: node2: cancelled: cancelled by alice\ncsub: node3: cancelled: cancelled by bob\n",
		// A cancel that is not this csub's own Ctrl-C is no success
		// (issue 12).
		status: 255,
	},
	{
		// Past three distinct reasons, the other nodes share a line with
		// the first of theirs as an example; a node's name inside a
		// longer one (n1 in n10) is not its name.
		name:  "fleet failures, many reasons",
		nodes: "n[1-6,10]",
		recs: func(e ev) []protocol.Event {
			return []protocol.Event{
				e.end("n1", protocol.StateConnect, "no answer from 10.0.0.1:22 within 10s (SSH banner)"),
				e.end("n2", protocol.StateConnect, "no answer from 10.0.0.2:22 within 10s (SSH banner)"),
				e.end("n3", protocol.StateConnect, "n3 and n10: no answer from 10.0.0.3:22 within 10s (SSH banner)"),
				e.end("n10", protocol.StateConnect, "n3 and n10: no answer from 10.0.0.3:22 within 10s (SSH banner)"),
				e.end("n4", protocol.StateConnect, "no answer from 10.0.0.4:22 within 10s (SSH banner)"),
				e.end("n5", protocol.StateConnect, "no answer from 10.0.0.5:22 within 10s (SSH banner)"),
				e.end("n6", protocol.StateConnect, "no answer from 10.0.0.1:22 within 10s (SSH banner)")}
		},
		want: "csub: n1: exited with exit code 255\ncsub: n2: exited with exit code 255\ncsub: n3: exited with exit code 255\n" +
			"csub: n10: exited with exit code 255\ncsub: n4: exited with exit code 255\ncsub: n5: exited with exit code 255\n" +
			"csub: n6: exited with exit code 255\n" +
			"csub: n[1,6]: connect failure: no answer from 10.0.0.1:22 within 10s (SSH banner)\n" +
			"csub: n2: connect failure: no answer from 10.0.0.2:22 within 10s (SSH banner)\n" +
			"csub: n3: connect failure: %h and n10: no answer from 10.0.0.3:22 within 10s (SSH banner)\n" +
			"csub: n[4-5,10]: connect failure: n3 and %h: no answer from 10.0.0.3:22 within 10s (SSH banner) (and other reasons: --json gives each node's)\n",
	},
	{
		name:  "quiet maxrc hides exit codes, not timeouts",
		cmd:   "clush -R exec -w node[1-2] -u 0.5 -qS '[ %h = node1 ] && exit 3; sleep 3'",
		nodes: "node[1-2]",
		args:  []string{"-qS"},
		recs: func(e ev) []protocol.Event {
			return []protocol.Event{e.exit("node1", 3), e.end("node2", protocol.StateTimeout, "")}
		},
		want:   "csub: node2: command timeout\n",
		status: 255,
	},
	{
		// The coordinator must never end a stream with nodes unaccounted
		// for; if it does, csub says so rather than staying silent.
		name:  "stream ended without a node's end",
		nodes: "node[1-2]",
		recs: func(e ev) []protocol.Event {
			return []protocol.Event{e.out("node1", "x"), e.exit("node1", 0)}
		},
		want:   "node1: x\ncsub: node2: no final state reported\n",
		status: 255, // a node the fleet did not account for fails the run
	},
	{
		name:  "no agent fails the run even without -S",
		nodes: "node[1-2]",
		recs: func(e ev) []protocol.Event {
			return []protocol.Event{e.out("node1", "x"), e.exit("node1", 0),
				e.end("node2", protocol.StateNoAgent, "no live agent serves gateway group gw2")}
		},
		want:   "node1: x\ncsub: node2: no agent: no live agent serves gateway group gw2\n",
		status: 255,
	},
	{
		name:  "output after a node's end is dropped; duplicate ends ignored",
		nodes: "node1",
		args:  []string{"-S"},
		recs: func(e ev) []protocol.Event {
			return []protocol.Event{e.out("node1", "x"), e.exit("node1", 1), e.out("node1", "late"), e.exit("node1", 9)}
		},
		want:   "node1: x\ncsub: node1: exited with exit code 1\n",
		status: 1,
	},
}

// newTestRenderer builds a renderer for the csub options in args, writing
// both streams to w.
func newTestRenderer(t *testing.T, nodes []string, args []string, w *bytes.Buffer) (*renderer, *settings) {
	t.Helper()
	env := &environ{stdout: w, stderr: w, getenv: func(string) string { return "" }}
	s, _, err := parseArgs(append(append([]string{}, args...), "true"), env)
	if err != nil {
		t.Fatalf("options %q: %v", args, err)
	}
	return newRenderer(newDisplay(s, newOutputs(w, w)), nodes), s
}

func TestRenderer(t *testing.T) {
	for _, c := range renderCases {
		t.Run(c.name, func(t *testing.T) {
			nodes := nodeset.MustParse(c.nodes).Nodes()
			var w bytes.Buffer
			r, s := newTestRenderer(t, nodes, c.args, &w)
			// One record per batch: the renderer must not depend on how
			// records are batched.
			for i, rec := range c.recs(ev{nodes}) {
				r.batch(&protocol.EventBatch{Seq: uint64(i + 1), Events: []protocol.Event{rec}})
			}
			r.finish()
			if err := r.d.o.flush(); err != nil {
				t.Fatal(err)
			}
			if got := w.String(); got != c.want {
				t.Errorf("%s\n got: %q\nwant: %q", c.cmd, got, c.want)
			}
			if st := r.res.exitStatus(s.maxrc); st != c.status {
				t.Errorf("exit status %d, want %d", st, c.status)
			}
		})
	}
}

// interruptedRun renders, with the csub options in args, a run on
// node[1-6] interrupted by Ctrl-C (user: someone at the terminal) and
// returns its output: node1 and node2 printed x, node1 exited 0, node4
// timed out, node5 exited 2, node3 gave nothing, and node[2,6] were
// cancelled by the interrupt (with no user, after the renderer learnt it
// was stopping).
func interruptedRun(t *testing.T, args []string, user bool) string {
	t.Helper()
	nodes := nodeset.MustParse("node[1-6]").Nodes()
	var w bytes.Buffer
	r, _ := newTestRenderer(t, nodes, args, &w)
	e := ev{nodes}
	for _, rec := range []protocol.Event{e.out("node[1-2]", "x"), e.exit("node1", 0),
		e.end("node4", protocol.StateTimeout, ""), e.exit("node5", 2)} {
		r.record(&rec)
	}
	r.stopping = !user
	cancel := e.end("node[2,6]", protocol.StateCancel, "cancelled")
	r.record(&cancel)
	r.interrupt(user)
	_ = r.d.o.flush()
	return w.String()
}

// TestInterrupt follows Clush.py's ttyloop KeyboardInterrupt handling (a
// terminal is needed to reach it in clush, so these expectations come
// from its code): with -b, a warning, what was gathered (by node set,
// whatever the exit codes), the exit code summary (counted even with -q)
// and timeouts; in every mode the nodes that did not complete.
func TestInterrupt(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"gathered", []string{"-b"}, "---------------\nnode[1-2] (2)\n---------------\nx\n" +
			"csub: node5: exited with exit code 2\ncsub: node4: command timeout\n"},
		{"gathered quiet", []string{"-bq"}, "---------------\nnode[1-2]\n---------------\nx\n" +
			"csub: node5: exited with exit code 2\ncsub: node4: command timeout\n"},
		{"live", nil, "node1: x\nnode2: x\ncsub: node5: exited with exit code 2\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := c.want
			if c.name == "gathered" {
				want = "Warning: Caught keyboard interrupt!\n" + want
			}
			want += "Keyboard interrupt (node[2-3,6] did not complete).\n"
			if got := interruptedRun(t, c.args, true); got != want {
				t.Errorf("\n got: %q\nwant: %q", got, want)
			}
		})
	}
}

// TestInterruptNoTerminal follows clush_excepthook (no user at the
// terminal): the output mode closes as usual with the nodes that had
// ended; the cancelled ones are left out, as clush's killed commands
// (no ev_hup, no exit status), then "Keyboard interrupt.".
func TestInterruptNoTerminal(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"gathered", []string{"-b"}, "---------------\nnode1\n---------------\nx\n" +
			"csub: node5: exited with exit code 2\ncsub: node4: command timeout\n"},
		{"sorted", []string{"-L"}, "node1: x\ncsub: node5: exited with exit code 2\ncsub: node4: command timeout\n"},
		{"line gathered", []string{"-bL"}, "node[1-2]: x\ncsub: node5: exited with exit code 2\ncsub: node4: command timeout\n"},
		{"live", nil, "node1: x\nnode2: x\ncsub: node5: exited with exit code 2\ncsub: node4: command timeout\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got, want := interruptedRun(t, c.args, false), c.want+"Keyboard interrupt.\n"; got != want {
				t.Errorf("\n got: %q\nwant: %q", got, want)
			}
		})
	}
}

// TestDebugRecord: a worker's debug line (-d) prints as it comes on
// standard output, between the output lines around it, as clush's
// print_debug; with --json, on standard error, out of the JSON lines.
func TestDebugRecord(t *testing.T) {
	nodes := nodeset.MustParse("node1").Nodes()
	e := ev{nodes}
	for _, c := range []struct {
		args          []string
		wantOut, want string
	}{
		{[]string{"-d"}, "EXECCLIENT: echo x\nnode1: b'x'\nnode1: x\n", ""},
		{[]string{"-d", "-b"}, "EXECCLIENT: echo x\nnode1: b'x'\n---------------\nnode1\n---------------\nx\n", ""},
		{[]string{"-d", "--json"}, `{"type":"line","node":"node1","stream":"stdout","line":"x"}`, "EXECCLIENT: echo x\nnode1: b'x'\n"},
	} {
		var out, errb bytes.Buffer
		env := &environ{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
		s, _, err := parseArgs(append(append([]string{}, c.args...), "true"), env)
		if err != nil {
			t.Fatal(err)
		}
		r := newRenderer(newDisplay(s, newOutputs(&out, &errb)), nodes)
		if s.json {
			r.h = newJSONHandler(r)
		}
		for _, rec := range []protocol.Event{{Kind: protocol.KindDebug, Data: []byte("EXECCLIENT: echo x")},
			{Kind: protocol.KindDebug, Data: []byte("node1: b'x'")}, e.out("node1", "x"), e.exit("node1", 0)} {
			r.record(&rec)
		}
		r.finish()
		_ = r.d.o.flush()
		if !strings.HasPrefix(out.String(), c.wantOut) || errb.String() != c.want {
			t.Errorf("%q: stdout %q, stderr %q", c.args, out.String(), errb.String())
		}
	}
}
