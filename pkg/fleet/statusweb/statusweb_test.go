package statusweb

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// fixedSource serves a registry the test wrote: for what a real fleet
// does not easily show (lost and draining agents, hostile strings, a huge
// badly folding job).
type fixedSource struct {
	jobs   []protocol.JobStatus
	agents []protocol.AgentStatus
}

func (s *fixedSource) Jobs() []protocol.JobStatus     { return s.jobs }
func (s *fixedSource) Agents() []protocol.AgentStatus { return s.agents }
func (s *fixedSource) Job(id string) (protocol.JobStatus, bool) {
	for _, j := range s.jobs {
		if j.ID == id {
			return j, true
		}
	}
	return protocol.JobStatus{}, false
}

// get requests path from srv with the Host header host ("" keeps the
// server's address) and returns the answer and its body.
func get(t *testing.T, srv *httptest.Server, method, path, host string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// getJSON decodes the 200 answer of path into v.
func getJSON(t *testing.T, srv *httptest.Server, path string, v any) {
	t.Helper()
	resp, body := get(t, srv, http.MethodGet, path, "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%s: %s %s %q", path, resp.Status, resp.Header.Get("Content-Type"), body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func serve(t *testing.T, src Source, opts ...Option) *httptest.Server {
	t.Helper()
	opts = append([]Option{Logger(natstest.Logger(t))}, opts...)
	srv := httptest.NewServer(New(src, opts...)) // on 127.0.0.1
	t.Cleanup(srv.Close)
	return srv
}

var hostileJob = protocol.JobStatus{ID: "j-1", User: `"><i onmouseover=alert(1)>`, Command: `echo '<script>alert(1)</script>' && ls &`,
	Nodes: "n[1-3]", Total: 3, Submitted: time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC),
	Finals: map[protocol.State]int{protocol.StateExited: 2}, States: map[protocol.State]string{protocol.StateExited: "n[1-2]"}, Unfinished: "n3",
	Failed: 1, Codes: map[int]string{0: "n1", 7: `x[<img src=x onerror=alert(1)>`}}

// Every answer carries the security headers; only loopback Host headers
// (or allowed ones) are served, and only GET and HEAD.
func TestHostsMethodsAndHeaders(t *testing.T) {
	srv := serve(t, &fixedSource{jobs: []protocol.JobStatus{hostileJob}})
	for _, c := range []struct {
		method, path, host string
		code               int
	}{
		{"GET", "/", "", 200},
		{"HEAD", "/", "", 200},
		{"GET", "/", "localhost:8080", 200},
		{"GET", "/", "LocalHost.", 200},
		{"GET", "/api/jobs", "127.0.0.2", 200},
		{"GET", "/", "[::1]:9090", 200},
		{"GET", "/", "evil.example", 403},
		{"GET", "/api/jobs", "evil.example:8080", 403},
		{"GET", "/", "127.0.0.1.evil.example", 403},
		{"GET", "/", "localhost.evil.example", 403},
		{"GET", "/", "10.1.2.3", 403},
		{"POST", "/", "", 405},
		{"PUT", "/api/jobs", "", 405},
		{"DELETE", "/job/j-1", "", 405},
		{"OPTIONS", "/", "", 405},
		{"GET", "/nowhere", "", 404},
	} {
		resp, body := get(t, srv, c.method, c.path, c.host)
		if resp.StatusCode != c.code {
			t.Errorf("%s %s Host %q: %s %q", c.method, c.path, c.host, resp.Status, body)
		}
		h := resp.Header
		if h.Get("Content-Security-Policy") != csp || h.Get("X-Frame-Options") != "DENY" ||
			h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s %s Host %q: headers %v", c.method, c.path, c.host, h)
		}
		if c.code == 405 && h.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow %q", c.method, c.path, h.Get("Allow"))
		}
	}
	for _, c := range []struct {
		opt  Option
		host string
		code int
	}{
		{AllowHosts("Coord.Example.org"), "coord.example.org:8080", 200},
		{AllowHosts("coord.example.org"), "other.example.org", 403},
		{AllowHosts("[fd00::1]"), "[fd00::1]:80", 200},
		{AllowAnyHost(), "anything.example", 200},
	} {
		resp, _ := get(t, serve(t, &fixedSource{}, c.opt), "GET", "/", c.host)
		if resp.StatusCode != c.code {
			t.Errorf("Host %q: %s", c.host, resp.Status)
		}
	}
}

// Values are escaped, job ids validated, assets served by name only.
func TestEscapingIDsAndAssets(t *testing.T) {
	srv := serve(t, &fixedSource{jobs: []protocol.JobStatus{hostileJob}})
	for _, path := range []string{"/", "/job/j-1"} {
		resp, body := get(t, srv, "GET", path, "")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("%s: %s", path, resp.Status)
		}
		for _, raw := range []string{"<script>alert", "<i onmouseover", `"><i onmouseover`, "<img src=x"} {
			if strings.Contains(body, raw) {
				t.Errorf("%s: unescaped %q", path, raw)
			}
		}
		if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(body, "&#34;&gt;&lt;i onmouseover=alert(1)&gt;") {
			t.Errorf("%s: escaped values missing:\n%s", path, body)
		}
		// A status's set that does not parse: its count is unknown.
		if want := "rc=7 failed</span></td>\n<td class=\"num\">?</td>\n<td><span class=\"set\">x[&lt;img src=x onerror=alert(1)&gt;</span></td>"; path == "/job/j-1" && !strings.Contains(body, want) {
			t.Errorf("%s lacks %q:\n%s", path, want, body)
		}
		if strings.Contains(body, "style=") || strings.Contains(body, "<script>") {
			t.Errorf("%s: inline style or script, which the CSP forbids", path)
		}
	}
	for _, c := range []struct {
		path string
		code int
		typ  string
	}{
		{"/job/nope", 404, ""},
		{"/api/job/nope", 404, ""},
		{"/api/job/nope?brief=1", 404, ""},
		{"/api/job/a.b?brief=1", 400, ""},
		{"/api/job/j-1?brief=1", 200, "application/json"},
		{"/job/a.b", 400, ""},
		{"/api/job/" + strings.Repeat("x", 300), 400, ""},
		{"/job/%3Cscript%3E", 400, ""},
		{"/job/", 404, ""},
		{"/static/app.js", 200, "text/javascript; charset=utf-8"},
		{"/static/style.css", 200, "text/css; charset=utf-8"},
		{"/static/icon.svg", 200, "image/svg+xml"},
		{"/static/index.html", 404, ""},
		{"/static/", 404, ""},
		{"/static/..%2fstatusweb.go", 404, ""},
	} {
		resp, body := get(t, srv, "GET", c.path, "")
		if resp.StatusCode != c.code || c.typ != "" && resp.Header.Get("Content-Type") != c.typ {
			t.Errorf("%s: %s %s %.80q", c.path, resp.Status, resp.Header.Get("Content-Type"), body)
		}
		if strings.Contains(body, "<script>") {
			t.Errorf("%s: echoes its input: %q", c.path, body)
		}
	}
}

// Agents are listed per gateway group, the local group first; an agent
// serving two groups is in both; lost and draining ones say so.
func TestAgentsPerGroup(t *testing.T) {
	now := time.Date(2026, 12, 6, 21, 0, 10, 0, time.UTC)
	seen := now.Add(-2500 * time.Millisecond)
	src := &fixedSource{agents: []protocol.AgentStatus{
		{Hello: protocol.Hello{Agent: "gw1-a", Name: "gw1", Capacity: 64}, Served: []string{"gw1", "gw9"}, LastSeen: seen, Running: 5},
		{Hello: protocol.Hello{Agent: "gw1-b", Name: "gw1", Capacity: 32}, Served: []string{"gw1"}, LastSeen: seen, Lost: true},
		{Hello: protocol.Hello{Agent: "local", Name: "adm", Local: true, Capacity: 8}, Served: []string{""}, LastSeen: seen, Draining: true},
	}}
	srv := serve(t, src, Now(func() time.Time { return now }))
	var p AgentsPage
	getJSON(t, srv, "/api/agents", &p)
	var got []string
	for _, g := range p.Groups {
		for _, a := range g.Agents {
			got = append(got, g.Group+":"+a.Agent)
		}
	}
	if want := ":local gw1:gw1-a gw1:gw1-b gw9:gw1-a"; strings.Join(got, " ") != want || !p.Now.Equal(now) {
		t.Errorf("groups %q, want %q (now %v)", got, want, p.Now)
	}
	_, body := get(t, srv, "GET", "/", "")
	for _, want := range []string{"local (nodes under no gateway)", "gateway group gw1", "gateway group gw9",
		`<span class="badge st-lost">lost</span>`, `<span class="badge st-draining">draining</span>`, "2.5 s ago", `<td class="num">64</td>`} {
		if !strings.Contains(body, want) {
			t.Errorf("index lacks %q", want)
		}
	}

	// Bounded: MaxAgents and MaxJobs say how many were left out.
	for i := range 30 {
		src.jobs = append(src.jobs, protocol.JobStatus{ID: fmt.Sprintf("j%02d", i), Total: 1})
	}
	srv = serve(t, src, MaxAgents(2), MaxJobs(10))
	getJSON(t, srv, "/api/agents", &p)
	var jp JobsPage
	getJSON(t, srv, "/api/jobs", &jp)
	if p.More != 1 || len(jp.Jobs) != 10 || jp.More != 20 || jp.Jobs[0].ID != "j00" {
		t.Errorf("agents more %d, jobs %d more %d", p.More, len(jp.Jobs), jp.More)
	}
	if _, body := get(t, srv, "GET", "/", ""); !strings.Contains(body, "… 20 older jobs not listed") || !strings.Contains(body, "… 1 more agents not listed") {
		t.Error("index does not say what it left out")
	}
}

// A job of 100 000 badly folding names renders in a few kilobytes: each
// set is the folded set of its first nodes, with a count of the rest.
func TestHugeJobBounded(t *testing.T) {
	names := testutil.LetterNames(100000)
	all := strings.Join(names, ",")
	half := strings.Join(names[:50000], ",")
	st := protocol.JobStatus{ID: "huge", Nodes: all, Total: 100000, Finals: map[protocol.State]int{protocol.StateExited: 50000},
		States: map[protocol.State]string{protocol.StateExited: half}, Unfinished: strings.Join(names[50000:], ","),
		Codes: map[int]string{0: strings.Join(names[:25000], ","), 2: strings.Join(names[25000:50000], ",")}}
	srv := serve(t, &fixedSource{jobs: []protocol.JobStatus{st}}, MaxSetBytes(2000))
	var p JobPage
	getJSON(t, srv, "/api/job/huge", &p)
	for key, set := range map[string]string{MoreNodes: p.Job.Nodes, MoreUnfinished: p.Job.Unfinished, string(protocol.StateExited): p.Job.States[protocol.StateExited],
		MoreCode + "0": p.Job.Codes[0], MoreCode + "2": p.Job.Codes[2]} {
		ns, err := nodeset.Parse(set)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		full := 50000
		switch key {
		case MoreNodes:
			full = 100000
		case MoreCode + "0", MoreCode + "2":
			full = 25000
		}
		if len(set) > 2000 || len(set) < 1500 || ns.Len()+p.More[key] != full {
			t.Errorf("%s: %d bytes, %d nodes shown, %d more", key, len(set), ns.Len(), p.More[key])
		}
	}
	if p.CodeCounts[0] != 25000 || p.CodeCounts[2] != 25000 {
		t.Errorf("code counts %v", p.CodeCounts)
	}
	resp, body := get(t, srv, "GET", "/job/huge", "")
	if resp.StatusCode != 200 || len(body) > 16000 {
		t.Errorf("job page: %s, %d bytes", resp.Status, len(body))
	}
	for _, want := range []string{fmt.Sprintf("… %d more nodes not shown", p.More[MoreNodes]),
		fmt.Sprintf("rc=2 failed</span></td>\n<td class=\"num\">25000</td>\n<td><span class=\"set\">%s</span> <span class=\"more\">… %d more nodes not shown</span>",
			p.Job.Codes[2], p.More[MoreCode+"2"])} {
		if !strings.Contains(body, want) {
			t.Errorf("job page lacks %q", want)
		}
	}
}

func TestCutSet(t *testing.T) {
	for _, c := range []struct {
		in           string
		limit, count int
		out          string
		more         int
	}{
		{"n[1-100000]", 64, 100000, "n[1-100000]", 0},
		{"a1,b2,c3,d4,e5", 8, 5, "a1,b2,c3", 2},
		{"a1,b2,c3,d4,e5", 9, 5, "a1,b2,c3", 2},
		{"n[1,3,5,7,9,11,13]", 12, 7, "n[1,3,5,7,9]", 2},
		{"n[1,3,5,7,9,11,13],m[1-1000]", 12, 1007, "n[1,3,5,7,9]", 1002},
		{"a[1-3],n[1,3,5,7,9,11,13]", 12, 10, "a[1-3]", 7},
		{"a[1-3],b1", 7, 4, "a[1-3]", 1},
		{"a[1-3],b1", 7, 2, "a[1-3]", -1}, // a wrong count
		{"x[", 2, 1, "x[", 0},
		{"x[,y,z", 4, 3, "x[,y", -1},
		{"x,é[", 3, 2, "x", 1},
	} {
		out, more := cutSet(c.in, c.limit, c.count)
		if out != c.out || more != c.more {
			t.Errorf("cutSet(%q, %d, %d) = %q, %d; want %q, %d", c.in, c.limit, c.count, out, more, c.out, c.more)
		}
	}
}

// The page of a real coordinator running a job of mixed results on
// exec-worker agents in three gateway groups.
func TestRealCoordinator(t *testing.T) {
	f := startFleet(t)
	f.runMixed(t)
	srv := serve(t, f.co)

	var p JobPage
	getJSON(t, srv, "/api/job/mixed", &p)
	st := p.Job
	if !st.Done || st.Total != 18 || st.Unfinished != "" || len(p.More) != 0 || len(st.States) != len(mixedStates) {
		t.Fatalf("job %+v more %v", st, p.More)
	}
	for s, want := range mixedStates {
		if st.States[s] != want || st.Finals[s] != nodeset.MustParse(want).Len() {
			t.Errorf("%s: %q (%d), want %q", s, st.States[s], st.Finals[s], want)
		}
	}
	// a3 and b2 exited with status 3.
	if fmt.Sprint(st.Codes) != "map[0:a[1-2,4-6],b[1,3-6],n[1,3-4] 3:a3,b2]" || fmt.Sprint(p.CodeCounts) != "map[0:13 3:2]" || st.Failed != 5 {
		t.Errorf("codes %v, counts %v, %d failed", st.Codes, p.CodeCounts, st.Failed)
	}
	var brief JobPage
	getJSON(t, srv, "/api/job/mixed?brief=1", &brief)
	if b := brief.Job; b.ID != "mixed" || !b.Done || b.Finals[protocol.StateExited] != 15 || b.Failed != 5 || b.States != nil || b.Codes != nil ||
		b.Nodes != "" || brief.More != nil || brief.CodeCounts != nil {
		t.Errorf("brief %+v", brief)
	}
	var jp JobsPage
	getJSON(t, srv, "/api/jobs", &jp)
	if len(jp.Jobs) != 1 || jp.Jobs[0].ID != "mixed" || jp.Jobs[0].User != "operator" || jp.Jobs[0].States != nil || jp.Jobs[0].Failed != 5 {
		t.Errorf("jobs %+v", jp.Jobs)
	}
	var ap AgentsPage
	getJSON(t, srv, "/api/agents", &ap)
	var groups []string
	for _, g := range ap.Groups {
		groups = append(groups, fmt.Sprintf("%s:%d", g.Group, len(g.Agents)))
	}
	if strings.Join(groups, " ") != ":1 gw1:1 gw2:2" {
		t.Errorf("groups %q", groups)
	}

	_, body := get(t, srv, "GET", "/job/mixed", "")
	for _, want := range []string{
		`<span class="badge st-exited">exited</span></td>
<td class="num">15</td>
<td><span class="set">a[1-6],b[1-6],n[1,3-4]</span></td>`,
		`<span class="badge st-cancelled">cancelled</span></td>
<td class="num">1</td>
<td><span class="set">n2</span></td>`,
		`<span class="badge st-no-agent">no agent</span></td>
<td class="num">2</td>`,
		`<progress id="bar" max="18" value="18"></progress>`,
		`<b id="ended">18</b> of <b id="total">18</b> nodes ended (<span id="percent">100</span>%)`,
		`<span id="job-state"><span class="done">done</span> <span class="badge st-failed" title="nodes that ended other than exited with status 0">5 failed</span></span>`,
		`<section id="codes-section">`,
		`<tr class="rc-ok">
<td><span class="badge rc-ok">rc=0 ok</span></td>
<td class="num">13</td>
<td><span class="set">a[1-2,4-6],b[1,3-6],n[1,3-4]</span></td>
</tr>
<tr class="rc-fail">
<td><span class="badge rc-fail" title="a failure: exit status other than 0">rc=3 failed</span></td>
<td class="num">2</td>
<td><span class="set">a3,b2</span></td>
</tr>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("job page lacks %q:\n%s", want, body)
		}
	}
	_, body = get(t, srv, "GET", "/", "")
	for _, want := range []string{`<a href="job/mixed">mixed</a>`, `<span class="figures">18/18</span>`,
		`<span class="badge st-exited">exited <b>15</b></span>`, `value="18"></progress> <span class="badge st-failed"`, ">5 failed</span></td>", "gateway group gw2", `<td class="id">gw2-2</td>`} {
		if !strings.Contains(body, want) {
			t.Errorf("index lacks %q:\n%s", want, body)
		}
	}
}
