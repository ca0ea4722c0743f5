package csub

// Command line tests beyond the golden cases: what clush has no
// counterpart for (--fleet, --prefix, the fleet being unreachable, Ctrl-C
// through the fleet, a closed output), and the job csub submits for
// clush's options, checked on a test coordinator over a real NATS server.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// runCSub runs csub with env vars vars (plus the golden environment) and
// the interrupts of intr.
func runCSub(t *testing.T, vars map[string]string, intr <-chan struct{}, stdout, stderr *testutil.SyncBuffer, args ...string) int {
	t.Helper()
	return runCSubAt(t, nil, vars, intr, stdout, stderr, args...)
}

// goCSub is runCSubAt in a goroutine: csub's exit status arrives on the
// channel it returns, once csub is done writing the buffers it returns
// (its standard output and error).
func goCSub(t *testing.T, now func() time.Time, vars map[string]string, intr <-chan struct{}, args ...string) (<-chan int, *testutil.SyncBuffer, *testutil.SyncBuffer) {
	t.Helper()
	done := make(chan int, 1)
	var out, errb testutil.SyncBuffer
	go func() { done <- runCSubAt(t, now, vars, intr, &out, &errb, args...) }()
	return done, &out, &errb
}

// runCSubAt is runCSub with csub's clock fixed at now (nil: time.Now).
func runCSubAt(t *testing.T, now func() time.Time, vars map[string]string, intr <-chan struct{}, stdout, stderr *testutil.SyncBuffer, args ...string) int {
	t.Helper()
	env := map[string]string{
		"PATH": "/usr/bin:/bin", "HOME": t.TempDir(), "USER": "tester",
		"CLUSTERSHELL_CFGDIR": filepath.Join("testdata", "golden", "conf"),
	}
	for k, v := range vars {
		env[k] = v
	}
	// No expected output of these tests has clush's progress counter: it
	// must not show because the machine is slow.
	e := &environ{stdin: strings.NewReader(""), stdout: stdout, stderr: stderr, getenv: func(k string) string { return env[k] },
		runTimerDelay: time.Hour, now: now}
	if intr == nil {
		intr = make(chan struct{})
	}
	return run(context.Background(), args, e, intr)
}

func TestBadPrefix(t *testing.T) {
	var out, errb testutil.SyncBuffer
	if rc := runCSub(t, nil, nil, &out, &errb, "--prefix", "a..b", "-w", "n1", "true"); rc != 2 ||
		!strings.HasSuffix(errb.String(), "csub: error: option --prefix: invalid value: 'a..b'\n") {
		t.Fatalf("rc %d, stderr %q", rc, errb.String())
	}
	errb = testutil.SyncBuffer{}
	if rc := runCSub(t, map[string]string{envPrefix: "x.*"}, nil, &out, &errb, "-w", "n1", "true"); rc != 2 ||
		!strings.HasSuffix(errb.String(), "csub: error: FLEETSH_PREFIX: invalid value: 'x.*'\n") {
		t.Fatalf("rc %d, stderr %q", rc, errb.String())
	}
}

func TestFleetUnreachable(t *testing.T) {
	url := "nats://127.0.0.1:" + strconv.Itoa(testutil.RefusedPort(t))
	var out, errb testutil.SyncBuffer
	start := time.Now()
	rc := runCSub(t, nil, nil, &out, &errb, "--fleet", url, "-w", "n1", "true")
	want := "csub: cannot connect to the fleet at " + url + ": "
	if rc != 1 || !strings.HasPrefix(errb.String(), want) || !strings.Contains(errb.String(), "check --fleet or FLEETSH_FLEET") {
		t.Fatalf("rc %d, stderr %q", rc, errb.String())
	}
	if d := time.Since(start); d > 6*time.Second {
		t.Fatalf("took %v to fail", d)
	}
}

func TestNoCoordinator(t *testing.T) {
	srv := natstest.Start(t, 0)
	var out, errb testutil.SyncBuffer
	rc := runCSub(t, map[string]string{envFleet: srv.URL()}, nil, &out, &errb, "-w", "n1", "true")
	msg := errb.String()
	if rc != 1 || !strings.HasPrefix(msg, "csub: the fleet coordinator at "+srv.URL()+" is unreachable") ||
		!strings.Contains(msg, "start the coordinator") {
		t.Fatalf("rc %d, stderr %q", rc, msg)
	}
}

// testCoordinator answers one submit on a real NATS server and streams
// the given records back as the job's output.
func testCoordinator(t *testing.T, srv *natstest.Server, prefix string, refuse string, recs func(spec protocol.JobSpec) []protocol.Event) <-chan protocol.JobSpec {
	t.Helper()
	return oneSubmit(t, srv, prefix, refuse, true, recs)
}

// oneSubmit answers the next submit and sends the records as the job's
// first batch, its last one if last is set; then it stops listening.
func oneSubmit(t *testing.T, srv *natstest.Server, prefix string, refuse string, last bool, recs func(spec protocol.JobSpec) []protocol.Event) <-chan protocol.JobSpec {
	t.Helper()
	nc := srv.Connect(t, "test-coordinator")
	subj := protocol.Subjects{Prefix: prefix}
	specs := make(chan protocol.JobSpec, 1)
	var sub *nats.Subscription
	sub, err := nc.Subscribe(subj.AllSubmits(), func(m *nats.Msg) {
		_ = sub.Unsubscribe()
		var spec protocol.JobSpec
		if err := protocol.Unmarshal(m.Data, &spec); err != nil {
			t.Error(err)
			return
		}
		specs <- spec
		_ = wire.Respond(m, protocol.TypeSubmitReply, protocol.SubmitReply{Job: spec.ID, Error: refuse})
		if refuse != "" {
			return
		}
		b := protocol.EventBatch{Job: spec.ID, Seq: 1, Last: last, Indexed: true, Events: recs(spec)}
		data, err := b.MarshalBinary()
		if err != nil {
			t.Error(err)
			return
		}
		_ = nc.PublishMsg(wire.NewMsg(subj.Output(subj.Sender(m.Subject), spec.ID), protocol.TypeEventBatch, data))
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
	return specs
}

func TestJobSpecThroughFleet(t *testing.T) {
	srv := natstest.Start(t, 0)
	specs := testCoordinator(t, srv, "site.a", "", func(spec protocol.JobSpec) []protocol.Event {
		return []protocol.Event{
			{Kind: protocol.KindStdout, Nodes: []uint32{0, 1}, Data: []byte("a b")},
			{Kind: protocol.KindEnd, Nodes: []uint32{0, 1}, State: protocol.StateExited, Code: 0},
		}
	})
	var out, errb testutil.SyncBuffer
	rc := runCSub(t, map[string]string{envFleet: srv.URL(), envPrefix: "site.a"}, nil, &out, &errb,
		"-R", "exec", "-f", "3", "-t", "2.5", "-u", "1.5", "-l", "bob", "-o", "-p 2222", "-B",
		"-g", "compute", "-x", "node3", "echo", "a", "b")
	if rc != 0 || errb.String() != "" {
		t.Fatalf("rc %d, stderr %q", rc, errb.String())
	}
	if want := "---------------\nnode[2,4] (2)\n---------------\na b\n"; out.String() != want {
		t.Fatalf("stdout %q, want %q", out.String(), want)
	}
	spec := <-specs
	want := protocol.JobSpec{ID: spec.ID, User: "tester", Nodes: "node[2,4]", Command: "echo a b", Worker: "exec",
		Fanout: 3, ConnectTimeout: 2500 * time.Millisecond, CommandTimeout: 1500 * time.Millisecond,
		Stderr: false, Gather: true, Stdin: true, Info: map[string]string{"ssh_user": "bob", "ssh_options": "-p 2222"}}
	if fmt.Sprint(spec) != fmt.Sprint(want) {
		t.Fatalf("spec\n got %+v\nwant %+v", spec, want)
	}
}

func TestGatherFlag(t *testing.T) {
	for _, c := range []struct {
		args   []string
		gather bool
		stderr bool
	}{
		{nil, false, true},
		{[]string{"-b"}, true, true},
		{[]string{"-B"}, true, false},
		{[]string{"-L"}, true, true},
		{[]string{"-bL"}, false, true}, // lines printed as all nodes give them
		{[]string{"-bv"}, false, true}, // lines printed live as well
	} {
		env := &environ{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }}
		s, _, err := parseArgs(append(c.args, "true"), env)
		if err != nil {
			t.Fatal(err)
		}
		spec := jobSpec(s, "n1")
		if spec.Gather != c.gather || spec.Stderr != c.stderr {
			t.Errorf("%q: gather %v stderr %v, want %v %v", c.args, spec.Gather, spec.Stderr, c.gather, c.stderr)
		}
	}
}

func TestSubmitRefused(t *testing.T) {
	srv := natstest.Start(t, 0)
	testCoordinator(t, srv, "", "no agent serves these nodes", nil)
	var out, errb testutil.SyncBuffer
	rc := runCSub(t, map[string]string{envFleet: srv.URL()}, nil, &out, &errb, "-w", "n1", "true")
	if rc != 1 || !strings.HasPrefix(errb.String(), "csub: job ") || !strings.HasSuffix(errb.String(), "refused by the coordinator: no agent serves these nodes\n") {
		t.Fatalf("rc %d, stderr %q", rc, errb.String())
	}
}

// TestCtrlC interrupts a job on the in-process fleet while two of its
// nodes sleep: they are cancelled (their commands killed), and csub
// exits 130 well within its grace period. Without a terminal it ends as
// clush's excepthook does: the output mode closes with the nodes that
// had ended (node1), then "Keyboard interrupt.".
func TestCtrlC(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want func(out, errb string) bool
	}{
		{"live", nil, func(out, errb string) bool {
			return strings.Contains(out, "node1: x\n") && strings.Contains(out, "node2: x\n") &&
				errb == "Keyboard interrupt.\n"
		}},
		{"gathered", []string{"-b"}, func(out, errb string) bool {
			return out == "---------------\nnode1\n---------------\nx\n" && errb == "Keyboard interrupt.\n"
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			intr := make(chan struct{}, 1)
			marker := filepath.Join(t.TempDir(), "node1-done")
			cmd := fmt.Sprintf("echo x; [ %%h = node1 ] && touch %s && exit 0; sleep 30", marker)
			start := time.Now()
			done, out, errb := goCSub(t, nil, nil, intr, append(append([]string{"-R", "exec"}, c.args...), "-w", "node[1-3]", cmd)...)
			// Interrupt once node1 has ended and the others sleep.
			for {
				if _, err := os.Stat(marker); err == nil {
					break
				}
				if time.Since(start) > 10*time.Second {
					t.Fatal("node1 never ran")
				}
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(200 * time.Millisecond) // node1's end reaches csub
			intr <- struct{}{}
			rc := <-done
			if rc != 130 || !c.want(out.String(), errb.String()) {
				t.Fatalf("rc %d\nstdout %q\nstderr %q", rc, out.String(), errb.String())
			}
			if d := time.Since(start); d > 8*time.Second {
				t.Fatalf("took %v", d)
			}
		})
	}
}

// failWriter fails every write with err, as a closed pipe does (err
// EPIPE) or a full disk.
type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

func TestOutputClosed(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{syscall.EPIPE, ""}, // csub ... | head: quiet, as clush
		{errors.New("disk full"), "ERROR: disk full\n"},
	} {
		var errb testutil.SyncBuffer
		env := &environ{stdin: strings.NewReader(""), stdout: failWriter{c.err}, stderr: &errb,
			getenv: func(string) string { return "" }}
		rc := run(context.Background(), []string{"-R", "exec", "-w", "node[1-2]", "echo hi"}, env, make(chan struct{}))
		if rc != 1 || errb.String() != c.want {
			t.Errorf("%v: rc %d, stderr %q", c.err, rc, errb.String())
		}
	}
}

func TestHelpMatchesClush(t *testing.T) {
	clushHelp, err := os.ReadFile(filepath.Join("testdata", "golden", "clush_help.out"))
	if err != nil {
		t.Fatal(err)
	}
	var out, errb testutil.SyncBuffer
	if rc := runCSub(t, nil, nil, &out, &errb, "--help"); rc != 0 || errb.String() != "" {
		t.Fatalf("rc %d, stderr %q", rc, errb.String())
	}
	help := out.String()
	// Up to our own group, every line of csub's help is clush's: the
	// usage, the group titles, and each option's entry (its line and the
	// lines its help wraps to), whole, with the same wrapping.
	ours := help[:strings.Index(help, "\n  Fleet options:\n")+1]
	var entries []string
	for _, line := range strings.SplitAfter(ours, "\n") {
		if strings.HasPrefix(line, strings.Repeat(" ", 24)) && len(entries) > 0 {
			entries[len(entries)-1] += line
			continue
		}
		entries = append(entries, line)
	}
	for _, e := range entries {
		if !strings.Contains(string(clushHelp), e) {
			t.Errorf("help entry not in clush's help:\n%s", e)
		}
	}
	for _, opt := range []string{"-w NODES ", "--group=GROUP", "--dshbak", "--maxrc", "--fanout=FANOUT",
		"--connect_timeout=CONNECT_TIMEOUT", "--worker=WORKER", "--fleet=URL", "--prefix=PREFIX"} {
		if !strings.Contains(help, opt) {
			t.Errorf("help lacks %s", opt)
		}
	}
}

// TestGatherGCPercent checks that csub lowers the collector's GOGC when
// it gathers output (-b, -L) and leaves it alone otherwise.
func TestGatherGCPercent(t *testing.T) {
	// csub stops at the connection: the setting comes before.
	url := "nats://127.0.0.1:" + strconv.Itoa(testutil.RefusedPort(t))
	for _, c := range []struct {
		opt  string
		want int
	}{{"-b", gatherGCPercent}, {"-L", gatherGCPercent}, {"-S", 0}} {
		got := 0
		var out, errb testutil.SyncBuffer
		env := &environ{stdin: strings.NewReader(""), stdout: &out, stderr: &errb,
			getenv: func(string) string { return "" }, setGCPercent: func(p int) int { got = p; return 100 }}
		run(context.Background(), []string{"--fleet", url, c.opt, "-w", "n1", "true"}, env, make(chan struct{}))
		if got != c.want {
			t.Errorf("%s: GOGC set to %d, want %d (stderr %q)", c.opt, got, c.want, errb.String())
		}
	}
}

// TestInProcessFanout runs 70 commands that each wait until all 70 run:
// the in-process fleet must run -f 70 at a time, not its agent's default
// capacity of 64.
func TestInProcessFanout(t *testing.T) {
	dir := t.TempDir()
	// Only shell builtins in the loop but sleep: 70 of them at once
	// must not load the machine.
	cmd := fmt.Sprintf(`touch %[1]s/%%h; i=0; while [ $i -lt 150 ]; do set -- %[1]s/*; [ $# -ge 70 ] && exit 0; sleep 0.1; i=$((i+1)); done; echo only $#; exit 1`, dir)
	var out, errb testutil.SyncBuffer
	if rc := runCSub(t, nil, nil, &out, &errb, "-R", "exec", "-f", "70", "-w", "n[1-70]", "-S", cmd); rc != 0 {
		t.Fatalf("rc %d, stdout %q, stderr %q", rc, out.String(), errb.String())
	}
}
