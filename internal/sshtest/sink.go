package sshtest

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// SinkConfig makes a server keep, instead of files on disk, what each
// node received over SFTP: per node (the login name, so an Env names
// each node's user after the node) and per path, the size and SHA-256 of
// the bytes written, the mode, the times, the directories and symbolic
// links. Content is hashed as it arrives and then dropped, so 200 nodes
// receiving 1 GiB each cost no disk and little memory; a received file
// cannot be read back (reads fail). Each node starts with a tree of its
// own: "/", the working directory, Dirs, and the read-only files of
// Serve and Generated that reverse copies fetch.
//
// Sink mode serves copies over SFTP only: an "scp -t" or "scp -f" exec
// request (the scp fallback of a client whose SFTP was refused) fails
// with exit status 1 rather than writing to the real disk. Other exec
// requests run as without a sink.
type SinkConfig struct {
	// Dirs are directories (with their parents) every node has from the
	// start, besides "/" and the working directory.
	Dirs []string
	// Serve maps a path on the nodes to a local file or directory that
	// every node serves read-only under that path: the same source for
	// all nodes without a copy per node.
	Serve map[string]string
	// Generated maps a path on the nodes to a size: every node serves a
	// read-only file of that size whose content GeneratedContent derives
	// from the node's name and the path, so that each node's copy
	// differs and costs nothing to store.
	Generated map[string]int64
	// Full maps a node to the bytes of file data it accepts: a write
	// past them fails with ENOSPC ("no space left on device", status
	// SSH_FX_FAILURE), as a full disk. Server.SetDiskFull changes it.
	Full map[string]int64
	// ReadOnly nodes refuse every change (opening a file for writing,
	// mkdir, setstat, rename, remove, symlink) with EROFS ("read-only
	// file system", SSH_FX_FAILURE), as a read-only mount. Server.SetReadOnly
	// changes it.
	ReadOnly map[string]bool
}

// ReceivedFile is what a sink node holds at one path.
type ReceivedFile struct {
	// Mode has the type bits (fs.ModeDir, fs.ModeSymlink) and the
	// permissions last set.
	Mode fs.FileMode
	// Size is the bytes written to a file (its size after Truncate).
	Size int64
	// SHA256 is the hex SHA-256 of a file's bytes, in offset order.
	SHA256 string
	// ModTime and AccessTime are the times last set (Setstat), else the
	// time of the last write or creation.
	ModTime, AccessTime time.Time
	// Target is a symbolic link's target.
	Target string
	// Err, when not empty, says why the content is not known whole: a
	// write past the reorder window, a gap never filled, a write the
	// server refused (ENOSPC), the connection lost with the file open.
	Err string
}

// sinkKind is the kind of a sink node's entry.
type sinkKind uint8

const (
	kindDir       sinkKind = iota + 1
	kindFile               // written by a client: only its hash is kept
	kindSymlink            // made by a client
	kindGenerated          // SinkConfig.Generated
	kindServed             // SinkConfig.Serve mount point
)

// sinkEntry is one path of a node. Its fields are guarded by the node's
// mutex.
type sinkEntry struct {
	kind         sinkKind
	perm         fs.FileMode // permission bits, setuid, setgid, sticky
	size         int64
	sum          [32]byte
	mtime, atime time.Time
	target       string // symlink target; served: the local path
	err          string
	received     bool        // made or changed by a client
	w            *sinkStream // the open write stream, if any
}

// sinkNode is the tree of one node.
type sinkNode struct {
	name string

	mu       sync.Mutex
	entries  map[string]*sinkEntry
	used     int64 // bytes of file data accepted
	limit    int64 // < 0: no limit
	readOnly bool
}

// sink is a server's SinkConfig at work.
type sink struct {
	cfg  SinkConfig
	base map[string]*sinkEntry

	mu     sync.Mutex
	nodes  map[string]*sinkNode
	intern map[string]string // path strings shared by all nodes
	full   map[string]int64
	ro     map[string]bool
}

func newSink(cfg SinkConfig, workdir string) *sink {
	k := &sink{cfg: cfg, base: map[string]*sinkEntry{}, nodes: map[string]*sinkNode{},
		intern: map[string]string{}, full: map[string]int64{}, ro: map[string]bool{}}
	now := time.Now()
	dir := func(p string) {
		for p = path.Clean("/" + p); ; p = path.Dir(p) {
			if _, ok := k.base[p]; !ok {
				k.base[p] = &sinkEntry{kind: kindDir, perm: 0o755, mtime: now, atime: now}
			}
			if p == "/" {
				return
			}
		}
	}
	dir(workdir)
	for _, d := range cfg.Dirs {
		dir(d)
	}
	for p, local := range cfg.Serve {
		p = path.Clean("/" + p)
		dir(path.Dir(p))
		k.base[p] = &sinkEntry{kind: kindServed, target: local}
	}
	for p, size := range cfg.Generated {
		p = path.Clean("/" + p)
		dir(path.Dir(p))
		k.base[p] = &sinkEntry{kind: kindGenerated, perm: 0o644, size: size, mtime: now, atime: now}
	}
	for n, b := range cfg.Full {
		k.full[n] = b
	}
	for n, ro := range cfg.ReadOnly {
		k.ro[n] = ro
	}
	return k
}

// node returns the tree of the named node, made at its first use.
func (k *sink) node(name string) *sinkNode {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := k.nodes[name]
	if n == nil {
		n = &sinkNode{name: name, entries: make(map[string]*sinkEntry, len(k.base)), limit: -1}
		for p, e := range k.base {
			c := *e
			n.entries[p] = &c
		}
		k.nodes[name] = n
	}
	if b, ok := k.full[name]; ok {
		n.setLimit(b)
	}
	n.setReadOnly(k.ro[name])
	return n
}

// internPath returns p, sharing the string with the other nodes that
// received the same path: 200 nodes × 10 000 files keep one copy of
// each name.
func (k *sink) internPath(p string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if s, ok := k.intern[p]; ok {
		return s
	}
	k.intern[p] = p
	return p
}

func (n *sinkNode) setLimit(b int64) {
	n.mu.Lock()
	n.limit = b
	n.mu.Unlock()
}

func (n *sinkNode) setReadOnly(ro bool) {
	n.mu.Lock()
	n.readOnly = ro
	n.mu.Unlock()
}

// SetDiskFull makes node accept bytes more bytes of file data (counted
// from now) before its writes fail with ENOSPC; a negative bytes lifts
// the limit. It applies to sink servers only.
func (s *Server) SetDiskFull(node string, bytes int64) {
	if s.sink == nil {
		return
	}
	s.sink.mu.Lock()
	if bytes < 0 {
		delete(s.sink.full, node)
	} else {
		s.sink.full[node] = bytes
	}
	n := s.sink.nodes[node]
	s.sink.mu.Unlock()
	if n != nil {
		n.mu.Lock()
		n.used, n.limit = 0, bytes
		n.mu.Unlock()
	}
}

// SetReadOnly makes node refuse (true) or accept changes, as
// SinkConfig.ReadOnly. It applies to sink servers only.
func (s *Server) SetReadOnly(node string, ro bool) {
	if s.sink == nil {
		return
	}
	s.sink.mu.Lock()
	s.sink.ro[node] = ro
	n := s.sink.nodes[node]
	s.sink.mu.Unlock()
	if n != nil {
		n.setReadOnly(ro)
	}
}

// Received returns what node received, by absolute path: every file,
// directory and symbolic link a client made or changed. It is empty for
// a node that received nothing or a server without a sink.
func (s *Server) Received(node string) map[string]ReceivedFile {
	out := map[string]ReceivedFile{}
	if s.sink == nil {
		return out
	}
	s.sink.mu.Lock()
	n := s.sink.nodes[node]
	s.sink.mu.Unlock()
	if n == nil {
		return out
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for p, e := range n.entries {
		if !e.received {
			continue
		}
		mode, size := e.modeSize()
		r := ReceivedFile{Mode: mode, ModTime: e.mtime, AccessTime: e.atime, Target: e.target, Err: e.err}
		if e.kind == kindFile {
			r.Size = size
			if e.w != nil {
				r.Err = "still open for writing"
			} else {
				r.SHA256 = hex.EncodeToString(e.sum[:])
			}
		}
		out[p] = r
	}
	return out
}

// ReceivedNodes lists, sorted, the nodes whose tree a client used.
func (s *Server) ReceivedNodes() []string {
	if s.sink == nil {
		return nil
	}
	s.sink.mu.Lock()
	defer s.sink.mu.Unlock()
	names := make([]string, 0, len(s.sink.nodes))
	for n := range s.sink.nodes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// GeneratedContent is the content of a SinkConfig.Generated file of the
// given size on node: the line "<node> <path>\n" repeated and cut at
// size, so that every node's file differs and a test can tell whose
// copy it holds.
func GeneratedContent(node, path string, size int64) io.ReaderAt {
	return &generated{line: []byte(node + " " + path + "\n"), size: size}
}

// GeneratedSHA256 is the hex SHA-256 of GeneratedContent(node, path,
// size): what a reverse copy of that file from node must hold.
func GeneratedSHA256(node, path string, size int64) string {
	h := sha256.New()
	_, _ = io.Copy(h, io.NewSectionReader(GeneratedContent(node, path, size), 0, size))
	return hex.EncodeToString(h.Sum(nil))
}

type generated struct {
	line []byte
	size int64
}

func (g *generated) ReadAt(p []byte, off int64) (int, error) {
	if off >= g.size {
		return 0, io.EOF
	}
	n := len(p)
	if rest := g.size - off; int64(n) > rest {
		n = int(rest)
	}
	i := 0
	for i < n {
		j := int((off + int64(i)) % int64(len(g.line)))
		i += copy(p[i:n], g.line[j:])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// isSCP tells an exec request that runs scp as the remote end of a copy
// ("scp -t ...", "scp -f ..."), which a sink does not serve.
func isSCP(command string) bool {
	f := strings.Fields(command)
	if len(f) == 0 || path.Base(f[0]) != "scp" {
		return false
	}
	for _, a := range f[1:] {
		if strings.HasPrefix(a, "-") && strings.ContainsAny(a, "tf") {
			return true
		}
	}
	return false
}

// errno helpers: the sink answers with the errors a POSIX file system
// gives, which pkg/sftp maps to SFTP status codes and messages.
var (
	errNoEnt  = syscall.ENOENT
	errExist  = syscall.EEXIST
	errNotDir = syscall.ENOTDIR
	errIsDir  = syscall.EISDIR
	errROFS   = syscall.EROFS
	errNoSpc  = syscall.ENOSPC
	errPerm   = syscall.EACCES
	errNotEmp = syscall.ENOTEMPTY
)
