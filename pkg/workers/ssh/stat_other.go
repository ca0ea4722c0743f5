//go:build !linux

package ssh

import (
	"io/fs"
	"time"
)

// atime is a local file's access time; off Linux, its modification time.
func atime(fi fs.FileInfo) time.Time { return fi.ModTime() }

// inode is 0 off Linux: stamps rely on size and mtime alone.
func inode(fs.FileInfo) int64 { return 0 }
