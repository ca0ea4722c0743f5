package protocol

import (
	"crypto/sha256"
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
