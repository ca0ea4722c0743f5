package csub

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// scriptLine is one line of a scripted session: what the prompt returns,
// and what to do once it has been returned.
type scriptLine struct {
	line  string
	err   error
	after func()
}

// runScript runs csub in interactive mode (through run, as Main would on
// a terminal) with lines as what the user types, and returns its status.
func runScript(t *testing.T, intr <-chan struct{}, stdout, stderr *testutil.SyncBuffer, lines []scriptLine, args ...string) int {
	t.Helper()
	home := t.TempDir()
	env := map[string]string{
		"PATH": "/usr/bin:/bin", "HOME": home, "USER": "tester",
		"CLUSTERSHELL_CFGDIR": filepath.Join("testdata", "golden", "conf"),
	}
	var prompts []string
	next := 0
	e := &environ{stdin: strings.NewReader(""), stdout: stdout, stderr: stderr, getenv: func(k string) string { return env[k] }}
	e.term = &terminal{errFd: -1, lines: func(p string) (string, error) {
		prompts = append(prompts, p)
		if next == len(lines) {
			return "", io.EOF
		}
		l := lines[next]
		next++
		if l.after != nil {
			go l.after()
		}
		return l.line, l.err
	}}
	if intr == nil {
		intr = make(chan struct{})
	}
	rc := run(context.Background(), args, e, intr)
	for _, p := range prompts {
		if p != "csub> " {
			t.Errorf("prompt %q", p)
		}
	}
	return rc
}

// TestSession runs the prompt's commands as clush's ttyloop does.
func TestSession(t *testing.T) {
	var out, errb testutil.SyncBuffer
	intr := make(chan struct{}, 1)
	marker := filepath.Join(t.TempDir(), "started")
	rc := runScript(t, intr, &out, &errb, []scriptLine{
		{line: "echo hi %h"},
		{line: "="},
		{line: "echo same"},
		{line: "!echo local; echo err >&2; exit 3"},
		{line: "?"},
		{line: "+n5"},
		{line: "-n1"},
		{line: "@n[7-8]"},
		{line: "+bad["},
		{line: "typed then Ctrl-C", err: errInterrupted},
		{line: ""},
		{line: "!   "},
		{line: "-n[7-8]"},
		{line: "echo nowhere"},
		{line: "@n1"},
		// Ctrl-C during a command: the job is cancelled, the prompt comes
		// back (clush would exit).
		{line: "touch " + marker + "; sleep 30", after: func() {
			for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(10 * time.Millisecond) {
				if _, err := os.Stat(marker); err == nil {
					time.Sleep(100 * time.Millisecond)
					intr <- struct{}{}
					return
				}
			}
		}},
		{line: "="},
		{line: "echo back %h"},
		{line: "Quit"},
		{line: "never read"},
	}, "-R", "exec", "-w", "n[1-2]")
	if rc != 0 {
		t.Errorf("rc %d", rc)
	}
	o := out.String()
	hi, rest, ok := strings.Cut(o, "Switching to gathered output format\n")
	if !ok {
		t.Fatalf("stdout %q", o)
	}
	// Direct output comes as the nodes give it.
	lines := strings.Split(hi, "\n")
	slices.Sort(lines[2:4])
	if got, want := strings.Join(lines, "\n"), "Enter 'quit' to leave this interactive mode\nWorking with nodes: n[1-2]\nn1: hi n1\nn2: hi n2\n"; got != want {
		t.Errorf("stdout begins %q, want %q", got, want)
	}
	want := "---------------\nn[1-2] (2)\n---------------\nsame\n" +
		"LOCAL: local\n" +
		"Working with nodes: n[1-2]\n" +
		"Working with nodes: n[1-2,5]\n" +
		"Working with nodes: n[2,5]\n" +
		"Working with nodes: n[7-8]\n" +
		"Working with nodes: n[7-8]\n" +
		"Working with nodes: \n" +
		"Working with nodes: n1\n" +
		"Switching to standard output format\n" +
		"n1: back n1\n"
	if rest != want {
		t.Errorf("stdout ends %q, want %q", rest, want)
	}
	wantErr := "LOCAL: err\ncsub: LOCAL: exited with exit code 3\n" +
		"csub: nodeset parse error (ignoring)\n" +
		"csub: No node to run on.\n" +
		"Keyboard interrupt (n1 did not complete).\n"
	if errb.String() != wantErr {
		t.Errorf("stderr %q, want %q", errb.String(), wantErr)
	}
}

// TestSessionEOF: Ctrl-D leaves with a newline, and -S gives the last
// command's status.
func TestSessionEOF(t *testing.T) {
	var out, errb testutil.SyncBuffer
	rc := runScript(t, nil, &out, &errb, []scriptLine{{line: "exit 3"}, {line: "echo ok"}, {line: "!exit 4"}},
		"-R", "exec", "-S", "-q", "-w", "n1")
	if rc != 4 || out.String() != "Working with nodes: n1\nn1: ok\n\n" || errb.String() != "" {
		t.Fatalf("rc %d, stdout %q, stderr %q", rc, out.String(), errb.String())
	}
}

// TestInteractiveNeedsATerminal: clush's checks when standard input is a
// terminal but interactive mode cannot run.
func TestInteractiveNeedsATerminal(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, c := range []struct {
		args []string
		rc   int
		err  string
	}{
		{[]string{"-w", "n1"}, 1, "ERROR: interactive mode requires a tty\n"},
		{[]string{"-n", "-w", "n1"}, 2, "Usage: csub [options] command\n\ncsub: error: illegal option `--nostdin' in that case\n"},
	} {
		var out, errb testutil.SyncBuffer
		getenv := func(k string) string { return map[string]string{"HOME": t.TempDir()}[k] }
		e := &environ{stdin: f, stdout: &out, stderr: &errb, getenv: getenv, term: &terminal{in: f, errFd: -1}}
		if rc := run(context.Background(), c.args, e, make(chan struct{})); rc != c.rc || errb.String() != c.err || out.String() != "" {
			t.Errorf("%q: rc %d, stdout %q, stderr %q", c.args, rc, out.String(), errb.String())
		}
	}
}

// TestNoCommandNotATerminal: without a terminal, clush runs the empty
// command (the nodes' login shells read standard input).
func TestNoCommandNotATerminal(t *testing.T) {
	srv := natstest.Start(t, 0)
	specs := testCoordinator(t, srv, "", "", func(spec protocol.JobSpec) []protocol.Event {
		return []protocol.Event{{Kind: protocol.KindEnd, Nodes: []uint32{0}, State: protocol.StateExited}}
	})
	var out, errb testutil.SyncBuffer
	rc := runCSub(t, map[string]string{envFleet: srv.URL()}, nil, &out, &errb, "-w", "node1")
	if rc != 0 || out.String() != "" || errb.String() != "" {
		t.Fatalf("rc %d, stdout %q, stderr %q", rc, out.String(), errb.String())
	}
	if spec := <-specs; spec.Command != "" || spec.Nodes != "node1" {
		t.Fatalf("spec %+v", spec)
	}
}

func TestHistory(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".csub_history")
	if err := os.WriteFile(path, []byte("a\nb\nc\nd\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newHistory(path, 3)
	if h.Len() != 3 || h.At(0) != "d" || h.At(2) != "b" {
		t.Fatalf("loaded %q", h.lines)
	}
	for _, l := range []string{"e", "e", "", "  ", "f"} {
		h.Add(l)
	}
	if got := strings.Join(h.lines, ","); got != "d,e,f" {
		t.Fatalf("history %q", got)
	}
	data, err := os.ReadFile(path)
	if err != nil || string(data) != "d\ne\nf\n" {
		t.Fatalf("file %q, %v", data, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
	// Unbounded, and no file at all.
	h = newHistory("", -1)
	for range 200 {
		h.Add(strings.Repeat("x", h.Len()+1))
	}
	if h.Len() != 200 {
		t.Fatalf("len %d", h.Len())
	}
}

func TestDataRecord(t *testing.T) {
	for _, c := range []struct {
		chunk   string
		data    string
		partial bool
	}{
		{"a\nb\n", "a\nb", false},
		{"a\nb", "a\nb", true},
		{"\n", "", false},
		{"x", "x", true},
	} {
		rec := dataRecord(protocol.KindStdout, []byte(c.chunk))
		if string(rec.Data) != c.data || rec.Partial != c.partial || len(rec.Nodes) != 1 || rec.Nodes[0] != 0 {
			t.Errorf("%q: %+v", c.chunk, rec)
		}
	}
}

// Keys typed before a Ctrl-C in one read reach the editor first, alone,
// so that it echoes them before it stops at the Ctrl-C; what follows the
// Ctrl-C is dropped.
func TestEditorIOCtrlC(t *testing.T) {
	e := &editorIO{in: strings.NewReader("abandoned\x03typed ahead")}
	buf := make([]byte, 64)
	n, err := e.Read(buf)
	if err != nil || string(buf[:n]) != "abandoned" || e.ctrlC {
		t.Fatalf("first read %q, %v, ctrlC %v", buf[:n], err, e.ctrlC)
	}
	n, err = e.Read(buf)
	if err != nil || string(buf[:n]) != "\x03" || !e.ctrlC {
		t.Fatalf("second read %q, %v, ctrlC %v", buf[:n], err, e.ctrlC)
	}
	e = &editorIO{in: strings.NewReader("\x03typed ahead")}
	if n, _ = e.Read(buf); string(buf[:n]) != "\x03" || !e.ctrlC {
		t.Fatalf("read %q, ctrlC %v", buf[:n], e.ctrlC)
	}
}
