package ssh

import (
	"io/fs"
	"syscall"
	"time"
)

// atime is a local file's access time, which Preserve keeps.
func atime(fi fs.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Atim.Sec, st.Atim.Nsec)
	}
	return fi.ModTime()
}

// inode is part of a file's stamp: a file replaced by rename has a new
// inode even when its size and mtime are the same.
func inode(fi fs.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int64(st.Ino)
	}
	return 0
}
