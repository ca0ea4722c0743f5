package csub

// A test of what only a real terminal shows: csub built and run in a
// detached tmux session of fixed size, driven with send-keys and read
// with capture-pane. It covers the interactive prompt (line editor,
// history, "=", "!cmd", Ctrl-D) and the live progress line with Ctrl-T.
// Without tmux it is skipped, unless FLEETSH_REQUIRE_TMUX=1 (CI, which
// installs tmux) makes that a failure.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/testreq"
)

// tmuxSession is csub running in a tmux server of its own.
type tmuxSession struct {
	t    *testing.T
	tmux string
	sock string
}

func (s *tmuxSession) run(args ...string) string {
	s.t.Helper()
	out, err := exec.Command(s.tmux, append([]string{"-L", s.sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %q: %v: %s", args, err, out)
	}
	return string(out)
}

// keys sends tmux key names (Enter, Up, C-t...).
func (s *tmuxSession) keys(keys ...string) {
	s.run(append([]string{"send-keys", "-t", "csub"}, keys...)...)
}

// typeLine types text literally, then Enter.
func (s *tmuxSession) typeLine(text string) {
	s.run("send-keys", "-t", "csub", "-l", "--", text)
	s.keys("Enter")
}

// pane is the pane's text, its scrollback included, without the blank
// lines below the cursor.
func (s *tmuxSession) pane() string {
	return strings.TrimRight(s.run("capture-pane", "-p", "-t", "csub", "-S", "-500"), "\n ")
}

// lastLine is the pane's last non-blank line.
func lastLine(pane string) string {
	lines := strings.Split(pane, "\n")
	return strings.TrimRight(lines[len(lines)-1], " ")
}

// tmuxPatience bounds every wait on the pane. It is a liveness bound, not
// a timing check: far longer than any step takes on a loaded machine, so
// that a test that would otherwise hang fails with the pane's contents.
const tmuxPatience = 2 * time.Minute

// wait polls the pane until cond holds, and returns it.
func (s *tmuxSession) wait(what string, cond func(pane string) bool) string {
	s.t.Helper()
	var p string
	for start := time.Now(); time.Since(start) < tmuxPatience; time.Sleep(20 * time.Millisecond) {
		if p = s.pane(); cond(p) {
			return p
		}
	}
	s.t.Fatalf("waited %v for %s; pane:\n%s", tmuxPatience, what, p)
	return ""
}

// waitPrompt waits for an idle prompt after want appeared.
func (s *tmuxSession) waitPrompt(want string) string {
	s.t.Helper()
	return s.wait(fmt.Sprintf("%q then the prompt", want), func(p string) bool {
		return strings.Contains(p, want) && lastLine(p) == "csub>"
	})
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

var progressRe = regexp.MustCompile(`csub: +(\d+)/20 done, (\d+) failed, (\d+) running, [0-9.]+ nodes/s`)

func TestTmux(t *testing.T) {
	tmux := testreq.LookPath(t, testreq.Tmux, "tmux")
	dir := t.TempDir()
	bin := filepath.Join(dir, "csub")
	if out, err := exec.Command(goTool(), "build", "-o", bin, "github.com/fleetsh/fleetsh/cmd/csub").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// A clean environment: no user groups.conf, a history file of ours.
	script := filepath.Join(dir, "run.sh")
	// The shell outlives Ctrl-C (a trap, which csub does not inherit).
	body := fmt.Sprintf("#!/bin/sh\ntrap : INT\nexport HOME=%[1]s XDG_CONFIG_HOME=%[1]s PATH=/usr/bin:/bin LANG=C.UTF-8\ncd %[1]s\n"+
		"%[2]s -f 5 -R exec -w 'n[1-3]'\necho \"csub exited $?\"\nexec sleep 60\n", dir, bin)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	s := &tmuxSession{t: t, tmux: tmux, sock: fmt.Sprintf("csub-test-%d-%d", os.Getpid(), time.Now().UnixNano())}
	s.run("new-session", "-d", "-s", "csub", "-x", "120", "-y", "40", "/bin/sh "+script)
	// The server by its socket only: never other tmux servers.
	t.Cleanup(func() { _ = exec.Command(tmux, "-L", s.sock, "kill-server").Run() })

	s.waitPrompt("Enter 'quit' to leave this interactive mode\nWorking with nodes: n[1-3]\ncsub>")

	// A command on the nodes, each line labelled.
	s.typeLine("echo hi %h")
	s.wait("the output", func(p string) bool {
		return strings.Contains(p, "n1: hi n1") && strings.Contains(p, "n2: hi n2") && strings.Contains(p, "n3: hi n3") &&
			lastLine(p) == "csub>"
	})

	// "=" gathers the next output.
	s.typeLine("=")
	s.waitPrompt("Switching to gathered output format")
	block := "---------------\nn[1-3] (3)\n---------------\ngathered\n"
	s.typeLine("echo gathered")
	s.waitPrompt(block)

	// "!cmd" runs here.
	s.typeLine("!echo local")
	s.waitPrompt("csub> !echo local\nLOCAL: local\n")

	// Up recalls the history, most recent first.
	s.keys("Up")
	s.wait("!echo local recalled", func(p string) bool { return lastLine(p) == "csub> !echo local" })
	s.keys("Up")
	s.wait("echo gathered recalled", func(p string) bool { return lastLine(p) == "csub> echo gathered" })
	s.keys("Enter")
	s.wait("the recalled command's output", func(p string) bool {
		return strings.Count(p, block) == 2 && lastLine(p) == "csub>"
	})

	// The progress line on 20 nodes, 5 at a time, 1 s each: it shows
	// after a second, Ctrl-T names the running nodes, and it is gone once
	// the command is over.
	s.typeLine("=")
	s.waitPrompt("Switching to standard output format")
	s.typeLine("@n[1-20]")
	s.waitPrompt("Working with nodes: n[1-20]")
	// start is taken before the command is typed, so that the durations
	// measured from it bound csub's from above, whatever the load.
	start := time.Now()
	s.typeLine("sleep 1")
	p := s.wait("the progress line", progressRe.MatchString)
	m := progressRe.FindStringSubmatch(p)
	if running, _ := strconv.Atoi(m[3]); running < 1 || running > 5 {
		t.Errorf("progress line %q: running should be 1 to 5 (fanout 5)", m[0])
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("progress line shown after %v, before a second", d)
	}
	s.keys("C-t")
	s.wait("Ctrl-T's running nodes", regexp.MustCompile(`(?m)^csub: in progress\([1-5]\): n`).MatchString)
	p = s.wait("the end of the command", func(p string) bool { return lastLine(p) == "csub>" })
	if progressRe.MatchString(p) {
		t.Errorf("progress line left on screen:\n%s", p)
	}
	if d := time.Since(start); d < 3*time.Second {
		t.Errorf("20 nodes of sleep 1 by 5 took %v", d)
	}

	// Ctrl-C cancels the command and comes back to the prompt (clush
	// would exit); at the prompt it abandons the line.
	s.typeLine("@n[1-2]")
	s.waitPrompt("Working with nodes: n[1-2]")
	s.typeLine("sleep 30")
	// The progress line shows that the command runs.
	s.wait("sleep 30 running", regexp.MustCompile(`csub: +0/2 done`).MatchString)
	s.keys("C-c")
	s.waitPrompt("csub> sleep 30\nKeyboard interrupt (n[1-2] did not complete).\ncsub>")
	s.run("send-keys", "-t", "csub", "-l", "--", "abandoned")
	s.keys("C-c")
	s.waitPrompt("csub> abandoned^C\ncsub>")

	// Ctrl-D leaves, with status 0.
	s.keys("C-d")
	s.wait("the exit", func(p string) bool { return lastLine(p) == "csub exited 0" })

	hist, err := os.ReadFile(filepath.Join(dir, ".csub_history"))
	if err != nil || !strings.HasSuffix(string(hist), "!echo local\necho gathered\n=\n@n[1-20]\nsleep 1\n@n[1-2]\nsleep 30\n") {
		t.Errorf("history %q, %v", hist, err)
	}
}
