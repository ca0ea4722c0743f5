package files

import (
	"io/fs"
	"time"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// EntryType is what an Entry is.
type EntryType uint8

// Entry types.
const (
	TypeFile    EntryType = 1
	TypeDir     EntryType = 2
	TypeSymlink EntryType = 3
)

// Entry is one file, directory or symlink of a tree.
type Entry struct {
	// Path is slash-separated and relative to the directory holding the
	// tree: Entries[0].Path is the source's base name ("app.tar",
	// "etc"), its children "etc/hosts". Never absolute, never "..", no
	// empty or "." element: Decode refuses those.
	Path string
	Type EntryType
	// Mode is the permission bits with setuid, setgid and sticky
	// (fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky).
	Mode    fs.FileMode
	ModTime time.Time
	// AccessTime is kept for -p as clush's scp -p keeps it.
	AccessTime time.Time
	// Size is a file's length in bytes (0 for the other types).
	Size int64
	// Target is a symlink's target, as read (relative or absolute).
	Target string
	// Digest is a file's SHA-256 over all its bytes.
	Digest Digest
	// Chunks are a file's chunk digests in order: chunk i holds bytes
	// [i*ChunkSize, min((i+1)*ChunkSize, Size)).
	Chunks []Digest
}

// Manifest describes a tree: its entries, parents before their children,
// Entries[0] the root (a file, a directory or a symlink).
type Manifest struct {
	Entries []Entry
}

// Ref is protocol.TreeRef: a stored tree as a job names it.
type Ref = protocol.TreeRef

// Limits of what a manifest may describe: a decoder allocates no more
// than they allow whatever it is given.
const (
	// MaxEntries bounds the entries of a manifest.
	MaxEntries = 1 << 20
	// MaxManifest bounds a manifest's encoding (and so Ref.Chunks).
	MaxManifest = 256 << 20
	// MaxFileSize bounds one file (1 TiB).
	MaxFileSize = 1 << 40
)
