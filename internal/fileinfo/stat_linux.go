package fileinfo

import (
	"io/fs"
	"syscall"
	"time"
)

// AccessTime is fi's access time (its modification time for a FileInfo
// that does not come from a stat).
func AccessTime(fi fs.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Atim.Sec, st.Atim.Nsec)
	}
	return fi.ModTime()
}

// Inode is fi's inode number, 0 for a FileInfo that does not come from a
// stat.
func Inode(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}
