package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// Only the build directories of test processes that are gone are
// removed: not this process's, not a live process's (init's), not one
// without a PID in its name, not another program's.
func TestRemoveStaleBinaries(t *testing.T) {
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dead := strconv.Itoa(gone.Process.Pid)
	tmp := t.TempDir()
	names := []string{
		binDirPrefix + strconv.Itoa(os.Getpid()) + "-1",
		binDirPrefix + dead + "-2",
		binDirPrefix + "123abc",
		binDirPrefix + "1-3",
		"other-" + dead + "-4",
	}
	for _, n := range names {
		if err := os.MkdirAll(filepath.Join(tmp, n, "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if n := removeStaleBinaries(tmp); n != 1 {
		t.Errorf("removed %d, want 1", n)
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range left {
		got = append(got, e.Name())
	}
	want := slices.Clone(names)
	want = slices.Delete(want, 1, 2)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("left %q, want %q", got, want)
	}
}
