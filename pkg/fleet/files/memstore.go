package files

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// MemStore is a ChunkStore in memory, for tests and csub's in-process
// fleet. The zero value is an empty store; it holds whatever it is given
// (no bound but ChunkSize per chunk).
type MemStore struct {
	mu     sync.Mutex
	chunks map[Digest][]byte
	bytes  int64

	puts, gets, has, sent atomic.Int64
}

// MemStats counts a MemStore's calls.
type MemStats struct {
	// Puts counts Put calls; Stored those that stored a new chunk.
	Puts, Stored int64
	// Gets counts Get calls, Has the digests asked about.
	Gets, Has int64
	// Chunks and Bytes are what the store holds.
	Chunks int
	Bytes  int64
}

// Stats returns the store's counts.
func (s *MemStore) Stats() MemStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return MemStats{Puts: s.puts.Load(), Stored: s.sent.Load(), Gets: s.gets.Load(), Has: s.has.Load(),
		Chunks: len(s.chunks), Bytes: s.bytes}
}

// String names the store in errors.
func (s *MemStore) String() string { return "memory store" }

// Has implements ChunkStore.
func (s *MemStore) Has(ctx context.Context, ds []Digest) ([]bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.has.Add(int64(len(ds)))
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]bool, len(ds))
	for i, d := range ds {
		_, out[i] = s.chunks[d]
	}
	return out, nil
}

// Put implements ChunkStore.
func (s *MemStore) Put(ctx context.Context, d Digest, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.puts.Add(1)
	if len(data) > ChunkSize {
		return fmt.Errorf("chunk %s: %d bytes, more than %d", d, len(data), ChunkSize)
	}
	if err := Verify(d, data, s.String()); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.chunks[d]; ok {
		return nil
	}
	if s.chunks == nil {
		s.chunks = make(map[Digest][]byte)
	}
	s.chunks[d] = append([]byte(nil), data...)
	s.bytes += int64(len(data))
	s.sent.Add(1)
	return nil
}

// Get implements ChunkStore.
func (s *MemStore) Get(ctx context.Context, d Digest, buf []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.gets.Add(1)
	s.mu.Lock()
	data, ok := s.chunks[d]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("chunk %s: %w", d, ErrNotFound)
	}
	return append(buf[:0], data...), nil
}

// Delete removes the chunk d, if held.
func (s *MemStore) Delete(d Digest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if data, ok := s.chunks[d]; ok {
		s.bytes -= int64(len(data))
		delete(s.chunks, d)
	}
}
