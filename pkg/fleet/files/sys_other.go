//go:build !linux

package files

import (
	"io/fs"
	"os"
	"syscall"
	"time"
)

// accessTime is fi's modification time: the access time is read on
// Linux only.
func accessTime(fi fs.FileInfo) time.Time { return fi.ModTime() }

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
