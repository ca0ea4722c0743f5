package agent

import (
	"slices"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// TestDebugLines: with the job's info key "debug" the workers' debug
// lines (clush -d) travel in the shard's stream as KindDebug records
// without nodes, each node's "<node>: b'<line>'" before that line's own
// record, live even when the output is gathered; without it, none.
func TestDebugLines(t *testing.T) {
	t.Parallel()
	_, c, a := fleet(t, Config{Capacity: 8})
	nodes := []string{"n1", "n2"}
	for _, tc := range []struct {
		name   string
		gather bool
		debug  bool
	}{{"live", false, true}, {"gathered", true, true}, {"off", false, false}} {
		spec := protocol.JobSpec{Command: "echo a; echo b >&2; echo c", Stderr: true, Gather: tc.gather}
		if tc.debug {
			spec.Info = map[string]string{"debug": "true"}
		}
		r := c.run(a, shardOf("dbg-"+tc.name, nodes, spec))
		// The events in stream order, each as "<node>: <kind> <data>"
		// or "debug <line>".
		var events []string
		for _, b := range r.batches {
			for _, rec := range b.Events {
				if rec.Kind == protocol.KindDebug {
					if len(rec.Nodes) != 0 {
						t.Fatalf("%s: debug record with nodes %v", tc.name, rec.Nodes)
					}
					events = append(events, "debug "+string(rec.Data))
					continue
				}
				for _, ix := range rec.Nodes {
					if rec.Kind == protocol.KindStdout || rec.Kind == protocol.KindStderr {
						for _, l := range strings.Split(string(rec.Data), "\n") {
							events = append(events, nodes[ix]+": "+rec.Kind.String()+" "+l)
						}
					}
				}
			}
		}
		for _, n := range nodes {
			var mine []string
			for _, e := range events {
				if strings.HasPrefix(e, n+": ") || strings.HasPrefix(e, "debug "+n+": ") {
					mine = append(mine, e)
				}
			}
			var want []string
			switch {
			case !tc.debug:
				want = []string{n + ": stdout a", n + ": stdout c"}
				mine = slices.DeleteFunc(mine, func(e string) bool { return strings.Contains(e, "stderr") })
			case tc.gather:
				// Lines are gathered until the node ends; debug lines
				// come as read (stderr's may come anywhere among them).
				want = []string{"debug " + n + ": b'a'", "debug " + n + ": b'c'", n + ": stdout a", n + ": stdout c"}
				mine = slices.DeleteFunc(mine, func(e string) bool { return strings.Contains(e, "b'b'") || strings.Contains(e, "stderr") })
			default:
				want = []string{"debug " + n + ": b'a'", n + ": stdout a", "debug " + n + ": b'c'", n + ": stdout c"}
				mine = slices.DeleteFunc(mine, func(e string) bool { return strings.Contains(e, "b'b'") || strings.Contains(e, "stderr") })
			}
			if strings.Join(mine, "|") != strings.Join(want, "|") {
				t.Errorf("%s: %s: events %q, want %q", tc.name, n, mine, want)
			}
			if tc.debug {
				// The stderr line is announced before it is sent too.
				i, j := slices.Index(events, "debug "+n+": b'b'"), slices.Index(events, n+": stderr b")
				if i < 0 || j < 0 || i > j {
					t.Errorf("%s: %s: stderr debug at %d, line at %d: %q", tc.name, n, i, j, events)
				}
			}
		}
		if got := slices.DeleteFunc(slices.Clone(events), func(e string) bool { return e != "debug EXECCLIENT: echo a; echo b >&2; echo c" }); tc.debug && len(got) != 2 {
			t.Errorf("%s: %d EXECCLIENT lines in %q", tc.name, len(got), events)
		}
	}
}
