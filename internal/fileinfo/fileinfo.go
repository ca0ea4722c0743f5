// Package fileinfo reads what fs.FileInfo holds beyond the portable
// fields on the systems that have it: a local file's access time, which a
// copy that preserves times keeps (the ssh driver's scp and SFTP, the
// fleet's tree push), and its inode, which tells a file replaced by
// rename from the one it replaced.
package fileinfo
