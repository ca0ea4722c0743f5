package files

import (
	"context"
	"errors"
	"fmt"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Digest is protocol.Digest: the SHA-256 naming a chunk.
type Digest = protocol.Digest

// Sum returns the digest of data.
func Sum(data []byte) Digest { return protocol.SumDigest(data) }

// ChunkSize is the most bytes one chunk holds: well under NATS's default
// max_payload (1 MiB) with room for headers, and small enough that a
// window of chunks in flight stays a few MiB.
const ChunkSize = 256 << 10

// ErrNotFound is returned by a ChunkStore's Get for a chunk it does not
// hold.
var ErrNotFound = errors.New("chunk not found")

// MismatchError is a chunk whose bytes do not hash to its name.
type MismatchError struct {
	Want, Got Digest
	From      string // the store that returned or was given it
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("chunk %s from %s has digest %s: refused", e.Want, e.From, e.Got)
}

// Verify returns a *MismatchError when data does not hash to want.
func Verify(want Digest, data []byte, from string) error {
	if got := Sum(data); got != want {
		return &MismatchError{Want: want, Got: got, From: from}
	}
	return nil
}

// ChunkStore holds chunks by digest. Implementations verify what they
// are given (Put refuses data that does not hash to d) and what they
// return (Get never returns bytes that do not hash to d), are safe for
// concurrent use, and bound the size of a chunk by ChunkSize.
type ChunkStore interface {
	// Has reports which of ds the store holds (same length and order).
	Has(ctx context.Context, ds []Digest) ([]bool, error)
	// Put stores data under d (a no-op when it is already there).
	Put(ctx context.Context, d Digest, data []byte) error
	// Get returns the chunk d, appended to buf[:0] when it fits, or
	// ErrNotFound (wrapped).
	Get(ctx context.Context, d Digest, buf []byte) ([]byte, error)
}
