package testutil

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// Binaries builds main packages once per test process into a temporary
// directory, for tests that run the fleet's programs as real processes.
type Binaries struct {
	// Packages are what go build builds (paths relative to the test's
	// package directory, e.g. "../cmd/agent").
	Packages []string

	once sync.Once
	dir  string
	err  error
}

// binDirPrefix names the build directories; the test process's PID
// follows it, so that the next test process can tell which are left over.
const binDirPrefix = "fleetsh-bin-"

// Dir builds the packages the first time and returns their directory;
// it fails t when the build failed. It first removes the build
// directories of test processes that are gone: a test process killed
// (a timeout, a Ctrl-C) never reaches TestMain's Remove, and each
// leaves tens of MB in the temporary directory.
func (b *Binaries) Dir(t testing.TB) string {
	t.Helper()
	b.once.Do(func() {
		removeStaleBinaries(os.TempDir())
		if b.dir, b.err = os.MkdirTemp("", binDirPrefix+strconv.Itoa(os.Getpid())+"-"); b.err != nil {
			return
		}
		out, err := exec.Command("go", append([]string{"build", "-o", b.dir}, b.Packages...)...).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.dir
}

// Remove removes the directory, if built (from TestMain, after the tests).
func (b *Binaries) Remove() {
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}

// removeStaleBinaries removes the build directories in tmp whose test
// process no longer exists, and returns how many it removed. A directory
// whose name holds no PID, or the PID of a live process (which may
// reuse a dead one's: then it stays), is left alone.
func removeStaleBinaries(tmp string) int {
	dirs, _ := filepath.Glob(filepath.Join(tmp, binDirPrefix+"*-*"))
	removed := 0
	for _, dir := range dirs {
		pidText, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(dir), binDirPrefix), "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		// Signal 0 checks that the process exists; EPERM means it does,
		// under another user.
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			continue
		}
		if os.RemoveAll(dir) == nil {
			removed++
		}
	}
	return removed
}
