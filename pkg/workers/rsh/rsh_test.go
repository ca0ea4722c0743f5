package rsh

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// fakeRsh behaves like rsh, but runs the command here: it skips -l user
// and options, records "node: remote command" in $FAKE_LOG, and runs the
// arguments joined with spaces through sh, as rshd would. FAKE_RSH_RC
// forces its own exit status (real rsh exits 0 or 1 whatever the remote
// status) after the command ran.
const fakeRsh = `#!/bin/sh
while [ $# -gt 0 ]; do
	case "$1" in
	-l) shift 2 ;;
	-*) shift ;;
	*) break ;;
	esac
done
node=$1; shift
[ -n "$FAKE_LOG" ] && printf '%s: %s\n' "$node" "$*" >> "$FAKE_LOG"
if [ "$node" = unknown ]; then echo "unknown: Unknown host" >&2; exit 1; fi
/bin/sh -c "$*"
rc=$?
[ -n "$FAKE_RSH_RC" ] && exit "$FAKE_RSH_RC"
exit $rc
`

// fakeRcp behaves like rcp: it drops "[user@]node:" from its arguments and
// runs cp with the rest.
const fakeRcp = `#!/bin/sh
for a; do
	shift
	case "$a" in
	*:*) a=${a#*:} ;;
	esac
	set -- "$@" "$a"
done
exec cp "$@"
`

func script(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestArgs(t *testing.T) {
	t.Setenv("HOME", "/home/u")
	dir := t.TempDir()
	for _, tc := range []struct {
		job  engine.Job
		want []string
	}{
		{engine.Job{Node: "n1", Command: "uname -r", ConnectTimeout: time.Second},
			[]string{"rsh", "n1", "uname -r", "; echo XXRETCODE: $?"}},
		{engine.Job{Node: "n1", Command: "id", Info: testutil.InfoMap(map[string]any{"rsh_path": "~/bin/mrsh -x", "rsh_user": "adm", "rsh_options": "-n ~/k"})},
			[]string{"/home/u/bin/mrsh", "-x", "-l", "adm", "-n", "~/k", "n1", "id", "; echo XXRETCODE: $?"}},
		{engine.Job{Node: "n1", Copy: &protocol.CopySpec{Source: "/etc/hosts", Dest: "/tmp"}, Info: testutil.InfoMap(map[string]any{"rsh_options": "-x", "rsh_user": "adm"})},
			[]string{"rcp", "-x", "/etc/hosts", "adm@n1:/tmp"}},
		{engine.Job{Node: "n1", Copy: &protocol.CopySpec{Source: dir, Dest: "/tmp", Preserve: true}, Info: testutil.InfoMap(map[string]any{"rsh_options": "-x", "rcp_options": "-y", "rcp_path": "/opt/rcp"})},
			[]string{"/opt/rcp", "-r", "-p", "-y", dir, "n1:/tmp"}},
		{engine.Job{Node: "n2", Copy: &protocol.CopySpec{Source: "/etc/hostname", Dest: "/back/hostname.n2", Reverse: true}},
			[]string{"rcp", "-r", "n2:/etc/hostname", "/back/hostname.n2"}},
	} {
		got, err := Args(&tc.job)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Args = %q, %v\nwant %q", got, err, tc.want)
		}
	}
	res := New().Run(t.Context(), &engine.Job{Node: "n", Command: "x", Info: testutil.InfoMap(map[string]any{"rsh_options": "'"})})
	if engine.ReasonOf(res.Err) != engine.ReasonLocal || !strings.Contains(res.Err.Error(), "rsh_options") {
		t.Errorf("bad options: %+v", res)
	}
}

func TestParseRetcode(t *testing.T) {
	for line, want := range map[string]int{"XXRETCODE: 0": 0, "XXRETCODE: 42": 42, "XXRETCODE: 255": 255} {
		if rc, ok := ParseRetcode(line); !ok || rc != want {
			t.Errorf("ParseRetcode(%q) = %d, %v", line, rc, ok)
		}
	}
	for _, line := range []string{"XXRETCODE:", "XXRETCODE: ", "XXRETCODE: 1 ", " XXRETCODE: 1", "XXRETCODE: -1", "XXRETCODE: 1a", "xxretcode: 1", "XXRETCODE: 99999999999"} {
		if _, ok := ParseRetcode(line); ok {
			t.Errorf("ParseRetcode(%q) accepted", line)
		}
	}
}

func runJob(t *testing.T, ctx context.Context, job engine.Job, sepErr bool) testutil.JobOutput {
	return testutil.RunJob(ctx, New(), job, sepErr)
}

func TestRshRetcode(t *testing.T) {
	rsh := script(t, "rsh", fakeRsh)
	log := filepath.Join(t.TempDir(), "log")
	t.Setenv("FAKE_LOG", log)
	info := testutil.InfoMap(map[string]any{"rsh_path": rsh, "rsh_user": "root"})
	for _, tc := range []struct {
		name, cmd, rshRC string
		sep              bool
		rc               int
		out, err         string
	}{
		{"ok", "echo hello", "", true, 0, "hello\n", ""},
		{"status", "echo out; echo err >&2; exit 3", "", true, 3, "out\n", "err\n"},
		// "exit 5" would leave before the echo, here as with ClusterShell.
		{"rsh exits 1", "(exit 5)", "1", true, 5, "", ""},
		{"rsh exits 0", "sh -c 'exit 6'", "0", false, 6, "", ""},
		{"exit skips the line", "exit 5", "", true, 5, "", ""},
		{"exit skips the line, rsh exits 0", "exit 5", "0", true, 0, "", ""},
		// rsh's own failure beyond 0 and 1 wins over the line.
		{"rsh exits 2", "(exit 7)", "2", true, 2, "", ""},
		{"merged", "echo a >&2; echo b", "", false, 0, "a\nb\n", ""},
		// The line is glued to an unterminated last line and no longer
		// recognised, as with ClusterShell: rsh's own status counts.
		{"no newline", "printf partial; (exit 4)", "", true, 0, "partialXXRETCODE: 4\n", ""},
		{"lookalike", "echo 'XXRETCODE: 9 '; echo ' XXRETCODE: 9'", "", true, 0, "XXRETCODE: 9 \n XXRETCODE: 9\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("FAKE_RSH_RC", tc.rshRC)
			r := runJob(t, t.Context(), engine.Job{Node: "node1", Command: tc.cmd, Info: info}, tc.sep)
			if r.Res.Err != nil || r.Res.ExitCode != tc.rc {
				t.Errorf("result %+v, want %d", r.Res, tc.rc)
			}
			if r.Out != tc.out || r.Err != tc.err {
				t.Errorf("stdout %q stderr %q, want %q %q", r.Out, r.Err, tc.out, tc.err)
			}
		})
	}
	b, _ := os.ReadFile(log)
	if !strings.HasPrefix(string(b), "node1: echo hello ; echo XXRETCODE: $?\n") {
		t.Errorf("remote commands:\n%s", b)
	}
	r := runJob(t, t.Context(), engine.Job{Node: "n1", Command: "true", Info: info}, true)
	if want := "RSHCLIENT: " + rsh + " -l root n1 true ; echo XXRETCODE: $?"; !slices.Equal(r.Debug, []string{want}) {
		t.Errorf("debug %q, want %q", r.Debug, want)
	}
}

func TestRshStdin(t *testing.T) {
	info := testutil.InfoMap(map[string]any{"rsh_path": script(t, "rsh", fakeRsh)})
	r := runJob(t, t.Context(), engine.Job{Node: "n", Command: "cat", Stdin: strings.NewReader("in\n"), Info: info}, true)
	if r.Res.ExitCode != 0 || r.Out != "in\n" {
		t.Errorf("%+v %q", r.Res, r.Out)
	}
}

func TestRshFailure(t *testing.T) {
	info := testutil.InfoMap(map[string]any{"rsh_path": script(t, "rsh", fakeRsh)})
	r := runJob(t, t.Context(), engine.Job{Node: "unknown", Command: "true", Info: info}, true)
	if engine.ReasonOf(r.Res.Err) != engine.ReasonDNS || r.Res.ExitCode != 1 || r.Err != "unknown: Unknown host\n" {
		t.Errorf("%+v %q", r.Res, r.Err)
	}
	r = runJob(t, t.Context(), engine.Job{Node: "n", Command: "true", Info: testutil.InfoMap(map[string]any{"rsh_path": "/nonexistent/rsh"})}, true)
	if engine.ReasonOf(r.Res.Err) != engine.ReasonLocal || r.Res.ExitCode != 255 {
		t.Errorf("missing rsh: %+v", r.Res)
	}
}

func TestRshCancel(t *testing.T) {
	info := testutil.InfoMap(map[string]any{"rsh_path": script(t, "rsh", fakeRsh)})
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	r := runJob(t, ctx, engine.Job{Node: "n", Command: "sleep 100", Info: info}, true)
	if engine.ReasonOf(r.Res.Err) != engine.ReasonCommandTimeout || time.Since(start) > 3*time.Second {
		t.Errorf("%+v after %v", r.Res, time.Since(start))
	}
}

func TestRcpCopyAndRcopy(t *testing.T) {
	info := testutil.InfoMap(map[string]any{"rcp_path": script(t, "rcp", fakeRcp)})
	root, src, dst := testutil.CopyTree(t, 0o600)
	r := runJob(t, t.Context(), engine.Job{Node: "n1", Copy: &protocol.CopySpec{Source: src, Dest: dst, Preserve: true}, Info: info}, true)
	if r.Res.Err != nil || r.Res.ExitCode != 0 {
		t.Fatalf("copy: %+v %q", r.Res, r.Err)
	}
	if !strings.HasPrefix(r.Debug[0], "RCPCLIENT: ") || !strings.HasSuffix(r.Debug[0], " -r -p "+src+" n1:"+dst) {
		t.Errorf("debug %q", r.Debug)
	}
	back := filepath.Join(root, "back", "src.n1")
	os.Mkdir(filepath.Dir(back), 0o755)
	r = runJob(t, t.Context(), engine.Job{Node: "n1", Copy: &protocol.CopySpec{Source: src, Dest: back, Reverse: true, Preserve: true}, Info: info}, true)
	if r.Res.Err != nil || r.Res.ExitCode != 0 {
		t.Fatalf("rcopy: %+v %q", r.Res, r.Err)
	}
	for _, p := range []string{filepath.Join(dst, "src", "sub", "f"), filepath.Join(back, "sub", "f")} {
		fi, err := os.Stat(p)
		if err != nil || fi.ModTime().Year() != 2001 {
			t.Errorf("%s: %v %v", p, fi, err)
		}
	}
}

func TestRshCraftedNodeName(t *testing.T) {
	info := testutil.InfoMap(map[string]any{"rsh_path": script(t, "rsh", fakeRsh)})
	for _, n := range []string{"a;id", "-l root", "$(id)"} {
		r := runJob(t, t.Context(), engine.Job{Node: n, Command: "true", Info: info}, true)
		if engine.ReasonOf(r.Res.Err) != engine.ReasonLocal || !strings.Contains(r.Res.Err.Error(), "hostname contains invalid characters") {
			t.Errorf("%q: %+v", n, r.Res)
		}
	}
}
