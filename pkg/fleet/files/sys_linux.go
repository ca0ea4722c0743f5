package files

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// lchtimes sets the times of the symbolic link p itself.
func lchtimes(p string, atime, mtime time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &fs.PathError{Op: "lchtimes", Path: p, Err: err}
	}
	return nil
}

// openRead opens a file to push without changing its access time
// (O_NOATIME, which only its owner may ask for; others open it plainly),
// so that pushing a tree twice names the same manifest. O_NONBLOCK: a
// FIFO swapped in after the stat must not hang the push.
func openRead(p string) (*os.File, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOATIME, 0)
	if errors.Is(err, fs.ErrPermission) {
		f, err = os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	}
	return f, err
}

// noFollow makes an open fail on a symbolic link.
const noFollow = syscall.O_NOFOLLOW
