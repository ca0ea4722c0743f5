package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestWall runs the built command: it prints two ordered times, feeds -in
// to the command and writes its output to -out, and fails with the
// command's standard error when the command fails.
func TestWall(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "wall")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	in, out := filepath.Join(dir, "in"), filepath.Join(dir, "out")
	if err := os.WriteFile(in, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := exec.Command(bin, "-n", "3", "-warmup", "0", "-in", in, "-out", out, "--", "cat").Output()
	if err != nil {
		t.Fatalf("wall cat: %v", err)
	}
	f := strings.Fields(string(got))
	if len(f) != 2 {
		t.Fatalf("output %q, want two times", got)
	}
	best, err1 := strconv.ParseFloat(f[0], 64)
	med, err2 := strconv.ParseFloat(f[1], 64)
	if err1 != nil || err2 != nil || best <= 0 || med < best {
		t.Errorf("times %q: want 0 < best <= median", got)
	}
	if b, _ := os.ReadFile(out); string(b) != "hello\n" {
		t.Errorf("-out holds %q, want the command's output", b)
	}
	cmd := exec.Command(bin, "--", "sh", "-c", "echo broken >&2; exit 3")
	msg, err := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(msg), "broken") {
		t.Errorf("failing command: exit %d (%v), %q; want 1 and its stderr", cmd.ProcessState.ExitCode(), err, msg)
	}
	if cmd := exec.Command(bin, "-n", "0", "--", "true"); cmd.Run() == nil || cmd.ProcessState.ExitCode() != 2 {
		t.Errorf("-n 0 accepted")
	}
}
