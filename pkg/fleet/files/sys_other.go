//go:build !linux

package files

import (
	"os"
	"syscall"
	"time"
)

// lchtimes leaves a symbolic link's times alone: they are set on Linux
// only.
func lchtimes(string, time.Time, time.Time) error { return nil }

// openRead opens a file to push. O_NONBLOCK: a FIFO swapped in after the
// stat must not hang the push.
func openRead(p string) (*os.File, error) {
	return os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

// noFollow is left out off Linux: O_EXCL alone refuses an existing link.
const noFollow = 0
