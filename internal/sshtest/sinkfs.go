package sshtest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/pkg/sftp"
)

// sinkFS serves one SFTP session of a sink node: the pkg/sftp request
// server's handlers over the node's tree.
type sinkFS struct {
	k *sink
	n *sinkNode
}

func (s *Server) sinkHandlers(user string) sftp.Handlers {
	h := &sinkFS{k: s.sink, n: s.sink.node(user)}
	return sftp.Handlers{FileGet: h, FilePut: h, FileCmd: h, FileList: h}
}

// maxLinks bounds the symbolic links followed in one lookup, as ELOOP.
const maxLinks = 40

// resolve follows symbolic links at p (not in its parents: the sink's
// links are few and made by copies); n.mu is held.
func (h *sinkFS) resolve(p string, follow bool) (string, *sinkEntry) {
	for range maxLinks {
		e := h.n.entries[p]
		if e == nil || e.kind != kindSymlink || !follow {
			return p, e
		}
		t := e.target
		if !path.IsAbs(t) {
			t = path.Join(path.Dir(p), t)
		}
		p = path.Clean(t)
	}
	return p, nil
}

// served maps p to the local path of a SinkConfig.Serve mount it is in,
// or "" when it is in none; n.mu is held.
func (h *sinkFS) served(p string) string {
	for q := p; ; q = path.Dir(q) {
		if e := h.n.entries[q]; e != nil {
			if e.kind == kindServed {
				return e.target + strings.TrimPrefix(p, q)
			}
			if q != p {
				return ""
			}
		}
		if q == "/" {
			return ""
		}
	}
}

// writable checks that p may be made or changed: the node is not read
// only, and p is outside the read-only mounts; n.mu is held.
func (h *sinkFS) writable(p string) error {
	if h.n.readOnly || h.served(p) != "" {
		return errROFS
	}
	return nil
}

// parentDir checks that p's parent is a directory of the node; n.mu is
// held.
func (h *sinkFS) parentDir(p string) error {
	_, parent := h.resolve(path.Dir(p), true)
	switch {
	case parent == nil:
		return errNoEnt
	case parent.kind != kindDir:
		return errNotDir
	}
	return nil
}

// Fileread serves the read-only files: SinkConfig.Generated content and
// the files of SinkConfig.Serve. What clients wrote cannot be read
// back: only its hash was kept.
func (h *sinkFS) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	h.n.mu.Lock()
	p, e := h.resolve(r.Filepath, true)
	local := h.served(p)
	h.n.mu.Unlock()
	switch {
	case local != "":
		return os.Open(local)
	case e == nil:
		return nil, errNoEnt
	case e.kind == kindGenerated:
		return GeneratedContent(h.n.name, p, e.size), nil
	case e.kind == kindDir:
		return nil, errIsDir
	}
	return nil, fmt.Errorf("sshtest sink: %s: content not kept, only its hash: %w", p, errPerm)
}

// Filewrite opens a file for writing: a new stream whose bytes are
// hashed, replacing what the file held (the sink cannot keep old bytes
// for a rewrite to land over).
func (h *sinkFS) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	flags := r.Pflags()
	h.n.mu.Lock()
	defer h.n.mu.Unlock()
	p, e := h.resolve(r.Filepath, true)
	if err := h.writable(p); err != nil {
		return nil, err
	}
	switch {
	case e == nil:
		if !flags.Creat {
			return nil, errNoEnt
		}
		if err := h.parentDir(p); err != nil {
			return nil, err
		}
		perm := fs.FileMode(0o644)
		if a := r.AttrFlags(); a.Permissions {
			perm = r.Attributes().FileMode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		}
		e = &sinkEntry{kind: kindFile, perm: perm}
		h.n.entries[h.k.internPath(p)] = e
	case flags.Excl:
		return nil, errExist
	case e.kind == kindDir:
		return nil, errIsDir
	case e.kind != kindFile:
		return nil, errPerm
	}
	now := time.Now()
	e.received, e.size, e.err, e.mtime, e.atime = true, 0, "", now, now
	e.w = newSinkStream(h.n, e)
	return e.w, nil
}

// Filecmd changes the tree: Setstat, Rename, Mkdir, Rmdir, Remove,
// Symlink. Hard links are not supported.
func (h *sinkFS) Filecmd(r *sftp.Request) error {
	h.n.mu.Lock()
	defer h.n.mu.Unlock()
	p := r.Filepath
	if r.Method == "Symlink" {
		p = r.Target // the link's path; Filepath is its target
	}
	if err := h.writable(p); err != nil {
		return err
	}
	switch r.Method {
	case "Setstat":
		return h.setstat(r)
	case "Mkdir":
		perm := fs.FileMode(0o755)
		if r.AttrFlags().Permissions {
			perm = r.Attributes().FileMode().Perm()
		}
		return h.create(p, &sinkEntry{kind: kindDir, perm: perm})
	case "Symlink":
		return h.create(p, &sinkEntry{kind: kindSymlink, target: r.Filepath})
	case "Remove", "Rmdir":
		return h.remove(p, r.Method == "Rmdir")
	case "Rename", "PosixRename":
		return h.rename(p, r.Target, r.Method == "PosixRename")
	}
	return fmt.Errorf("sshtest sink: %s: %w", r.Method, sftp.ErrSSHFxOpUnsupported)
}

// create adds e at p, a new path in an existing directory; n.mu is
// held.
func (h *sinkFS) create(p string, e *sinkEntry) error {
	if h.n.entries[p] != nil {
		return errExist
	}
	if err := h.parentDir(p); err != nil {
		return err
	}
	now := time.Now()
	e.mtime, e.atime, e.received = now, now, true
	h.n.entries[h.k.internPath(p)] = e
	return nil
}

// setstat applies a Setstat's size, permissions and times; n.mu is
// held.
func (h *sinkFS) setstat(r *sftp.Request) error {
	p, e := h.resolve(r.Filepath, true)
	if e == nil {
		return errNoEnt
	}
	if e.kind != kindDir && e.kind != kindFile {
		return errPerm
	}
	flags, a := r.AttrFlags(), r.Attributes()
	if flags.Size {
		switch {
		case e.kind == kindDir:
			return errIsDir
		case e.w != nil:
			if err := e.w.truncate(int64(a.Size)); err != nil {
				return err
			}
		case int64(a.Size) == 0:
			e.size, e.sum, e.err = 0, emptySum, ""
		case int64(a.Size) != e.size:
			return fmt.Errorf("sshtest sink: %s: truncate to %d of a file of %d bytes: %w", p, a.Size, e.size, sftp.ErrSSHFxOpUnsupported)
		}
	}
	if flags.Permissions {
		e.perm = a.FileMode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	}
	if flags.Acmodtime {
		e.atime, e.mtime = time.Unix(int64(a.Atime), 0), time.Unix(int64(a.Mtime), 0)
	}
	e.received = true
	return nil
}

// emptySum is the SHA-256 of no bytes.
var emptySum = [32]byte{0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
	0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55}

// children lists the paths directly under dir; n.mu is held.
func (h *sinkFS) children(dir string) []string {
	var out []string
	for p := range h.n.entries {
		if p != dir && path.Dir(p) == dir {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// remove deletes a file or symbolic link, or with dir an empty
// directory; n.mu is held.
func (h *sinkFS) remove(p string, dir bool) error {
	e := h.n.entries[p]
	switch {
	case e == nil:
		return errNoEnt
	case e.kind == kindGenerated || e.kind == kindServed:
		return errROFS
	case dir && e.kind != kindDir:
		return errNotDir
	case !dir && e.kind == kindDir:
		return errIsDir
	case dir && len(h.children(p)) > 0:
		return errNotEmp
	}
	delete(h.n.entries, p)
	return nil
}

// rename moves p, and what is under it, to t; without replace an
// existing t is an error (SFTP's rename), with it a file is replaced
// (posix-rename@openssh.com); n.mu is held.
func (h *sinkFS) rename(p, t string, replace bool) error {
	e := h.n.entries[p]
	if e == nil {
		return errNoEnt
	}
	if err := h.writable(t); err != nil {
		return err
	}
	if err := h.parentDir(t); err != nil {
		return err
	}
	if old := h.n.entries[t]; old != nil {
		if !replace || old.kind == kindDir || e.kind == kindDir {
			return errExist
		}
	}
	if e.kind == kindGenerated || e.kind == kindServed {
		return errROFS
	}
	prefix := p + "/"
	for q, c := range h.n.entries {
		if strings.HasPrefix(q, prefix) {
			delete(h.n.entries, q)
			h.n.entries[h.k.internPath(t+"/"+q[len(prefix):])] = c
		}
	}
	delete(h.n.entries, p)
	h.n.entries[h.k.internPath(t)] = e
	e.received = true
	return nil
}

// Filelist answers List, Stat and Readlink.
func (h *sinkFS) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	return h.list(r, true)
}

// Lstat answers Lstat without following a final symbolic link.
func (h *sinkFS) Lstat(r *sftp.Request) (sftp.ListerAt, error) {
	return h.list(r, false)
}

// Readlink returns a symbolic link's target.
func (h *sinkFS) Readlink(p string) (string, error) {
	h.n.mu.Lock()
	defer h.n.mu.Unlock()
	if local := h.served(p); local != "" {
		return os.Readlink(local)
	}
	e := h.n.entries[p]
	if e == nil {
		return "", errNoEnt
	}
	if e.kind != kindSymlink {
		return "", fmt.Errorf("sshtest sink: %s: not a symbolic link: %w", p, fs.ErrInvalid)
	}
	return e.target, nil
}

func (h *sinkFS) list(r *sftp.Request, follow bool) (sftp.ListerAt, error) {
	h.n.mu.Lock()
	defer h.n.mu.Unlock()
	p, e := h.resolve(r.Filepath, follow)
	if local := h.served(p); local != "" {
		return listLocal(local, r.Method == "List", follow)
	}
	if e == nil {
		return nil, errNoEnt
	}
	if r.Method != "List" {
		return lister{h.info(path.Base(r.Filepath), e)}, nil
	}
	if e.kind != kindDir {
		return nil, errNotDir
	}
	var out lister
	for _, c := range h.children(p) {
		ce := h.n.entries[c]
		if ce.kind == kindServed {
			fi, err := os.Lstat(ce.target)
			if err != nil {
				continue
			}
			out = append(out, renamed{fi, path.Base(c)})
			continue
		}
		out = append(out, h.info(path.Base(c), ce))
	}
	return out, nil
}

// info describes an entry of the node's tree; n.mu is held.
func (h *sinkFS) info(name string, e *sinkEntry) os.FileInfo {
	mode, size := e.modeSize()
	return sinkInfo{name: name, mode: mode, size: size, mtime: e.mtime}
}

// modeSize is the mode (with its type bits) and the size stat shows for
// e; the node's mutex is held.
func (e *sinkEntry) modeSize() (fs.FileMode, int64) {
	switch e.kind {
	case kindDir:
		return e.perm | fs.ModeDir, 4096
	case kindSymlink:
		return fs.ModeSymlink | 0o777, int64(len(e.target))
	case kindFile:
		if e.w != nil {
			return e.perm, e.w.size.Load()
		}
	}
	return e.perm, e.size
}

// listLocal describes a served local path, or lists it.
func listLocal(local string, list, follow bool) (sftp.ListerAt, error) {
	if !list {
		stat := os.Stat
		if !follow {
			stat = os.Lstat
		}
		fi, err := stat(local)
		if err != nil {
			return nil, err
		}
		return lister{fi}, nil
	}
	des, err := os.ReadDir(local)
	if err != nil {
		return nil, err
	}
	out := make(lister, 0, len(des))
	for _, de := range des {
		fi, err := de.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, err
		}
		out = append(out, fi)
	}
	return out, nil
}

// lister is a ListerAt over a slice.
type lister []os.FileInfo

func (l lister) ListAt(ls []os.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(ls, l[off:])
	if n < len(ls) {
		return n, io.EOF
	}
	return n, nil
}

// renamed is a FileInfo under another name: a Serve mount listed in its
// parent under its own name.
type renamed struct {
	os.FileInfo
	name string
}

func (r renamed) Name() string { return r.name }

// sinkInfo is the FileInfo of a sink entry.
type sinkInfo struct {
	name  string
	mode  fs.FileMode
	size  int64
	mtime time.Time
}

func (i sinkInfo) Name() string       { return i.name }
func (i sinkInfo) Size() int64        { return i.size }
func (i sinkInfo) Mode() fs.FileMode  { return i.mode }
func (i sinkInfo) ModTime() time.Time { return i.mtime }
func (i sinkInfo) IsDir() bool        { return i.mode.IsDir() }
func (i sinkInfo) Sys() any           { return nil }
