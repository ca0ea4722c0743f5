package csub

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// TestCutRender: a cut prints one line on stderr after the node's lines
// (a repeated cut is ignored), in every output mode; --json puts the cap
// in the node's result and --summary counts the nodes cut.
func TestCutRender(t *testing.T) {
	nodes := []string{"n1", "n2"}
	e := ev{nodes}
	recs := []protocol.Event{
		e.out("n1", "a", "b"), e.out("n2", "x"),
		protocol.CutEvent(e.idx("n1"), 4, false),
		protocol.CutEvent(e.idx("n1"), 4, false),
		protocol.CutEvent(e.idx("n2"), 2<<20, true),
		e.exit("n1", 3), e.exit("n2", 0),
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "n1: a\nn1: b\nn2: x\ncsub: n1: output cut at 4 bytes (--max-output)\n" +
			"csub: n2: output cut at 2 MiB (the agent's --max-output)\ncsub: n1: exited with exit code 3\n"},
		{[]string{"-b"}, "csub: n1: output cut at 4 bytes (--max-output)\ncsub: n2: output cut at 2 MiB (the agent's --max-output)\n" +
			"---------------\nn2\n---------------\nx\n---------------\nn1\n---------------\na\nb\n" +
			"csub: n1: exited with exit code 3\n"},
		{[]string{"--json", "--summary"}, `{"type":"line","node":"n1","stream":"stdout","line":"a"}` + "\n" +
			`{"type":"line","node":"n1","stream":"stdout","line":"b"}` + "\n" +
			`{"type":"line","node":"n2","stream":"stdout","line":"x"}` + "\n" +
			"csub: n1: output cut at 4 bytes (--max-output)\ncsub: n2: output cut at 2 MiB (the agent's --max-output)\n" +
			`{"type":"result","node":"n1","state":"exited","exit_code":3,"output_cut_at":4}` + "\n" +
			`{"type":"result","node":"n2","state":"exited","exit_code":0,"output_cut_at":2097152}` + "\n" +
			`{"type":"summary","nodes":2,"states":{"exited":2},"exit_codes":{"0":1,"3":1},"duration":0,"output_cut":2}` + "\n"},
		{[]string{"--summary"}, "n1: a\nn1: b\nn2: x\ncsub: n1: output cut at 4 bytes (--max-output)\n" +
			"csub: n2: output cut at 2 MiB (the agent's --max-output)\ncsub: n1: exited with exit code 3\n" +
			"csub: 2 nodes in 0s: 2 exited (1 rc=0, 1 rc=3); output cut on 2 (--max-output)\n"},
	} {
		var w bytes.Buffer
		r, s := newTestRenderer(t, nodes, c.args, &w)
		if s.json {
			r.h = newJSONHandler(r) // as run does
		}
		for i, rec := range recs {
			r.batch(&protocol.EventBatch{Seq: uint64(i + 1), Events: []protocol.Event{rec}})
		}
		r.finish()
		if s.summary {
			printSummary(r, s, 0)
		}
		if err := r.d.o.flush(); err != nil {
			t.Fatal(err)
		}
		if got := w.String(); got != c.want {
			t.Errorf("%q:\n got %q\nwant %q", c.args, got, c.want)
		}
	}
}

// TestMaxOutputOption: --max-output reaches the job, through the
// in-process fleet, and the agent cuts there; clush.conf's max_output is
// its default; bad sizes are usage errors.
func TestMaxOutputOption(t *testing.T) {
	var out, errb testutil.SyncBuffer
	rc := runCSub(t, nil, nil, &out, &errb, "-R", "exec", "-w", "n[1-2]", "-S", "--max-output", "1K",
		`case %h in n1) head -c 5000 /dev/zero | tr '\0' x; echo; exit 5;; esac; echo ok`)
	if rc != 5 || out.String() != "n1: "+strings.Repeat("x", 1024)+"\nn2: ok\n" && out.String() != "n2: ok\nn1: "+strings.Repeat("x", 1024)+"\n" {
		t.Errorf("rc %d stdout %q", rc, out.String())
	}
	if errb.String() != "csub: n1: output cut at 1 KiB (--max-output)\ncsub: n1: exited with exit code 5\n" {
		t.Errorf("stderr %q", errb.String())
	}

	conf := t.TempDir()
	if err := os.WriteFile(filepath.Join(conf, "clush.conf"), []byte("[Main]\nmax_output: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errb = testutil.SyncBuffer{}, testutil.SyncBuffer{}
	if rc := runCSub(t, map[string]string{"CLUSTERSHELL_CFGDIR": conf}, nil, &out, &errb, "-R", "exec", "-w", "n1", "echo hello"); rc != 0 ||
		out.String() != "n1: hel\n" || errb.String() != "csub: n1: output cut at 3 bytes (--max-output)\n" {
		t.Errorf("clush.conf max_output: rc %d stdout %q stderr %q", rc, out.String(), errb.String())
	}

	for _, bad := range []string{"0", "-1", "1.5M", "2T", "lots"} {
		out, errb = testutil.SyncBuffer{}, testutil.SyncBuffer{}
		if rc := runCSub(t, nil, nil, &out, &errb, "--max-output", bad, "-w", "n1", "true"); rc != 2 ||
			!strings.Contains(errb.String(), "csub: error: option --max-output: invalid size: '"+bad+"'") {
			t.Errorf("--max-output %s: rc %d stderr %q", bad, rc, errb.String())
		}
	}
}
