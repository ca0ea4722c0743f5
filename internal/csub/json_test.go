package csub

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// TestJSON runs a job on the in-process fleet with --json --summary and
// checks every object: lines as they come (binary ones in base64), one
// result per node with its state, exit code and timings, then the
// summary.
func TestJSON(t *testing.T) {
	var out, errb testutil.SyncBuffer
	rc := runCSub(t, nil, nil, &out, &errb, "-R", "exec", "-w", "n[1-4]", "-u", "1", "--json", "--summary",
		`echo hi %h; echo warn >&2; [ %h = n2 ] && exit 4; [ %h = n3 ] && printf '\377\n'; [ %h = n4 ] && sleep 5; true`)
	if rc != 0 || errb.String() != "" {
		t.Fatalf("rc %d stderr %q", rc, errb.String())
	}
	lines := map[string][]string{}
	results := map[string]map[string]any{}
	var summary map[string]any
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		var obj map[string]any
		if err := json.Unmarshal(sc.Bytes(), &obj); err != nil {
			t.Fatalf("not JSON: %q", sc.Text())
		}
		node, _ := obj["node"].(string)
		switch obj["type"] {
		case "line":
			if results[node] != nil {
				t.Errorf("%s: line after its result", node)
			}
			text, _ := obj["line"].(string)
			if b64, ok := obj["line_base64"].(string); ok {
				raw, _ := base64.StdEncoding.DecodeString(b64)
				text = "b64:" + string(raw)
			}
			lines[node] = append(lines[node], obj["stream"].(string)+":"+text)
		case "result":
			if results[node] != nil {
				t.Errorf("%s: two results", node)
			}
			results[node] = obj
		case "summary":
			summary = obj
		default:
			t.Errorf("unknown object %q", sc.Text())
		}
	}
	want := map[string]string{
		"n1": "stdout:hi n1 stderr:warn", "n2": "stdout:hi n2 stderr:warn",
		"n3": "stdout:hi n3 stderr:warn stdout:b64:\xff", "n4": "stdout:hi n4 stderr:warn",
	}
	for n, w := range want {
		got := strings.Join(lines[n], " ")
		// stdout and stderr are separate streams: only their own order counts.
		if len(got) != len(w) {
			t.Errorf("%s lines %q, want %q", n, got, w)
		}
	}
	stamp := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$`)
	for n, st := range map[string]string{"n1": "exited", "n2": "exited", "n3": "exited", "n4": "command timeout"} {
		r := results[n]
		if r == nil || r["state"] != st {
			t.Errorf("%s: result %v", n, r)
			continue
		}
		if !stamp.MatchString(r["start"].(string)) || !stamp.MatchString(r["end"].(string)) || r["duration"].(float64) < 0 {
			t.Errorf("%s: timings %v", n, r)
		}
	}
	if results["n2"]["exit_code"] != 4.0 || results["n1"]["exit_code"] != 0.0 {
		t.Errorf("exit codes %v %v", results["n1"], results["n2"])
	}
	if results["n4"]["detail"] != "command timeout" || results["n1"]["detail"] != nil {
		t.Errorf("details %v %v", results["n1"], results["n4"])
	}
	if _, ok := results["n4"]["exit_code"]; ok {
		t.Errorf("timed out node has an exit code: %v", results["n4"])
	}
	if summary == nil || summary["nodes"] != 4.0 || summary["states"].(map[string]any)["command timeout"] != 1.0 ||
		summary["exit_codes"].(map[string]any)["4"] != 1.0 {
		t.Errorf("summary %v", summary)
	}
}

func TestSummaryLine(t *testing.T) {
	var out, errb testutil.SyncBuffer
	rc := runCSub(t, nil, nil, &out, &errb, "-R", "exec", "-w", "n[1-5]", "-S", "--summary", "-b", `[ %h = n5 ] && exit 3; true`)
	if rc != 3 {
		t.Errorf("rc %d", rc)
	}
	re := regexp.MustCompile(`(?m)^csub: 5 nodes in [0-9.]+m?s: 5 exited \(4 rc=0, 1 rc=3\)$`)
	if !re.MatchString(errb.String()) {
		t.Errorf("stderr %q", errb.String())
	}
}

// TestJSONDetail: a node's result object carries the engine's reason
// within its state ("host key changed" in "host key refused") as
// detail, beside the message; the text output says what clush says.
func TestJSONDetail(t *testing.T) {
	nodes := []string{"n1", "n2"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--json"}, `{"type":"result","node":"n1","state":"host key refused","exit_code":255,"reason":"host key changed: Host key verification failed.","detail":"host key changed"}` + "\n" +
			`{"type":"result","node":"n2","state":"connect failure","exit_code":255,"reason":"connect timeout","detail":"connect timeout"}` + "\n"},
		{nil, "csub: n1: exited with exit code 255\ncsub: n2: exited with exit code 255\n" +
			"csub: n2: connect failure: connect timeout\ncsub: n1: host key refused: host key changed: Host key verification failed.\n"},
	} {
		var w bytes.Buffer
		r, s := newTestRenderer(t, nodes, c.args, &w)
		if s.json {
			r.h = newJSONHandler(r) // as run does
		}
		r.batch(&protocol.EventBatch{Seq: 1, Events: []protocol.Event{
			{Kind: protocol.KindEnd, Nodes: []uint32{0}, State: protocol.StateHostKey, Reason: "host key changed", Code: 255,
				Data: []byte("host key changed: Host key verification failed.")},
			{Kind: protocol.KindEnd, Nodes: []uint32{1}, State: protocol.StateConnect, Reason: "connect timeout", Code: 255,
				Data: []byte("connect timeout")},
		}})
		r.finish()
		if err := r.d.o.flush(); err != nil {
			t.Fatal(err)
		}
		if got := w.String(); got != c.want {
			t.Errorf("%q:\n got %q\nwant %q", c.args, got, c.want)
		}
	}
}
