package csub

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// --json prints JSON Lines on standard output, for programs rather than
// people: one object per output line as it arrives, one per node when it
// ends, and with --summary a last one with the counts. Every node gets
// exactly one "result" object, whatever happened to it.
//
//	{"type":"line","node":"n1","stream":"stdout","line":"hello"}
//	{"type":"result","node":"n1","state":"exited","exit_code":0,"start":"2026-11-27T23:00:00.1Z","end":"2026-11-27T23:00:00.2Z","duration":0.1}
//	{"type":"result","node":"n2","state":"connect failure","exit_code":255,"reason":"ssh: connect to host n2 port 22: Connection refused","end":"..."}
//	{"type":"summary","nodes":2,"states":{"connect failure":1,"exited":1},"exit_codes":{"0":1,"255":1},"duration":0.3}
//
// A node whose output was cut at --max-output has "output_cut_at" (the cap
// in bytes) in its result, and the summary counts them ("output_cut").
//
// A line that is not valid UTF-8 comes as "line_base64" instead of "line",
// so binary output survives. Exit status rules are clush's, as without
// --json.

// jsonLine is an output line object.
type jsonLine struct {
	Type       string `json:"type"`
	Node       string `json:"node"`
	Stream     string `json:"stream"`
	Line       string `json:"line,omitempty"`
	LineBase64 string `json:"line_base64,omitempty"`
}

// jsonResult is a node's final object.
type jsonResult struct {
	Type     string `json:"type"`
	Node     string `json:"node"`
	State    string `json:"state"`
	ExitCode *int   `json:"exit_code,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// Detail is the engine's reason within State (protocol.Event.Reason:
	// "host key changed" in "host key refused"); Reason is the message.
	Detail   string   `json:"detail,omitempty"`
	Start    string   `json:"start,omitempty"`
	End      string   `json:"end,omitempty"`
	Duration *float64 `json:"duration,omitempty"`
	// OutputCutAt is the cap the node's output was cut at, in bytes
	// (--max-output); absent when it was not cut.
	OutputCutAt int64 `json:"output_cut_at,omitempty"`
}

// jsonSummary is the --summary object.
type jsonSummary struct {
	Type      string         `json:"type"`
	Nodes     int            `json:"nodes"`
	States    map[string]int `json:"states"`
	ExitCodes map[string]int `json:"exit_codes,omitempty"`
	Duration  float64        `json:"duration"`
	// OutputCut counts the nodes whose output was cut (--max-output).
	OutputCut int `json:"output_cut,omitempty"`
}

// jsonHandler is the output handler of --json.
type jsonHandler struct {
	r      *renderer
	starts []time.Time
}

func newJSONHandler(r *renderer) *jsonHandler {
	return &jsonHandler{r: r, starts: make([]time.Time, len(r.res.nodes))}
}

func (h *jsonHandler) emit(v any) { writeJSON(h.r.d.o.stdout(), v) }

// writeJSON writes v as one JSON line.
func writeJSON(w io.Writer, v any) {
	data, err := json.Marshal(v)
	if err != nil { // cannot happen with these types; never lose it silently
		data = fmt.Appendf(nil, `{"type":"error","error":%q}`, err.Error())
	}
	_, _ = w.Write(append(data, '\n'))
}

func (h *jsonHandler) start(node uint32, at time.Time) {
	if !at.IsZero() && int(node) < len(h.starts) {
		h.starts[node] = at
	}
}

func (h *jsonHandler) read(node uint32, kind protocol.Kind, line []byte) {
	l := jsonLine{Type: "line", Node: h.r.res.nodes[node], Stream: "stdout"}
	if kind == protocol.KindStderr {
		l.Stream = "stderr"
	}
	if utf8.Valid(line) {
		l.Line = string(line)
	} else {
		l.LineBase64 = base64.StdEncoding.EncodeToString(line)
	}
	h.emit(l)
}

// hup: the result object comes from ended, which sees every final state.
func (h *jsonHandler) hup(uint32, int, bool) {}

func (h *jsonHandler) ended(node uint32, rec *protocol.Event) {
	st := h.r.res.track.State(node) // as recorded (an empty state reads "error")
	res := jsonResult{Type: "result", Node: h.r.res.nodes[node], State: string(st), Detail: rec.Reason, Reason: string(rec.Data),
		OutputCutAt: h.r.res.cuts[node]}
	if st != protocol.StateTimeout && st != protocol.StateCancel && st != protocol.StateLost && st != protocol.StateNoAgent {
		code := rec.Code
		res.ExitCode = &code
	}
	if s := h.starts[node]; !s.IsZero() {
		res.Start = s.UTC().Format(time.RFC3339Nano)
		if !rec.At.IsZero() {
			d := rec.At.Sub(s).Seconds()
			res.Duration = &d
		}
	}
	if !rec.At.IsZero() {
		res.End = rec.At.UTC().Format(time.RFC3339Nano)
	}
	h.emit(res)
}

func (h *jsonHandler) close() {}

// summaryCounts counts the job's nodes per final state and the exited
// ones per exit code.
func summaryCounts(res *results) (states map[protocol.State]int, codes map[int]int) {
	states, codes = map[protocol.State]int{}, map[int]int{}
	for i := range res.nodes {
		st := res.track.State(uint32(i))
		if st == "" {
			continue
		}
		states[st]++
		if st == protocol.StateExited {
			codes[res.track.Code(uint32(i))]++
		}
	}
	return states, codes
}

// printSummary prints --summary: a JSON object with --json, else one line
// on standard error such as
//
//	csub: 1020 nodes in 12.3s: 1000 exited (998 rc=0, 2 rc=3), 20 command timeout
func printSummary(r *renderer, s *settings, took time.Duration) {
	states, codes := summaryCounts(r.res)
	if s.json {
		js := jsonSummary{Type: "summary", Nodes: len(r.res.nodes), States: map[string]int{}, Duration: took.Seconds(),
			OutputCut: len(r.res.cuts)}
		for st, n := range states {
			js.States[string(st)] = n
		}
		if len(codes) > 0 {
			js.ExitCodes = map[string]int{}
			for c, n := range codes {
				js.ExitCodes[strconv.Itoa(c)] = n
			}
		}
		(&jsonHandler{r: r}).emit(js)
		return
	}
	var parts []string
	for _, st := range csubStates {
		n := states[st]
		if n == 0 {
			continue
		}
		part := fmt.Sprintf("%d %s", n, st)
		if st == protocol.StateExited {
			keys := make([]int, 0, len(codes))
			for c := range codes {
				keys = append(keys, c)
			}
			slices.Sort(keys)
			var cs []string
			for _, c := range keys {
				cs = append(cs, fmt.Sprintf("%d rc=%d", codes[c], c))
			}
			part += " (" + strings.Join(cs, ", ") + ")"
		}
		parts = append(parts, part)
	}
	cut := ""
	if n := len(r.res.cuts); n > 0 {
		cut = fmt.Sprintf("; output cut on %d (--max-output)", n)
	}
	w := r.d.o.stderr()
	fmt.Fprintf(w, "%s: %d nodes in %s: %s%s\n", progName, len(r.res.nodes), took.Round(time.Millisecond), strings.Join(parts, ", "), cut)
}
