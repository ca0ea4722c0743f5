package files

import (
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
)

func newHash() hash.Hash { return sha256.New() }

// storeName names s in errors: its String method, else its type.
func storeName(s ChunkStore) string {
	if st, ok := s.(fmt.Stringer); ok {
		return st.String()
	}
	return fmt.Sprintf("%T", s)
}

// getChunk gets chunk d from s into buf and checks it, whatever s
// promises: bytes that do not hash to d fail naming the chunk.
func getChunk(ctx context.Context, s ChunkStore, d Digest, buf []byte) ([]byte, error) {
	data, err := s.Get(ctx, d, buf)
	if err != nil {
		return nil, fmt.Errorf("get chunk %s from %s: %w", d, storeName(s), err)
	}
	if len(data) > ChunkSize {
		return nil, fmt.Errorf("get chunk %s from %s: %d bytes, more than %d", d, storeName(s), len(data), ChunkSize)
	}
	if err := Verify(d, data, storeName(s)); err != nil {
		return nil, err
	}
	return data, nil
}

// ReadManifest gets the manifest ref names from a store, checks its size
// and digest, and decodes it.
func ReadManifest(ctx context.Context, ref Ref, from ChunkStore) (*Manifest, error) {
	if err := checkRef(ref); err != nil {
		return nil, err
	}
	// Grown as chunks come (and checked against ref.Size), not allocated
	// from the ref's word alone.
	enc := make([]byte, 0, min(ref.Size, 4*ChunkSize))
	var buf []byte
	for _, d := range ref.Chunks {
		data, err := getChunk(ctx, from, d, buf)
		if err != nil {
			return nil, fmt.Errorf("manifest %s: %w", ref.Digest, err)
		}
		if int64(len(enc)+len(data)) > ref.Size {
			return nil, fmt.Errorf("manifest %s: chunks longer than its %d bytes", ref.Digest, ref.Size)
		}
		enc = append(enc, data...)
		buf = data
	}
	if int64(len(enc)) != ref.Size {
		return nil, fmt.Errorf("manifest %s: chunks hold %d bytes, not %d", ref.Digest, len(enc), ref.Size)
	}
	if err := Verify(ref.Digest, enc, storeName(from)); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	m, err := DecodeManifest(enc)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", ref.Digest, err)
	}
	return m, nil
}

// checkRef checks a ref's size and chunk count before anything is
// fetched for it.
func checkRef(ref Ref) error {
	if ref.Size <= 0 || ref.Size > MaxManifest {
		return fmt.Errorf("manifest %s: size %d out of (0, %d]", ref.Digest, ref.Size, MaxManifest)
	}
	if int64(len(ref.Chunks)) != chunkCount(ref.Size) {
		return fmt.Errorf("manifest %s: %d chunks for %d bytes", ref.Digest, len(ref.Chunks), ref.Size)
	}
	return nil
}
