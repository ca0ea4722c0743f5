package files

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// FetchOptions tunes Cache.Fetch.
type FetchOptions struct {
	// Window is how many Gets are in flight at once (default 8).
	Window int
}

// FetchStats says what a Fetch moved.
type FetchStats struct {
	// Fetched and FetchedBytes are the chunks got from the other store
	// (the manifest's included); Found and FoundBytes those the cache
	// held already.
	Fetched      int
	FetchedBytes int64
	Found        int
	FoundBytes   int64
	// Joined says another Fetch of the same ref, running at the same
	// time, did the work: the counts are its own.
	Joined bool
}

// fetchCall is a Fetch in progress, which others of the same ref wait
// for.
type fetchCall struct {
	done  chan struct{}
	m     *Manifest
	stats FetchStats
	err   error
	// waiters counts the Fetches waiting for this one.
	waiters int
}

var errClosed = errors.New("cache closed")

// Fetch gets the manifest ref names and every chunk of its files the
// cache lacks from the store from, Window at a time, verifying each,
// and returns the manifest. Chunks already on disk (a Fetch interrupted,
// even by a crash, or another tree sharing them) are not fetched again.
// Concurrent Fetches of one ref fetch it once. A tree with more bytes
// than MaxBytes is refused.
func (c *Cache) Fetch(ctx context.Context, ref Ref, from ChunkStore, opts FetchOptions) (*Manifest, FetchStats, error) {
	if err := checkRef(ref); err != nil {
		return nil, FetchStats{}, err
	}
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, FetchStats{}, fmt.Errorf("fetch %s: %w", ref.Digest, errClosed)
		}
		call := c.fetches[ref.Digest]
		if call == nil {
			call = &fetchCall{done: make(chan struct{})}
			c.fetches[ref.Digest] = call
			c.mu.Unlock()
			call.m, call.stats, call.err = c.fetch(ctx, ref, from, opts)
			c.mu.Lock()
			delete(c.fetches, ref.Digest)
			c.mu.Unlock()
			close(call.done)
			return call.m, call.stats, call.err
		}
		call.waiters++
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, FetchStats{}, ctx.Err()
		case <-call.done:
		}
		// The one that fetched was cancelled, not us: fetch ourselves
		// (what it got is on disk).
		if call.err != nil && (errors.Is(call.err, context.Canceled) || errors.Is(call.err, context.DeadlineExceeded)) {
			continue
		}
		st := call.stats
		st.Joined = true
		return call.m, st, call.err
	}
}

func (c *Cache) fetch(ctx context.Context, ref Ref, from ChunkStore, opts FetchOptions) (*Manifest, FetchStats, error) {
	if opts.Window <= 0 {
		opts.Window = 8
	}
	var st FetchStats
	c.pin(ref.Chunks)
	defer c.unpin(ref.Chunks)
	if err := c.fetchChunks(ctx, ref.Chunks, from, opts.Window, &st); err != nil {
		return nil, st, fmt.Errorf("fetch manifest %s: %w", ref.Digest, err)
	}
	m, err := ReadManifest(ctx, ref, c)
	if err != nil {
		return nil, st, fmt.Errorf("fetch: %w", err)
	}
	_, total := m.totals()
	if total > c.cfg.MaxBytes {
		return nil, st, fmt.Errorf("fetch %s: %d bytes, more than the cache's %d", ref.Digest, total, c.cfg.MaxBytes)
	}
	var ds []Digest
	// The first file of each chunk, to name it in errors.
	files := make(map[Digest]string)
	for i := range m.Entries {
		for _, d := range m.Entries[i].Chunks {
			if _, ok := files[d]; !ok {
				files[d] = m.Entries[i].Path
				ds = append(ds, d)
			}
		}
	}
	c.pin(ds)
	defer c.unpin(ds)
	c.makeRoom(total)
	if err := c.fetchChunks(ctx, ds, from, opts.Window, &st); err != nil {
		var ce *chunkError
		if errors.As(err, &ce) {
			return nil, st, fmt.Errorf("fetch %s: %s: %w", ref.Digest, files[ce.d], err)
		}
		return nil, st, fmt.Errorf("fetch %s: %w", ref.Digest, err)
	}
	return m, st, nil
}

// fetchChunks gets the chunks of ds the cache lacks from from, window at
// a time, and puts them in the cache.
func (c *Cache) fetchChunks(ctx context.Context, ds []Digest, from ChunkStore, window int, st *FetchStats) error {
	var missing []Digest
	c.mu.Lock()
	for _, d := range ds {
		if it := c.chunks[d]; it != nil {
			st.Found++
			st.FoundBytes += it.size
		} else {
			missing = append(missing, d)
		}
	}
	c.mu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan Digest)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range min(window, len(missing)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for d := range work {
				data, err := getChunk(ctx, from, d, buf)
				if err == nil {
					err = c.Put(ctx, d, data)
				}
				if err != nil {
					cancel(&chunkError{d, err})
					continue
				}
				buf = data
				mu.Lock()
				st.Fetched++
				st.FetchedBytes += int64(len(data))
				mu.Unlock()
			}
		}()
	}
	for _, d := range missing {
		select {
		case work <- d:
			continue
		case <-ctx.Done():
		}
		break
	}
	close(work)
	wg.Wait()
	return context.Cause(ctx)
}

// chunkError is a failure to fetch chunk d.
type chunkError struct {
	d   Digest
	err error
}

func (e *chunkError) Error() string { return e.err.Error() }
func (e *chunkError) Unwrap() error { return e.err }
