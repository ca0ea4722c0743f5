package site

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func setUmask(m int) int { return syscall.Umask(m) }

// A seed path naming a FIFO or a directory is refused, without waiting for
// a writer.
func TestReadNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, dir} {
		if _, err := ReadSeed(p); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("%s: %v", p, err)
		}
	}
}
