package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// run runs command with the exec driver on node and returns the result
// and its output (stderr merged into stdout when sepErr is false).
func run(t *testing.T, ctx context.Context, job *engine.Job, sepErr bool) (engine.Result, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	job.Stdout = &out
	if sepErr {
		job.Stderr = &errb
	}
	res := New().Run(ctx, job)
	return res, out.String(), errb.String()
}

func TestExecPlaceholdersPerNode(t *testing.T) {
	nodes := []string{"node1", "node2", "node3"}
	d := New()
	keys := d.Keys(nodes, "echo %h rank=%n")
	if !slices.Equal(keys, nodes) {
		t.Fatalf("Keys = %q", keys)
	}
	for rank, n := range keys {
		res, out, _ := run(t, t.Context(), &engine.Job{Node: n, Nodes: nodes, Rank: rank, Command: "echo %h rank=%n %%"}, false)
		if res.Err != nil || res.ExitCode != 0 {
			t.Fatalf("%s: %+v", n, res)
		}
		if want := fmt.Sprintf("%s rank=%d %%\n", n, rank); out != want {
			t.Errorf("%s: output %q, want %q", n, out, want)
		}
	}
}

func TestExecHostsRunsOnce(t *testing.T) {
	nodes := []string{"node3", "node1", "node2", "gpu01"}
	d := New()
	keys := d.Keys(nodes, "echo %hosts")
	if want := []string{"gpu01,node[1-3]"}; !slices.Equal(keys, want) {
		t.Fatalf("Keys = %q, want %q", keys, want)
	}
	if d.Keys(nil, "x") != nil {
		t.Error("Keys(nil) != nil")
	}
	// A counter file proves a single run.
	dir := t.TempDir()
	cmd := "echo %hosts %{hosts} %h %n; echo x >> " + dir + "/runs"
	res, out, _ := run(t, t.Context(), &engine.Job{Node: keys[0], Nodes: nodes, Rank: 2, Command: cmd}, false)
	if res.Err != nil || res.ExitCode != 0 {
		t.Fatalf("%+v", res)
	}
	if want := "gpu01,node[1-3] gpu01,node[1-3] gpu01,node[1-3] 0\n"; out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	b, _ := os.ReadFile(dir + "/runs")
	if string(b) != "x\n" {
		t.Errorf("runs %q", b)
	}
}

func TestExecBadPlaceholder(t *testing.T) {
	dir := t.TempDir()
	res, out, _ := run(t, t.Context(), &engine.Job{Node: "n1", Command: "echo 100% done; touch " + dir + "/ran"}, false)
	var pe *PlaceholderError
	if engine.ReasonOf(res.Err) != engine.ReasonLocal || !errors.As(res.Err, &pe) || res.ExitCode != 1 {
		t.Fatalf("result %+v", res)
	}
	if pe.Msg != "Invalid placeholder in string: line 1, col 9 is not a valid pattern, use '%%' to escape '%'" {
		t.Errorf("message %q", pe.Msg)
	}
	if !strings.HasPrefix(res.Err.Error(), "n1: local error: ") {
		t.Errorf("error %q does not name the node", res.Err)
	}
	if out != "" {
		t.Errorf("output %q", out)
	}
	if _, err := os.Stat(dir + "/ran"); err == nil {
		t.Error("the command ran")
	}
}

func TestExecExitCodes(t *testing.T) {
	for cmd, want := range map[string]int{
		"true": 0, "exit 3": 3, "exit 255": 255, "kill -9 $$": 137, "kill -TERM $$": 143,
	} {
		res, _, _ := run(t, t.Context(), &engine.Job{Node: "n", Command: cmd}, false)
		if res.Err != nil || res.ExitCode != want {
			t.Errorf("%q: %+v, want exit %d", cmd, res, want)
		}
	}
}

func TestExecStderr(t *testing.T) {
	cmd := "echo out1; echo err1 >&2; echo out2; echo err2 >&2"
	_, out, _ := run(t, t.Context(), &engine.Job{Node: "n", Command: cmd}, false)
	if out != "out1\nerr1\nout2\nerr2\n" {
		t.Errorf("merged: %q", out)
	}
	_, out, errs := run(t, t.Context(), &engine.Job{Node: "n", Command: cmd}, true)
	if out != "out1\nout2\n" || errs != "err1\nerr2\n" {
		t.Errorf("separate: %q %q", out, errs)
	}
}

func TestExecStdin(t *testing.T) {
	res, out, _ := run(t, t.Context(), &engine.Job{Node: "n", Command: "cat; echo end", Stdin: strings.NewReader("line1\nline2")}, false)
	if res.ExitCode != 0 || out != "line1\nline2end\n" {
		t.Errorf("%+v %q", res, out)
	}
	// No stdin: EOF at once.
	_, out, _ = run(t, t.Context(), &engine.Job{Node: "n", Command: "cat; echo end"}, false)
	if out != "end\n" {
		t.Errorf("nil stdin: %q", out)
	}
	// A stdin that never ends does not hold a command that does not read it.
	pr, pw := io.Pipe()
	defer pw.Close()
	start := time.Now()
	res, _, _ = run(t, t.Context(), &engine.Job{Node: "n", Command: "exit 4", Stdin: pr}, false)
	if res.ExitCode != 4 || time.Since(start) > 5*time.Second {
		t.Errorf("blocked stdin: %+v after %v", res, time.Since(start))
	}
	// A command that stops reading early: the copy gets EPIPE and stops.
	big := strings.NewReader(strings.Repeat("x", 1<<20))
	res, out, _ = run(t, t.Context(), &engine.Job{Node: "n", Command: "head -c 3", Stdin: big}, false)
	if res.ExitCode != 0 || out != "xxx" {
		t.Errorf("early close: %+v %q", res, out)
	}
}

func waitFile(t *testing.T, path string) []int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(path)
		if err == nil && strings.HasSuffix(string(b), "\n") {
			var pids []int
			for _, f := range strings.Fields(string(b)) {
				pid, err := strconv.Atoi(f)
				if err != nil {
					t.Fatal(err)
				}
				pids = append(pids, pid)
			}
			return pids
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never written", path)
	return nil
}

func TestExecCancelKillsTree(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cause  error
		reason engine.Reason
	}{
		{"abort", nil, engine.ReasonAborted},
		{"timeout", context.DeadlineExceeded, engine.ReasonCommandTimeout},
		{"cause", &engine.NodeError{Reason: engine.ReasonConnect}, engine.ReasonConnect},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pidfile := filepath.Join(t.TempDir(), "pids")
			ctx, cancel := context.WithCancelCause(t.Context())
			defer cancel(nil)
			cmd := "sleep 100 & child=$!; sh -c 'sleep 100' & echo $$ $child $! > " + pidfile + "; sleep 100"
			done := make(chan engine.Result, 1)
			go func() {
				res, _, _ := run(t, ctx, &engine.Job{Node: "n", Command: cmd}, false)
				done <- res
			}()
			pids := waitFile(t, pidfile)
			res := testutil.CancelAndWait(t, func() { cancel(tc.cause) }, done, 2*time.Second, 5*time.Second)
			if engine.ReasonOf(res.Err) != tc.reason || res.ExitCode != -1 {
				t.Errorf("result %+v, want reason %q", res, tc.reason)
			}
			for _, pid := range pids {
				if !testutil.Gone(pid, 2*time.Second) {
					t.Errorf("pid %d survived", pid)
				}
			}
		})
	}
}

// Processes that leave the job's process group: a descendant in a session
// of its own is still found and killed; an orphan (its parent gone) that
// holds the output pipe cannot be found, and Run returns all the same once
// the drain grace is over.
func TestExecCancelEscapedChild(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cmd    string
		killed bool
	}{
		{"descendant", "setsid sh -c 'echo $$ > PIDFILE; exec sleep 100' & wait", true},
		{"orphan", "setsid sh -c 'echo $$ > PIDFILE; exec sleep 100' &", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pidfile := filepath.Join(t.TempDir(), "pids")
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := make(chan engine.Result, 1)
			go func() {
				res, _, _ := run(t, ctx, &engine.Job{Node: "n", Command: strings.ReplaceAll(tc.cmd, "PIDFILE", pidfile)}, false)
				done <- res
			}()
			pid := waitFile(t, pidfile)[0]
			defer syscall.Kill(pid, syscall.SIGKILL)
			// The escaped sleep holds the pipe, so the job goes on, as
			// with ClusterShell.
			select {
			case res := <-done:
				t.Fatalf("Run returned before cancel: %+v", res)
			case <-time.After(300 * time.Millisecond):
			}
			cancel()
			select {
			case res := <-done:
				if engine.ReasonOf(res.Err) != engine.ReasonAborted {
					t.Errorf("result %+v", res)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not return")
			}
			deadline := time.Now().Add(2 * time.Second)
			for tc.killed && testutil.Alive(pid) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if testutil.Alive(pid) == tc.killed {
				t.Errorf("pid %d alive=%v, want killed=%v", pid, testutil.Alive(pid), tc.killed)
			}
		})
	}
}

func TestProcessStartError(t *testing.T) {
	p := &Process{Args: []string{"/nonexistent/fleetsh-nothing"}}
	res := p.Run(t.Context(), "n9")
	if res.ExitCode != 255 || engine.ReasonOf(res.Err) != engine.ReasonLocal || !strings.Contains(res.Err.Error(), "n9") {
		t.Errorf("%+v", res)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if res := (&Process{Args: []string{"true"}}).Run(ctx, "n"); engine.ReasonOf(res.Err) != engine.ReasonAborted {
		t.Errorf("cancelled before start: %+v", res)
	}
	if res := (&Process{}).Run(t.Context(), "n"); engine.ReasonOf(res.Err) != engine.ReasonLocal {
		t.Errorf("empty args: %+v", res)
	}
}

func TestProcessEnv(t *testing.T) {
	var out bytes.Buffer
	p := &Process{Args: []string{Shell, "-c", "echo $FLEETSH_X"}, Env: []string{"FLEETSH_X=yes"}, Stdout: &out}
	if res := p.Run(t.Context(), "n"); res.Err != nil || out.String() != "yes\n" {
		t.Errorf("%+v %q", res, out.String())
	}
}

// mkTree makes src/{a, sub/b, sub/deeper/c} with old modification times
// and mode 0640 on a.
func mkTree(t *testing.T, root string) string {
	t.Helper()
	src := filepath.Join(root, "src")
	for _, f := range []string{"a", "sub/b", "sub/deeper/c"} {
		p := filepath.Join(src, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("content of "+f+"\n"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, f := range []string{"a", "sub/b", "sub/deeper/c", "sub/deeper", "sub", "."} {
		if err := os.Chtimes(filepath.Join(src, f), old, old); err != nil {
			t.Fatal(err)
		}
	}
	return src
}

// checkTree checks a copy of mkTree's tree at dst; with preserve the old
// times must have been kept, without it they must not.
func checkTree(t *testing.T, dst string, preserve bool) {
	t.Helper()
	for _, f := range []string{"a", "sub/b", "sub/deeper/c"} {
		p := filepath.Join(dst, f)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("copy: %v", err)
			continue
		}
		if string(b) != "content of "+f+"\n" {
			t.Errorf("%s: %q", p, b)
		}
		fi, _ := os.Stat(p)
		if kept := fi.ModTime().Year() == 2001; kept != preserve {
			t.Errorf("%s: mtime %v with preserve=%v", p, fi.ModTime(), preserve)
		}
	}
	if fi, err := os.Stat(filepath.Join(dst, "a")); err == nil && preserve && fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v not kept", fi.Mode())
	}
}

func TestExecCopyTree(t *testing.T) {
	for _, preserve := range []bool{false, true} {
		t.Run(fmt.Sprint("preserve=", preserve), func(t *testing.T) {
			root := t.TempDir()
			src := mkTree(t, root)
			var dbg []string
			// The destination uses %h, as clush --dest /x/%h does.
			if err := os.MkdirAll(filepath.Join(root, "dst", "node7"), 0o755); err != nil {
				t.Fatal(err)
			}
			job := &engine.Job{Node: "node7", Copy: &protocol.CopySpec{Source: src, Dest: filepath.Join(root, "dst", "%h"), Preserve: preserve},
				Debug: func(l string) { dbg = append(dbg, l) }}
			res, out, _ := run(t, t.Context(), job, false)
			if res.Err != nil || res.ExitCode != 0 {
				t.Fatalf("%+v %q", res, out)
			}
			checkTree(t, filepath.Join(root, "dst", "node7", "src"), preserve)
			want := "COPYCLIENT: cp -r "
			if preserve {
				want += "-p "
			}
			if want += src + " " + filepath.Join(root, "dst", "node7"); !slices.Equal(dbg, []string{want}) {
				t.Errorf("debug %q, want %q", dbg, want)
			}
			// A single file: no -r.
			res, _, _ = run(t, t.Context(), &engine.Job{Node: "n", Copy: &protocol.CopySpec{Source: src + "/a", Dest: root + "/single", Preserve: preserve}}, false)
			if fi, err := os.Stat(root + "/single"); res.ExitCode != 0 || err != nil || fi.IsDir() {
				t.Errorf("single file: %+v %v", res, err)
			}
		})
	}
}

func TestExecRcopyTree(t *testing.T) {
	root := t.TempDir()
	src := mkTree(t, root)
	back := filepath.Join(root, "back")
	if err := os.Mkdir(back, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"node1", "node2"} {
		// The engine computes <dest>/<basename(source)>.<node>.
		dest := filepath.Join(back, "src."+n)
		res, out, _ := run(t, t.Context(), &engine.Job{Node: n, Copy: &protocol.CopySpec{Source: src, Dest: dest, Reverse: true, Preserve: true}}, false)
		if res.Err != nil || res.ExitCode != 0 {
			t.Fatalf("%s: %+v %q", n, res, out)
		}
		checkTree(t, dest, true)
	}
}

func TestExecCopyErrors(t *testing.T) {
	res, out, errs := run(t, t.Context(), &engine.Job{Node: "n", Copy: &protocol.CopySpec{Source: "/nonexistent/x", Dest: t.TempDir()}}, true)
	if res.Err != nil || res.ExitCode == 0 || out != "" || !strings.Contains(errs, "cp: ") {
		t.Errorf("%+v %q %q", res, out, errs)
	}
	res, _, _ = run(t, t.Context(), &engine.Job{Node: "n", Copy: &protocol.CopySpec{Source: "/tmp/100%", Dest: "/tmp"}}, false)
	if engine.ReasonOf(res.Err) != engine.ReasonLocal {
		t.Errorf("bad placeholder in source: %+v", res)
	}
}

func TestExecDebug(t *testing.T) {
	var dbg []string
	job := &engine.Job{Node: "n1", Command: "echo %h", Debug: func(l string) { dbg = append(dbg, l) }}
	run(t, t.Context(), job, false)
	if !slices.Equal(dbg, []string{"EXECCLIENT: echo n1"}) {
		t.Errorf("debug %q", dbg)
	}
}

func TestExecConcurrent(t *testing.T) {
	d := New()
	errc := make(chan error, 50)
	for i := range 50 {
		go func() {
			var out bytes.Buffer
			n := fmt.Sprintf("node%d", i)
			res := d.Run(t.Context(), &engine.Job{Node: n, Rank: i, Command: "echo %h %n; exit %n", Stdout: &out})
			if res.ExitCode != i || out.String() != fmt.Sprintf("%s %d\n", n, i) {
				errc <- fmt.Errorf("%s: %+v %q", n, res, out.String())
				return
			}
			errc <- nil
		}()
	}
	for range 50 {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
}
