package protocol

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// Digest is the SHA-256 of a chunk, a file or a manifest.
type Digest [sha256.Size]byte

// SumDigest returns the digest of data.
func SumDigest(data []byte) Digest { return sha256.Sum256(data) }

// String returns the digest in lower-case hex, as subjects and file
// names carry it.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// ParseDigest parses the hex form of a digest.
func ParseDigest(s string) (Digest, error) {
	var d Digest
	if len(s) != 2*len(d) {
		return d, fmt.Errorf("digest %q: want %d hex digits", Truncate(s, 80), 2*len(d))
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return d, fmt.Errorf("digest %q: %w", Truncate(s, 80), err)
	}
	return d, nil
}

// MarshalText encodes the digest in hex (JSON carries it as a string).
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText decodes the hex form.
func (d *Digest) UnmarshalText(b []byte) error {
	v, err := ParseDigest(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// TreeRef names a stored tree (pkg/fleet/files) in a job: the manifest's encoding is Size
// bytes with SHA-256 Digest, stored as the chunks Chunks (in order).
// Files and Bytes repeat the manifest's totals for display and limits
// before it is fetched.
type TreeRef struct {
	Digest Digest   `json:"digest"`
	Size   int64    `json:"size"`
	Chunks []Digest `json:"chunks"`
	Files  int      `json:"files"`
	Bytes  int64    `json:"bytes"`
}

// KindTree is an event of a reverse copy through the fleet (CopySpec
// Collect): its node's copy is stored in the fleet as the tree Data
// names (see TreeEvent), for the submitter to fetch. It comes before the
// node's end. Numbered apart from the output kinds, as KindWritten.
const KindTree Kind = 17

// maxTreeChunks bounds the manifest chunks a KindTree event lists: a
// manifest of MaxManifest bytes (pkg/fleet/files) in chunks of 256 KiB.
const maxTreeChunks = 1024

// TreeEvent returns the event saying that the copy of nodes is stored as
// ref: the digest, then uvarints size, files, bytes and the chunk count,
// then the chunk digests.
func TreeEvent(nodes []uint32, ref TreeRef) Event {
	data := make([]byte, 0, len(ref.Digest)+4*binary.MaxVarintLen64+len(ref.Chunks)*len(ref.Digest))
	data = append(data, ref.Digest[:]...)
	data = binary.AppendUvarint(data, uint64(max(ref.Size, 0)))
	data = binary.AppendUvarint(data, uint64(max(ref.Files, 0)))
	data = binary.AppendUvarint(data, uint64(max(ref.Bytes, 0)))
	data = binary.AppendUvarint(data, uint64(len(ref.Chunks)))
	for _, c := range ref.Chunks {
		data = append(data, c[:]...)
	}
	return Event{Kind: KindTree, Nodes: nodes, Data: data}
}

// Tree returns the tree of a KindTree event, false when r is not one or
// is malformed (more than 1024 chunks, sizes past 2^62, trailing bytes).
func (r *Event) Tree() (TreeRef, bool) {
	var ref TreeRef
	if r.Kind != KindTree || len(r.Data) < len(ref.Digest) {
		return ref, false
	}
	copy(ref.Digest[:], r.Data)
	rest := r.Data[len(ref.Digest):]
	var v [4]uint64
	for i := range v {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > 1<<62 {
			return TreeRef{}, false
		}
		v[i], rest = n, rest[k:]
	}
	if v[3] > maxTreeChunks || uint64(len(rest)) != v[3]*uint64(len(ref.Digest)) {
		return TreeRef{}, false
	}
	ref.Size, ref.Files, ref.Bytes = int64(v[0]), int(v[1]), int64(v[2])
	ref.Chunks = make([]Digest, v[3])
	for i := range ref.Chunks {
		copy(ref.Chunks[i][:], rest[i*len(ref.Digest):])
	}
	return ref, true
}
