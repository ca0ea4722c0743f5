package files

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"strings"
	"time"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// The manifest's encoding (version 1), all integers uvarints unless said:
//
//	magic "FSMF", version byte 1, entry count
//	per entry: path length, path bytes, type byte, mode (octal 07777
//	bits as chmod(2) takes them), mtime seconds (zigzag varint), mtime
//	nanoseconds, atime seconds (zigzag varint), atime nanoseconds, then
//	  file:    size, digest (32 raw bytes), chunk count, chunk digests
//	  symlink: target length, target bytes
//	  dir:     nothing
//
// Nothing may follow the last entry. Encode writes the shortest varints;
// DecodeManifest accepts any that fit in 64 bits.
const (
	manifestMagic   = "FSMF"
	manifestVersion = 1
	// maxPathLen bounds an entry's path and a symlink's target: PATH_MAX
	// on Linux, beyond which no system call would take them anyway.
	maxPathLen = 4096
	// minEntrySize is the fewest bytes an entry takes (a one-byte path
	// of a directory, all numbers 0): count bounds use it.
	minEntrySize = 8
	// modeMask is the bits an Entry's Mode may hold.
	modeMask = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky
)

// chunkCount is how many chunks a file of size bytes has.
func chunkCount(size int64) int64 { return (size + ChunkSize - 1) / ChunkSize }

// Encode returns the manifest's binary encoding. It does not check the
// manifest: DecodeManifest refuses what Encode was given wrong.
func (m *Manifest) Encode() []byte {
	n := len(manifestMagic) + 1 + binary.MaxVarintLen64
	for i := range m.Entries {
		e := &m.Entries[i]
		n += len(e.Path) + len(e.Target) + 8*binary.MaxVarintLen64 + 1 + (1+len(e.Chunks))*len(Digest{})
	}
	b := make([]byte, 0, n)
	b = append(b, manifestMagic...)
	b = append(b, manifestVersion)
	b = binary.AppendUvarint(b, uint64(len(m.Entries)))
	for i := range m.Entries {
		e := &m.Entries[i]
		b = binary.AppendUvarint(b, uint64(len(e.Path)))
		b = append(b, e.Path...)
		b = append(b, byte(e.Type))
		b = binary.AppendUvarint(b, uint64(protocol.ModeBits(e.Mode)))
		b = appendTime(b, e.ModTime)
		b = appendTime(b, e.AccessTime)
		switch e.Type {
		case TypeFile:
			b = binary.AppendUvarint(b, uint64(e.Size))
			b = append(b, e.Digest[:]...)
			b = binary.AppendUvarint(b, uint64(len(e.Chunks)))
			for _, d := range e.Chunks {
				b = append(b, d[:]...)
			}
		case TypeSymlink:
			b = binary.AppendUvarint(b, uint64(len(e.Target)))
			b = append(b, e.Target...)
		}
	}
	return b
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// decoder reads an encoding, remembering the first error.
type decoder struct {
	data []byte
	off  int
	err  error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("manifest: offset %d: %s", d.off, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.data[d.off:])
	if n <= 0 {
		d.fail("bad %s", what)
		return 0
	}
	d.off += n
	return v
}

// varint reads a zigzag varint, as binary.AppendVarint writes it.
func (d *decoder) varint(what string) int64 {
	u := d.uvarint(what)
	return int64(u>>1) ^ -int64(u&1)
}

// bytes returns the next n bytes (a sub-slice: callers copy).
func (d *decoder) bytes(n uint64, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.data)-d.off) {
		d.fail("%s of %d bytes past the end", what, n)
		return nil
	}
	b := d.data[d.off : d.off+int(n)]
	d.off += int(n)
	return b
}

func (d *decoder) digest(what string) Digest {
	var g Digest
	copy(g[:], d.bytes(uint64(len(g)), what))
	return g
}

func (d *decoder) time(what string) time.Time {
	sec := d.varint(what)
	nsec := d.uvarint(what)
	if d.err != nil {
		return time.Time{}
	}
	// Beyond ±2^62 s, time.Unix's arithmetic overflows; no file system
	// holds such times.
	if nsec >= 1e9 || sec > math.MaxInt64>>1 || sec < math.MinInt64>>1 {
		d.fail("%s out of range", what)
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec))
}

// DecodeManifest decodes and checks an encoding made by Encode. It
// allocates in proportion to len(data) only, and refuses a manifest that
// could write outside the directory it is extracted in, or that is not
// a tree in order (see Entry and Manifest).
func DecodeManifest(data []byte) (*Manifest, error) {
	if len(data) > MaxManifest {
		return nil, fmt.Errorf("manifest: %d bytes, more than %d", len(data), MaxManifest)
	}
	d := &decoder{data: data}
	if string(d.bytes(uint64(len(manifestMagic)), "magic")) != manifestMagic {
		return nil, errors.New("manifest: bad magic")
	}
	if v := d.bytes(1, "version"); d.err == nil && v[0] != manifestVersion {
		return nil, fmt.Errorf("manifest: version %d, want %d", v[0], manifestVersion)
	}
	count := d.uvarint("entry count")
	if d.err != nil {
		return nil, d.err
	}
	if count == 0 || count > MaxEntries || count > uint64(len(data)-d.off)/minEntrySize {
		return nil, fmt.Errorf("manifest: %d entries for %d bytes (at most %d)", count, len(data), MaxEntries)
	}
	m := &Manifest{Entries: make([]Entry, count)}
	// The type of every path seen: a child's parent must be a directory
	// already listed.
	seen := make(map[string]EntryType, count)
	for i := range m.Entries {
		e := &m.Entries[i]
		d.entry(e)
		if d.err != nil {
			return nil, d.err
		}
		if err := checkPath(e.Path, i == 0, seen); err != nil {
			return nil, fmt.Errorf("manifest: entry %d: %w", i, err)
		}
		seen[e.Path] = e.Type
	}
	if d.off != len(data) {
		return nil, fmt.Errorf("manifest: %d bytes after the last entry", len(data)-d.off)
	}
	return m, nil
}

// entry decodes one entry into e.
func (d *decoder) entry(e *Entry) {
	pl := d.uvarint("path length")
	if pl > maxPathLen {
		d.fail("path of %d bytes", pl)
	}
	e.Path = string(d.bytes(pl, "path"))
	var t []byte
	if t = d.bytes(1, "type"); d.err != nil {
		return
	}
	e.Type = EntryType(t[0])
	mode := d.uvarint("mode")
	if mode&^0o7777 != 0 {
		d.fail("%q: mode %o has bits outside 07777", e.Path, mode)
	}
	e.Mode = protocol.FileModeOf(uint32(mode))
	e.ModTime = d.time("mtime")
	e.AccessTime = d.time("atime")
	switch e.Type {
	case TypeDir:
	case TypeFile:
		size := d.uvarint("size")
		if size > MaxFileSize {
			d.fail("%q: size %d over %d", e.Path, size, int64(MaxFileSize))
			return
		}
		e.Size = int64(size)
		e.Digest = d.digest("file digest")
		n := d.uvarint("chunk count")
		if d.err == nil && n != uint64(chunkCount(e.Size)) {
			d.fail("%q: %d chunks for %d bytes", e.Path, n, size)
			return
		}
		// Bound by what is left before allocating.
		if d.err == nil && n > uint64(len(d.data)-d.off)/uint64(len(Digest{})) {
			d.fail("%q: %d chunks past the end", e.Path, n)
			return
		}
		if n > 0 {
			e.Chunks = make([]Digest, n)
			for j := range e.Chunks {
				e.Chunks[j] = d.digest("chunk digest")
			}
		}
	case TypeSymlink:
		tl := d.uvarint("target length")
		if tl == 0 || tl > maxPathLen {
			d.fail("%q: symlink target of %d bytes", e.Path, tl)
		}
		e.Target = string(d.bytes(tl, "target"))
		if strings.IndexByte(e.Target, 0) >= 0 {
			d.fail("%q: NUL in symlink target", e.Path)
		}
	default:
		d.fail("%q: unknown type %d", e.Path, e.Type)
	}
}

// checkPath checks an entry's path: the root is one element, any other
// is its parent's path (a directory listed before) and one element.
func checkPath(p string, root bool, seen map[string]EntryType) error {
	parent, name := "", p
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		parent, name = p[:i], p[i+1:]
	}
	switch {
	case strings.HasPrefix(p, "/"):
		return fmt.Errorf("path %q is absolute", p)
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("path %q: bad element %q", p, name)
	case strings.IndexByte(p, 0) >= 0:
		return fmt.Errorf("path %q: NUL byte", p)
	case root && parent != "":
		return fmt.Errorf("root path %q has a '/'", p)
	case !root && parent == "":
		return fmt.Errorf("path %q: a second root", p)
	}
	if _, dup := seen[p]; dup {
		return fmt.Errorf("path %q: listed twice", p)
	}
	if !root {
		if t, ok := seen[parent]; !ok || t != TypeDir {
			return fmt.Errorf("path %q: its parent is not a directory listed before", p)
		}
	}
	return nil
}

// totals are the manifest's files and their bytes, as a Ref repeats
// them.
func (m *Manifest) totals() (files int, bytes int64) {
	for i := range m.Entries {
		if m.Entries[i].Type == TypeFile {
			files++
			bytes += m.Entries[i].Size
		}
	}
	return files, bytes
}
