package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
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

// Dir builds the packages the first time and returns their directory;
// it fails t when the build failed.
func (b *Binaries) Dir(t testing.TB) string {
	t.Helper()
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "fleetsh-bin-"); b.err != nil {
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
