package csub

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/fleet/coordinator"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

var updateStatusGolden = flag.Bool("status.update", false, "rewrite testdata/status/*.golden from this run")

// statusNow is the clock of the golden outputs.
var statusNow = time.Date(2026, 12, 6, 21, 30, 0, 0, time.UTC)

func fixedClock() time.Time { return statusNow }

// checkGolden compares got with testdata/status/name.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "status", name)
	if *updateStatusGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s:\n%s\nwant:\n%s", name, got, want)
	}
}

// ageless is out with the ages and times, which the coordinator's clock
// stamps, left out of each line's fields.
var agePart = regexp.MustCompile(`\d+(s|m\d\ds|h\d\dm|d\d\dh) ago|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ \(|\)$`)

func ageless(out string) []string {
	var lines []string
	for l := range strings.Lines(out) {
		lines = append(lines, strings.Join(strings.Fields(agePart.ReplaceAllString(l, "")), " "))
	}
	return lines
}

// TestAgents: csub agents lists the coordinator's agents by gateway
// group, in the table and in --json.
func TestAgents(t *testing.T) {
	// No agent may be lost on a loaded machine here: see TestAgentLost.
	f := startGroupFleet(t, coordinator.Config{LostAfter: time.Hour})

	// The golden table, from the coordinator's own reply with its
	// heartbeat times pinned: csub's clock is fixed, the coordinator's
	// is not.
	agents, err := f.nc.Agents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i := range agents {
		agents[i].LastSeen = statusNow.Add(-time.Duration(i*61) * time.Second)
	}
	var b bytes.Buffer
	if err := writeAgents(&b, agents, statusNow); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "agents.golden", b.String())

	// csub agents prints that table.
	rc, out, errs := f.csub(t, fixedClock, "agents")
	if rc != 0 || !slices.Equal(ageless(out), ageless(b.String())) {
		t.Errorf("csub agents: rc %d %s\n%s\nwant (ages aside):\n%s", rc, errs, out, b.String())
	}

	// --json: an array of agents by id, every documented field present.
	rc, out, errs = f.csub(t, fixedClock, "agents", "--json")
	var fields []map[string]any
	if err := json.Unmarshal([]byte(out), &fields); rc != 0 || err != nil || len(fields) != 4 {
		t.Fatalf("agents --json: rc %d %v %s\n%s", rc, err, errs, out)
	}
	for _, a := range fields {
		for _, k := range []string{"agent", "name", "local", "groups", "last_seen", "age", "shards", "running", "capacity", "load",
			"release", "draining", "lost"} {
			if _, ok := a[k]; !ok {
				t.Errorf("agents --json: %v has no %q", a, k)
			}
		}
	}
	var js []agentJSON
	if err := json.Unmarshal([]byte(out), &js); err != nil {
		t.Fatal(err)
	}
	ids := []string{js[0].Agent, js[1].Agent, js[2].Agent, js[3].Agent}
	if !slices.Equal(ids, []string{"gw1-a", "gw2-a", "gw3-a", "local-a"}) {
		t.Errorf("agents --json order: %v", ids)
	}
	gw1, local := js[0], js[3]
	if !slices.Equal(gw1.Groups, []string{"gw[1-2]"}) || gw1.Name != "gw1" || gw1.Load == nil || *gw1.Load != 0.25 ||
		gw1.Release != statusRelease || gw1.Capacity != 16 || gw1.Lost || gw1.Draining || gw1.LastSeen.IsZero() {
		t.Errorf("gw1-a: %+v", gw1)
	}
	if !local.Local || !slices.Equal(local.Groups, []string{localGroupName}) || local.Load != nil {
		t.Errorf("local-a: %+v", local)
	}

}

// TestAgentLost: an agent that stops heartbeating shows lost, in both
// forms.
func TestAgentLost(t *testing.T) {
	f := startGroupFleet(t, coordinator.Config{Heartbeat: 100 * time.Millisecond, LostAfter: time.Second})
	f.stop["gw3-a"]()
	f.waitAgents(t, func(as []protocol.AgentStatus) bool {
		return slices.ContainsFunc(as, func(a protocol.AgentStatus) bool { return a.Agent == "gw3-a" && a.Lost })
	})
	rc, out, errs := f.csub(t, nil, "agents", "--json")
	var js []agentJSON
	if err := json.Unmarshal([]byte(out), &js); rc != 0 || err != nil || len(js) != 4 || js[2].Agent != "gw3-a" || !js[2].Lost {
		t.Errorf("agents --json after gw3-a stopped: rc %d %v %s\n%s", rc, err, errs, out)
	}
	rc, out, _ = f.csub(t, nil, "agents")
	var row string
	for l := range strings.Lines(out) {
		if strings.HasPrefix(l, "gw3 ") {
			row = l
		}
	}
	if rc != 0 || !strings.HasSuffix(row, " lost\n") {
		t.Errorf("csub agents after gw3-a stopped: rc %d, gw3's row %q in\n%s", rc, row, out)
	}
}

// TestStatus: csub status of a job with mixed results, in its golden
// table and --json, and of a running job.
func TestStatus(t *testing.T) {
	f := startGroupFleet(t, coordinator.Config{LostAfter: time.Hour})
	// l1 is local, n[1-4] and m[1-2] behind gateways, x1 under gw4,
	// which no agent serves.
	rc, _, errs := f.csub(t, nil, "-R", "exec", "-w", "n[1-4],m[1-2],x1,l1", "case %h in n3|m2) exit 3;; esac")
	if rc == 0 {
		t.Fatalf("the job did not fail: %s", errs)
	}
	id := f.lastJob(t)

	st, err := f.nc.Status(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	// The golden form, the coordinator's times pinned.
	pinned := *st
	pinned.ID = "0193a7e2-0000-7000-8000-000000000001"
	pinned.Submitted, pinned.Ended = statusNow.Add(-95*time.Second), statusNow.Add(-93*time.Second)
	var b bytes.Buffer
	if err := writeStatus(&b, &pinned, statusNow); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "status.golden", b.String())

	rc, out, errs := f.csub(t, fixedClock, "status", id)
	want := ageless(strings.Replace(b.String(), pinned.ID, id, 1))
	if rc != statusFailed || !slices.Equal(ageless(out), want) {
		t.Errorf("csub status: rc %d %s\n%s\nwant (times aside):\n%s", rc, errs, out, strings.Join(want, "\n"))
	}

	// --json, decoded.
	rc, out, errs = f.csub(t, fixedClock, "--fleet", f.url, "status", "--json", id)
	var js statusJSON
	if err := json.Unmarshal([]byte(out), &js); rc != statusFailed || err != nil {
		t.Fatalf("status --json: rc %d %v %s\n%s", rc, err, errs, out)
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(out), &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "user", "command", "nodes", "total", "submitted", "ended", "done", "failed", "states", "codes",
		"unfinished", "truncated", "exit_status"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("status --json has no %q: %s", k, out)
		}
	}
	wantStates := map[protocol.State]nodeCount{
		protocol.StateExited:  {7, "l1,m[1-2],n[1-4]"},
		protocol.StateNoAgent: {1, "x1"},
	}
	wantCodes := map[int]nodeCount{0: {5, "l1,m1,n[1-2,4]"}, 3: {2, "m2,n3"}}
	if js.ID != id || js.User != "tester" || !js.Done || js.Failed != 3 || js.Total != 8 || js.Ended == nil ||
		js.Unfinished.Count != 0 || js.Truncated || js.ExitStatus != statusFailed || js.Command != "case %h in n3|m2) exit 3;; esac" {
		t.Errorf("status --json: %+v", js)
	}
	if len(js.States) != len(wantStates) || js.States[protocol.StateExited] != wantStates[protocol.StateExited] ||
		js.States[protocol.StateNoAgent] != wantStates[protocol.StateNoAgent] {
		t.Errorf("status --json states %v, want %v", js.States, wantStates)
	}
	if len(js.Codes) != 2 || js.Codes[0] != wantCodes[0] || js.Codes[3] != wantCodes[3] {
		t.Errorf("status --json codes %v, want %v", js.Codes, wantCodes)
	}

	// Node sets the coordinator left out are said to be.
	pinned.Truncated, pinned.Nodes, pinned.States, pinned.Codes = true, "", nil, nil
	b.Reset()
	if err := writeStatus(&b, &pinned, statusNow); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "status-truncated.golden", b.String())

	// A job that every node ran well.
	if rc, _, errs := f.csub(t, nil, "-R", "exec", "-w", "n[1-2],l1", "true"); rc != 0 {
		t.Fatalf("job: rc %d %s", rc, errs)
	}
	if rc, out, errs := f.csub(t, fixedClock, "status", f.lastJob(t)); rc != statusOK ||
		!strings.Contains(out, "status:     done: all 3 nodes exited 0\n") || !strings.Contains(out, "\nexited (3): l1,n[1-2]\n") {
		t.Errorf("status of a job that went well: rc %d %s\n%s", rc, errs, out)
	}
}

// TestStatusRunning: a job still running exits statusRunning and names
// the nodes that have not ended.
func TestStatusRunning(t *testing.T) {
	f := startGroupFleet(t, coordinator.Config{LostAfter: time.Hour})
	bg := make(chan int, 1)
	go func() {
		rc, _, _ := f.csub(t, nil, "-R", "exec", "-w", "n1,m1", "case %h in m1) exec sleep 60;; esac")
		bg <- rc
	}()
	var id string
	deadline := time.Now().Add(30 * time.Second) // a hang catcher
	for {
		if jobs, err := f.nc.Jobs(context.Background()); err == nil && len(jobs) == 1 && jobs[0].Finals[protocol.StateExited] == 1 {
			id = jobs[0].ID
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("n1 never ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	rc, out, errs := f.csub(t, fixedClock, "status", id)
	if rc != statusRunning || !strings.Contains(out, "status:     running: 1 of 2 nodes ended, 0 failed\n") ||
		!strings.HasSuffix(out, "\nexited (1): n1\nunfinished (1): m1\n") || strings.Contains(out, "ended:") {
		t.Errorf("status of a running job: rc %d %s\n%s", rc, errs, out)
	}
	rc, out, _ = f.csub(t, fixedClock, "status", "--json", id)
	var js statusJSON
	if err := json.Unmarshal([]byte(out), &js); err != nil || rc != statusRunning || js.Done || js.Ended != nil ||
		js.Unfinished != (nodeCount{1, "m1"}) || js.ExitStatus != statusRunning {
		t.Errorf("status --json of a running job: rc %d %v %+v", rc, err, js)
	}

	// --wait: Ctrl-C stops waiting, and leaves the job running.
	intr := make(chan struct{})
	stopped := make(chan int, 1)
	go func() {
		var out, errb testutil.SyncBuffer
		rc := runCSubAt(t, fixedClock, map[string]string{envFleet: f.url}, intr, &out, &errb, "status", "--wait", id)
		if errb.String() != "csub: stopped waiting for job "+id+" (it goes on)\n" || out.String() != "" {
			t.Errorf("status --wait, Ctrl-C: %q %q", out.String(), errb.String())
		}
		stopped <- rc
	}()
	close(intr)
	if rc := <-stopped; rc != 130 {
		t.Errorf("status --wait, Ctrl-C: rc %d", rc)
	}
	// --wait returns at the job's end, with its status. Its requests are
	// watched, so that the job is cancelled only once it waits.
	asked := make(chan protocol.JobsRequest, 16)
	sub, err := f.nc.Conn.Subscribe(protocol.Subjects{}.Jobs("tester"), func(m *nats.Msg) {
		var req protocol.JobsRequest
		if json.Unmarshal(m.Data, &req) == nil && req.Job == id {
			select {
			case asked <- req:
			default:
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	waited, wout, werr := goCSub(t, fixedClock, map[string]string{envFleet: f.url}, nil, "--wait", "status", id)
	if req := <-asked; !req.Brief || req.Kind != protocol.JobsStatus {
		t.Errorf("status --wait asks %+v, want a brief status", req)
	}
	select {
	case rc := <-waited:
		t.Fatalf("status --wait returned %d while the job runs: %s%s", rc, wout.String(), werr.String())
	default:
	}
	if err := f.nc.Cancel(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if rc := <-waited; rc != statusFailed || !strings.HasSuffix(wout.String(), "\nexited (1): n1\ncancelled (1): m1\n") {
		t.Errorf("status --wait of the cancelled job: rc %d %s\n%s", rc, werr.String(), wout.String())
	}
	<-bg
	rc, out, _ = f.csub(t, fixedClock, "status", id)
	if rc != statusFailed || !strings.HasSuffix(out, "\nexited (1): n1\ncancelled (1): m1\n") {
		t.Errorf("status of the cancelled job: rc %d\n%s", rc, out)
	}
}

// Without a fleet, with a job the coordinator does not know, and with
// bad arguments.
func TestStatusErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		rc   int
		err  string
	}{
		{[]string{"agents"}, 1, "csub: csub agents needs a fleet: give --fleet URL or set FLEETSH_FLEET"},
		{[]string{"status", "j1"}, statusUnknown, "csub: csub status needs a fleet: give --fleet URL or set FLEETSH_FLEET"},
		{[]string{"status"}, statusUsage, "status: give exactly one job id (see csub jobs)"},
		{[]string{"status", "a", "b"}, statusUsage, "status: give exactly one job id (see csub jobs)"},
		{[]string{"agents", "extra"}, statusUsage, `agents: unexpected argument "extra"`},
		{[]string{"jobs", "--wait"}, statusUsage, "option --wait: only with csub status JOB"},
		{[]string{"-w", "n1", "--wait", "true"}, statusUsage, "option --wait: only with csub status JOB"},
	} {
		var out, errb testutil.SyncBuffer
		rc := runCSub(t, nil, nil, &out, &errb, tc.args...)
		if rc != tc.rc || !strings.Contains(errb.String(), tc.err) {
			t.Errorf("%q: rc %d %q, want %d %q", tc.args, rc, errb.String(), tc.rc, tc.err)
		}
	}
	f := startGroupFleet(t, coordinator.Config{LostAfter: time.Hour})
	if rc, _, errs := f.csub(t, nil, "status", "nosuchjob"); rc != statusUnknown ||
		errs != "csub: no job \"nosuchjob\" on this fleet (csub jobs lists them)\n" {
		t.Errorf("unknown job: rc %d %q", rc, errs)
	}
	// A command named status still runs when options select nodes.
	if rc, out, errs := f.csub(t, nil, "-R", "exec", "-w", "l1", "echo", "status"); rc != 0 || out != "l1: status\n" {
		t.Errorf("command status: rc %d %q %q", rc, out, errs)
	}
}

// csub SUBCOMMAND --help prints the subcommand's own help, from
// Subcommands.
func TestSubcommandHelp(t *testing.T) {
	for _, sc := range Subcommands() {
		var out, errb testutil.SyncBuffer
		if rc := runCSub(t, nil, nil, &out, &errb, sc.Name, "--help"); rc != 0 || errb.String() != "" ||
			!strings.HasPrefix(out.String(), "Usage: "+sc.Synopsis+"\n\n") || !strings.Contains(out.String(), "\n\nOptions:\n") ||
			!strings.Contains(strings.Join(strings.Fields(out.String()), " "), "Exit status: "+sc.Exit) {
			t.Errorf("%s --help: rc %d %q\n%s", sc.Name, rc, errb.String(), out.String())
		}
	}
	var out, errb testutil.SyncBuffer
	if rc := runCSub(t, nil, nil, &out, &errb, "--fleet", "nats://127.0.0.1:1", "status", "-h", "--json"); rc != 0 ||
		!strings.Contains(out.String(), "\n  --wait\n        wait for the job to end") {
		t.Errorf("status -h: rc %d %q\n%s", rc, errb.String(), out.String())
	}
}

func TestAgo(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second: "0s ago", 999 * time.Millisecond: "0s ago", 42 * time.Second: "42s ago",
		185 * time.Second: "3m05s ago", 2*time.Hour + 10*time.Minute + 59*time.Second: "2h10m ago",
		76 * time.Hour: "3d04h ago",
	} {
		if got := ago(d); got != want {
			t.Errorf("ago(%v) = %q, want %q", d, got, want)
		}
	}
	if got := orDash("gw 1\x1b[31m"); got != "gw_1?[31m" {
		t.Errorf("orDash: %q", got)
	}
}
