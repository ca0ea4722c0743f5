package csub

// Tests of what the golden and differential tests cannot show: how
// clush.conf, modes and the command line combine into the job, standard
// input limits, the checks made before a job is submitted, and the
// progress counter's bytes.

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// confEnv is an environment whose CLUSTERSHELL_CFGDIR holds clush.conf
// text (and the golden groups), with stdin as standard input.
func confEnv(t *testing.T, clushConf string, stdin string, stdout, stderr *bytes.Buffer) *environ {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "clush.conf"), []byte(clushConf), 0o644); err != nil {
		t.Fatal(err)
	}
	groups, _ := filepath.Abs(filepath.Join("testdata", "golden", "conf", "groups.conf"))
	data, err := os.ReadFile(groups)
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.ReplaceAll(data, []byte("$CFGDIR/groups.d"), []byte(filepath.Join(filepath.Dir(groups), "groups.d")))
	if err := os.WriteFile(filepath.Join(dir, "groups.conf"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"HOME": t.TempDir(), "CLUSTERSHELL_CFGDIR": dir, "USER": "tester"}
	// No expected output here has clush's progress counter: it must not
	// show because the machine is slow (its own tests set the clock).
	return &environ{stdin: strings.NewReader(stdin), stdout: stdout, stderr: stderr, getenv: func(k string) string { return vars[k] },
		runTimerDelay: time.Hour}
}

const testClushConf = `[Main]
fanout: 8
connect_timeout: 10
command_timeout: 2
color: never
ssh_options: -oConnectTimeout=5

[mode:m]
fanout: 16
command_timeout: 3
ssh_user: modeuser
command_prefix: sudo -u "x y"
maxrc: yes
`

func TestClushConfPrecedence(t *testing.T) {
	for _, c := range []struct {
		args   []string
		fanout int
		cmdTO  time.Duration
		info   map[string]string
		cmd    string
		maxrc  bool
	}{
		{nil, 8, 2 * time.Second, map[string]string{"ssh_options": "-oConnectTimeout=5"}, "true", false},
		{[]string{"-m", "m"}, 16, 3 * time.Second,
			map[string]string{"ssh_options": "-oConnectTimeout=5", "ssh_user": "modeuser"}, `sudo -u x y true`, true},
		// The command line wins over the mode (clush 1.9.1 lets the mode win).
		{[]string{"-m", "m", "-f", "4", "-u", "5", "-l", "bob"}, 4, 5 * time.Second,
			map[string]string{"ssh_options": "-oConnectTimeout=5", "ssh_user": "bob"}, `sudo -u x y true`, true},
		// -O comes after the other options, as in clush.
		{[]string{"-f", "4", "-O", "fanout=32", "-O", "ssh_options=-p 22"}, 32, 2 * time.Second,
			map[string]string{"ssh_options": "-p 22"}, "true", false},
		// -O keys are clush.conf's, in any case, and beat the mode.
		{[]string{"-m", "m", "-O", "FANOUT=5"}, 5, 3 * time.Second,
			map[string]string{"ssh_options": "-oConnectTimeout=5", "ssh_user": "modeuser"}, `sudo -u x y true`, true},
		// -O keys clush.conf does not know are task info keys.
		{[]string{"-O", "ssh_config=/etc/x", "-O", "USER_thing=1", "-S"}, 8, 2 * time.Second,
			map[string]string{"ssh_options": "-oConnectTimeout=5", "ssh_config": "/etc/x", "USER_thing": "1"}, "true", true},
	} {
		var out, errb bytes.Buffer
		env := confEnv(t, testClushConf, "", &out, &errb)
		s, p, err := parseArgs(append(append([]string{"-R", "exec", "-n"}, c.args...), "true"), env)
		if err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		d := newDisplay(s, newOutputs(&out, &errb))
		ns, err := targetNodes(&settings{nodes: []string{"node1"}, label: true}, env, d, p.Error)
		if err != nil {
			t.Fatal(err)
		}
		if err := configure(s, env, d); err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		spec := jobSpec(s, ns.String())
		if spec.Fanout != c.fanout || spec.CommandTimeout != c.cmdTO || spec.Command != c.cmd || s.maxrc != c.maxrc ||
			spec.ConnectTimeout != 10*time.Second || len(spec.Info) != len(c.info) {
			t.Errorf("%q: fanout %d, timeout %v, command %q, maxrc %v, info %v", c.args, spec.Fanout, spec.CommandTimeout, spec.Command, s.maxrc, spec.Info)
			continue
		}
		for k, v := range c.info {
			if spec.Info[k] != v {
				t.Errorf("%q: info %v, want %v", c.args, spec.Info, c.info)
			}
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		conf string
		args []string
		want string
		rc   int
	}{
		{"[Main]\nfanout: x\n", nil, "ERROR: (Config Main.fanout): invalid literal for int() with base 10: 'x'\n", 1},
		{"[mode:m]\nfanout: x\n", []string{"-m", "m"}, "csub: invalid literal for int() with base 10: 'x'\n", 1},
		{"[mode:m]\ncolor: pink\n", []string{"-m", "m"}, "ERROR: (Config m.color): choose from ['', 'never', 'always', 'auto']\n", 1},
		{"fanout: 3\n", nil, "csub: File contains no section headers.\nfile: '$DIR/clush.conf', line: 1\n'fanout: 3\\n'\n", 1},
		{"[Main]\nconfdir: $CFGDIR/clush.conf\n", nil, "ERROR: Defined confdir $DIR/clush.conf is not a directory\n", 1},
		{"", []string{"-o", "-o %h"}, "csub: invalid interpolation syntax in '-o %h' at position 3\n", 1},
		{"", []string{"-O", "ssh_options=%h"}, "ERROR: (Config Main.ssh_options=%h): invalid -O/--option value\n", 1},
		// maxrc is read after the run, as clush does.
		{"[Main]\nmaxrc: perhaps\n", nil, "ERROR: (Config Main.maxrc): Not a boolean: perhaps\n", 1},
	} {
		var out, errb bytes.Buffer
		env := confEnv(t, c.conf, "", &out, &errb)
		dir := env.getenv("CLUSTERSHELL_CFGDIR")
		rc := run(context.Background(), append(append([]string{"-R", "exec", "-w", "node1"}, c.args...), "true"), env, make(chan struct{}))
		if want := strings.ReplaceAll(c.want, "$DIR", dir); rc != c.rc || errb.String() != want {
			t.Errorf("%q %q: rc %d, stderr %q, want %q", c.conf, c.args, rc, errb.String(), want)
		}
	}
}

func TestStdin(t *testing.T) {
	for _, c := range []struct {
		args  []string
		stdin string
		out   string
		err   string
		rc    int
	}{
		{[]string{"-b", "cat"}, "a\nb\n", "---------------\nnode[1-2] (2)\n---------------\na\nb\n", "", 0},
		{[]string{"-n", "-b", "cat; echo end"}, "a\n", "---------------\nnode[1-2] (2)\n---------------\nend\n", "", 0},
		// Past the 512 KiB a job once carried: it streams now.
		{[]string{"-b", "wc -c"}, strings.Repeat("x", 3<<20+1), "---------------\nnode[1-2] (2)\n---------------\n3145729\n", "", 0},
		// clush refuses at once (its pdsh worker cannot write to stdin).
		{[]string{"-R", "pdsh", "cat"}, "x\n", "", "csub: EngineClientError: writing to stdin is not supported by pdsh worker\n", 1},
	} {
		var out, errb bytes.Buffer
		env := confEnv(t, "", c.stdin, &out, &errb)
		rc := run(context.Background(), append([]string{"-R", "exec", "-w", "node[1-2]"}, c.args...), env, make(chan struct{}))
		if rc != c.rc || out.String() != c.out || errb.String() != c.err {
			t.Errorf("%q: rc %d\nstdout %q\nstderr %q", c.args, rc, out.String(), errb.String())
		}
	}
}

// TestChecksBeforeSubmit: what would fail every node fails once, before
// anything connects (the fleet given is unreachable: reaching it means
// the checks passed).
func TestChecksBeforeSubmit(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(src, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	const fleet = "nats://127.0.0.1:1"
	for _, c := range []struct {
		args []string
		want string // stderr prefix
		rc   int
	}{
		{[]string{"-o", "-A", "true"}, `csub: ssh_options: unsupported option "-A": `, 1},
		{[]string{"-R", "ssh", "-O", "ssh_options=-o Compression=yes", "true"}, `csub: ssh_options: unsupported option "-o Compression=yes"`, 1},
		{[]string{"-o", "-p 70000", "true"}, `csub: ssh_options: -p 70000: Bad port '70000'`, 1},
		{[]string{"-R", "openssh", "-o", "-A", "true"}, "csub: cannot connect to the fleet", 1},
		{[]string{"-o", "-i ~/.ssh/k -p 2222 -l u -oStrictHostKeyChecking=no", "true"}, "csub: cannot connect to the fleet", 1},
		// Copies through the fleet read and write here: the local paths
		// are checked first.
		{[]string{"-c", src}, "csub: cannot connect to the fleet", 1},
		{[]string{"--rcopy", src, "--dest", "/tmp"}, "csub: cannot connect to the fleet", 1},
		{[]string{"-c", src + "-missing"}, "ERROR: file \"" + src + "-missing\" not found", 1},
		{[]string{"--rcopy", src, "--dest", src + "-missing"}, "ERROR: directory \"" + src + "-missing\" not found", 1},
		{[]string{"--gateway-paths", "--rcopy", "/nonexistent-on-this-machine"}, "csub: cannot connect to the fleet", 1},
	} {
		var out, errb bytes.Buffer
		env := confEnv(t, "", "", &out, &errb)
		rc := run(context.Background(), append([]string{"--fleet", fleet, "-w", "node1"}, c.args...), env, make(chan struct{}))
		if rc != c.rc || !strings.HasPrefix(errb.String(), c.want) {
			t.Errorf("%q: rc %d, stderr %q", c.args, rc, errb.String())
		}
		if strings.Contains(c.want, "unsupported") && !strings.HasSuffix(errb.String(), "(-R openssh)\n") {
			t.Errorf("%q: %q does not point to -R openssh", c.args, errb.String())
		}
	}
}

// TestReverseCopyExec: with the exec worker, --rcopy gives each node its
// copy, <dest>/<name>.<node>, where clush 1.9.1 runs cp with its
// arguments swapped.
func TestReverseCopyExec(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.txt")
	if err := os.WriteFile(src, []byte("data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(dir, "dest")
	if err := os.Mkdir(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	env := confEnv(t, "", "", &out, &errb)
	rc := run(context.Background(), []string{"-R", "exec", "-w", "node[1-2]", "-v", "--rcopy", src, "--dest", dest}, env, make(chan struct{}))
	if want := "node[1-2]:`" + src + "' -> `" + dest + "'\n"; rc != 0 || out.String() != want || errb.String() != "" {
		t.Fatalf("rc %d, stdout %q (want %q), stderr %q", rc, out.String(), want, errb.String())
	}
	for _, n := range []string{"node1", "node2"} {
		if data, err := os.ReadFile(filepath.Join(dest, "src.txt."+n)); err != nil || string(data) != "data\n" {
			t.Errorf("%s: %q, %v", n, data, err)
		}
	}
}

// TestRunTimer checks the counter's bytes: shown, erased before output,
// shown again, finalized.
func TestRunTimer(t *testing.T) {
	var buf bytes.Buffer
	o := newOutputs(&buf, &buf)
	var done atomic.Int64
	tm := newRunTimer(o, 12, func() int { return int(done.Load()) }, 10*time.Millisecond, 10*time.Millisecond)
	wait := func(want string) {
		t.Helper()
		for start := time.Now(); ; time.Sleep(5 * time.Millisecond) {
			tm.mu.Lock()
			got := buf.String()
			tm.mu.Unlock()
			if got == want {
				return
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("got %q, want %q", got, want)
			}
		}
	}
	wait("csub:  0/12\r")
	tm.mu.Lock()
	tm.clean()
	o.stdout().WriteString("out\n")
	tm.dirty()
	done.Store(5)
	_ = o.flush()
	tm.mu.Unlock()
	wait("csub:  0/12\r            \rout\ncsub:  5/12\r")
	tm.mu.Lock()
	tm.finalize()
	_ = o.flush()
	tm.mu.Unlock()
	wait("csub:  0/12\r            \rout\ncsub:  5/12\r            \rcsub: 12/12\r")
}

// TestModeDisplayKeys: a mode's node_count and color apply (clush reads
// them before it activates the mode).
func TestModeDisplayKeys(t *testing.T) {
	var out, errb bytes.Buffer
	env := confEnv(t, "[Main]\ncolor: never\n[mode:m]\nnode_count: no\ncolor: always\n", "", &out, &errb)
	rc := run(context.Background(), []string{"-R", "exec", "-w", "node[1-2]", "-m", "m", "-b", "echo hi"}, env, make(chan struct{}))
	if want := "\x1b[94m---------------\nnode[1-2]\n---------------\x1b[0m\nhi\n"; rc != 0 || out.String() != want {
		t.Fatalf("rc %d, stdout %q, want %q; stderr %q", rc, out.String(), want, errb.String())
	}
}

// TestHelpEqualsClush: csub's help is clush's but for the tree mode
// options left out (--topology, --remote) and our own group at the end.
func TestHelpEqualsClush(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "golden", "clush_help.out"))
	if err != nil {
		t.Fatal(err)
	}
	want := string(data)
	for _, opt := range []string{"    --topology=FILE", "    --remote=REMOTE"} {
		i := strings.Index(want, opt)
		if i < 0 {
			t.Fatalf("%s not in clush's help", opt)
		}
		// The entry and the lines its help wraps to.
		j := i + strings.IndexByte(want[i:], '\n') + 1
		for strings.HasPrefix(want[j:], strings.Repeat(" ", 24)) {
			j += strings.IndexByte(want[j:], '\n') + 1
		}
		want = want[:i] + want[j:]
	}
	var out, errb bytes.Buffer
	env := confEnv(t, "", "", &out, &errb)
	if rc := run(context.Background(), []string{"--help"}, env, make(chan struct{})); rc != 0 {
		t.Fatalf("rc %d, stderr %q", rc, errb.String())
	}
	got, _, _ := strings.Cut(out.String(), "\n  Fleet options:\n")
	if got != want {
		t.Fatalf("help differs from clush's:\n%s\n--- want ---\n%s", got, want)
	}
}
