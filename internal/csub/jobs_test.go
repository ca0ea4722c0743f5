package csub

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/fleet/agent"
	"github.com/fleetsh/fleetsh/pkg/fleet/coordinator"
)

// startTestFleet runs a coordinator and a local agent on a real NATS
// server in this process and returns its URL for --fleet.
func startTestFleet(t *testing.T) string {
	t.Helper()
	return startFleetWith(t, coordinator.Config{})
}

// startFleetWith is startTestFleet with a coordinator configured as cfg
// (its Logger set to the test's).
func startFleetWith(t *testing.T, cfg coordinator.Config) string {
	t.Helper()
	srv := natstest.Start(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	cfg.Logger = natstest.Logger(t)
	co, err := coordinator.New(srv.Connect(t, "coordinator"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ag, err := agent.New(srv.Connect(t, "agent"), agent.Config{Local: true, Name: "local", Logger: natstest.Logger(t),
		CoordinatorKeys: []string{co.PublicKey()}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}, 2)
	go func() { _ = co.Run(ctx); done <- struct{}{} }()
	go func() { _ = ag.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })
	for len(co.Agents()) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	return srv.URL()
}

func TestJobsAndAttach(t *testing.T) {
	url := startTestFleet(t)
	vars := map[string]string{"FLEETSH_FLEET": url}

	// A job in the background, still running while we list and attach.
	bg, _, bgErr := goCSub(t, nil, vars, nil, "-R", "exec", "-w", "n[1-3]", `echo before; sleep 1; echo after`)
	var id string
	deadline := time.Now().Add(10 * time.Second)
	for id == "" {
		var out, errb testutil.SyncBuffer
		if rc := runCSub(t, vars, nil, &out, &errb, "jobs"); rc != 0 {
			t.Fatalf("jobs: rc %d %s", rc, errb.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if !strings.HasPrefix(lines[0], "JOB ") {
			t.Fatalf("jobs header %q", lines[0])
		}
		if len(lines) > 1 && strings.Contains(lines[1], "running") {
			id = strings.Fields(lines[1])[0]
			if !strings.Contains(lines[1], "tester") || !strings.Contains(lines[1], "echo before; sleep 1") {
				t.Errorf("job line %q", lines[1])
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no running job listed: %q", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// attach replays what was printed before and follows the rest.
	var out, errb testutil.SyncBuffer
	if rc := runCSub(t, vars, nil, &out, &errb, "attach", "-b", id); rc != 0 {
		t.Fatalf("attach: rc %d %s", rc, errb.String())
	}
	want := "---------------\nn[1-3] (3)\n---------------\nbefore\nafter\n"
	if out.String() != want {
		t.Errorf("attach -b output %q, want %q", out.String(), want)
	}
	if rc := <-bg; rc != 0 {
		t.Errorf("background job rc %d: %s", rc, bgErr.String())
	}

	// A finished job replays whole, in JSON too.
	out, errb = testutil.SyncBuffer{}, testutil.SyncBuffer{}
	if rc := runCSub(t, vars, nil, &out, &errb, "attach", "--json", id); rc != 0 || strings.Count(out.String(), `"type":"result"`) != 3 {
		t.Errorf("attach --json: rc %d\n%s%s", rc, out.String(), errb.String())
	}
	out, errb = testutil.SyncBuffer{}, testutil.SyncBuffer{}
	if rc := runCSub(t, vars, nil, &out, &errb, "jobs", "--json"); rc != 0 || !strings.Contains(out.String(), `"type":"job"`) || !strings.Contains(out.String(), id) {
		t.Errorf("jobs --json: rc %d\n%s%s", rc, out.String(), errb.String())
	}
}

func TestJobsErrors(t *testing.T) {
	var out, errb testutil.SyncBuffer
	if rc := runCSub(t, nil, nil, &out, &errb, "jobs"); rc != 1 || !strings.Contains(errb.String(), "csub jobs needs a fleet: give --fleet URL or set FLEETSH_FLEET") {
		t.Errorf("no fleet: rc %d %q", rc, errb.String())
	}
	url := startTestFleet(t)
	errb = testutil.SyncBuffer{}
	if rc := runCSub(t, map[string]string{"FLEETSH_FLEET": url}, nil, &out, &errb, "attach", "nosuchjob"); rc != 1 ||
		errb.String() != "csub: no job \"nosuchjob\" on this fleet (csub jobs lists them)\n" {
		t.Errorf("unknown job: rc %d %q", rc, errb.String())
	}
	errb = testutil.SyncBuffer{}
	if rc := runCSub(t, map[string]string{"FLEETSH_FLEET": url}, nil, &out, &errb, "attach"); rc != 2 || !strings.Contains(errb.String(), "attach: give exactly one job id") {
		t.Errorf("no id: rc %d %q", rc, errb.String())
	}
}

// TestFleetFromClushConf: csub's config file names the fleet as --fleet
// would (our own key in clush.conf's [Main]); the flag wins.
func TestFleetFromClushConf(t *testing.T) {
	url := startTestFleet(t)
	conf := t.TempDir() + "/clush.conf"
	if err := os.WriteFile(conf, []byte("[Main]\nfleet: "+url+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb testutil.SyncBuffer
	if rc := runCSub(t, nil, nil, &out, &errb, "jobs", "--conf", conf); rc != 0 || !strings.HasPrefix(out.String(), "JOB ") {
		t.Errorf("jobs with fleet from clush.conf: rc %d %q %q", rc, out.String(), errb.String())
	}
	out, errb = testutil.SyncBuffer{}, testutil.SyncBuffer{}
	if rc := runCSub(t, nil, nil, &out, &errb, "jobs", "--conf", conf, "--fleet", "nats://127.0.0.1:1"); rc != 1 ||
		!strings.Contains(errb.String(), "cannot connect to the fleet at nats://127.0.0.1:1") {
		t.Errorf("--fleet over clush.conf: rc %d %q", rc, errb.String())
	}
}

// Issue 10 item 6: options go before and after the subcommand, as
// clush's around a command's arguments, and a copy job's COMMAND says
// what it copies.
func TestSubcommandOptionsAnywhere(t *testing.T) {
	url := startTestFleet(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb testutil.SyncBuffer
	if rc := runCSub(t, nil, nil, &out, &errb, "--fleet", url, "-R", "exec", "-w", "n1", "--gateway-paths",
		"-c", src, "--dest", filepath.Join(dir, "dst")); rc != 0 {
		t.Fatalf("copy: rc %d %s", rc, errb.String())
	}
	out, errb = testutil.SyncBuffer{}, testutil.SyncBuffer{}
	if rc := runCSub(t, nil, nil, &out, &errb, "--fleet", url, "jobs"); rc != 0 {
		t.Fatalf("--fleet URL jobs: rc %d %q", rc, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[1], "  "+oneLine("copy "+src+" -> "+filepath.Join(dir, "dst"))) {
		t.Fatalf("jobs:\n%s%s", out.String(), errb.String())
	}
	id := strings.Fields(lines[1])[0]
	for _, args := range [][]string{
		{"attach", "-b", id, "--fleet", url},
		{"--fleet", url, "attach", id, "-b"},
		{"-b", "attach", "--fleet", url, "--", id},
	} {
		out, errb = testutil.SyncBuffer{}, testutil.SyncBuffer{}
		if rc := runCSub(t, nil, nil, &out, &errb, args...); rc != 0 {
			t.Errorf("%q: rc %d %q", args, rc, errb.String())
		}
	}
	// A command named jobs still runs when options select nodes.
	out, errb = testutil.SyncBuffer{}, testutil.SyncBuffer{}
	if rc := runCSub(t, map[string]string{"FLEETSH_FLEET": url}, nil, &out, &errb, "-R", "exec", "-w", "n1", "echo", "jobs"); rc != 0 || out.String() != "n1: jobs\n" {
		t.Errorf("command jobs: rc %d %q %q", rc, out.String(), errb.String())
	}
	out, errb = testutil.SyncBuffer{}, testutil.SyncBuffer{}
	if rc := runCSub(t, nil, nil, &out, &errb, "jobs", "--fleet", url, "extra"); rc != 2 || !strings.Contains(errb.String(), `jobs: unexpected argument "extra"`) {
		t.Errorf("jobs extra: rc %d %q", rc, errb.String())
	}
}
