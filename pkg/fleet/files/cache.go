package files

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// CacheConfig configures an agent's disk cache.
type CacheConfig struct {
	// Dir holds the cache: chunks/xx/<digest hex>, trees/<ref digest>[-p]
	// and tmp/. It is created if missing.
	Dir string
	// MaxBytes bounds the bytes of chunks and trees kept (default
	// 10 GiB); Evict brings them under it, least recently used first.
	MaxBytes int64
	// MaxAge is how long an unused chunk or tree is kept (default 1 h).
	MaxAge time.Duration
	// Log receives what the cache removes and refuses (default: none).
	Log *slog.Logger
}

// Cache is an agent's disk cache of chunks and of the trees built from
// them. It is a ChunkStore; Fetch fills it from another store,
// Materialize builds a tree from it, Evict trims it. Safe for concurrent
// use.
type Cache struct {
	cfg               CacheConfig
	chunkDir, treeDir string
	tmpDir            string
	log               *slog.Logger

	mu     sync.Mutex
	chunks map[Digest]*cached
	trees  map[string]*cachedTree
	// pins counts, per chunk, the Fetch and Materialize calls that need
	// it: Evict leaves pinned chunks alone.
	pins    map[Digest]int
	bytes   int64
	fetches map[Digest]*fetchCall
	closed  bool
	gone    int // names the trees moved aside to be removed
	// built counts the trees Materialize built (Built; added to with mu
	// held, read without it).
	built atomic.Uint64
}

// cached is a chunk on disk.
type cached struct {
	size int64
	used time.Time
}

// cachedTree is a tree under trees/, ready once built is closed.
type cachedTree struct {
	cached
	refs  int
	root  string
	built chan struct{}
}

// OpenCache opens (creating it if needed) the cache in cfg.Dir. The
// chunks already there are kept (an interrupted Fetch resumes from
// them); trees and temporary files left by an earlier process are
// removed: trees are rebuilt from chunks when asked for again.
func OpenCache(cfg CacheConfig) (*Cache, error) {
	if cfg.Dir == "" {
		return nil, errors.New("cache: no directory")
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultCacheBytes
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultCacheAge
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	c := &Cache{
		cfg: cfg, log: cfg.Log,
		chunkDir: filepath.Join(cfg.Dir, "chunks"), treeDir: filepath.Join(cfg.Dir, "trees"),
		tmpDir: filepath.Join(cfg.Dir, "tmp"),
		chunks: make(map[Digest]*cached), trees: make(map[string]*cachedTree),
		pins: make(map[Digest]int), fetches: make(map[Digest]*fetchCall),
	}
	for _, d := range []string{c.treeDir, c.tmpDir} {
		if err := removeTree(d); err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
	}
	for _, d := range []string{c.chunkDir, c.treeDir, c.tmpDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
	}
	if err := c.scan(); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	return c, nil
}

// scan indexes the chunks on disk, removing what is not one.
func (c *Cache) scan() error {
	subs, err := os.ReadDir(c.chunkDir)
	if err != nil {
		return err
	}
	for _, sub := range subs {
		dir := filepath.Join(c.chunkDir, sub.Name())
		ents, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range ents {
			d, err := protocol.ParseDigest(e.Name())
			fi, ierr := e.Info()
			if err != nil || ierr != nil || !fi.Mode().IsRegular() || fi.Size() > ChunkSize || c.chunkPath(d) != filepath.Join(dir, e.Name()) {
				c.log.Warn("cache: removing a file that is not a chunk", "path", filepath.Join(dir, e.Name()))
				_ = os.RemoveAll(filepath.Join(dir, e.Name()))
				continue
			}
			c.chunks[d] = &cached{size: fi.Size(), used: fi.ModTime()}
			c.bytes += fi.Size()
		}
	}
	return nil
}

func (c *Cache) chunkPath(d Digest) string {
	h := d.String()
	return filepath.Join(c.chunkDir, h[:2], h)
}

// String names the cache in errors.
func (c *Cache) String() string { return "cache " + c.cfg.Dir }

// Has implements ChunkStore.
func (c *Cache) Has(ctx context.Context, ds []Digest) ([]bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]bool, len(ds))
	for i, d := range ds {
		if it := c.chunks[d]; it != nil {
			out[i] = true
			it.used = now
		}
	}
	return out, nil
}

// Put implements ChunkStore: the chunk is written to a temporary file
// and renamed into place (not synced: a chunk lost in a crash is
// fetched again, a torn one fails its digest and is removed).
func (c *Cache) Put(ctx context.Context, d Digest, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(data) > ChunkSize {
		return fmt.Errorf("cache: chunk %s: %d bytes, more than %d", d, len(data), ChunkSize)
	}
	if err := Verify(d, data, "put to "+c.String()); err != nil {
		return err
	}
	if c.touch(d) {
		return nil
	}
	f, err := os.CreateTemp(c.tmpDir, "chunk-")
	if err != nil {
		return fmt.Errorf("cache: chunk %s: %w", d, err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	p := c.chunkPath(d)
	if err == nil {
		if err = os.Rename(f.Name(), p); errors.Is(err, fs.ErrNotExist) {
			if err = os.MkdirAll(filepath.Dir(p), 0o700); err == nil {
				err = os.Rename(f.Name(), p)
			}
		}
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("cache: chunk %s: %w", d, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.chunks[d] == nil {
		c.chunks[d] = &cached{size: int64(len(data))}
		c.bytes += int64(len(data))
	}
	c.chunks[d].used = time.Now()
	return nil
}

// touch marks d used and reports whether the cache holds it.
func (c *Cache) touch(d Digest) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if it := c.chunks[d]; it != nil {
		it.used = time.Now()
		return true
	}
	return false
}

// Get implements ChunkStore. A chunk whose file does not hash to its
// name (a torn write, a damaged disk) is removed and reported as a
// *MismatchError.
func (c *Cache) Get(ctx context.Context, d Digest, buf []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := c.chunkPath(d)
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		c.forget(d)
		return nil, fmt.Errorf("cache: chunk %s: %w", d, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("cache: chunk %s: %w", d, err)
	}
	defer f.Close()
	if cap(buf) < ChunkSize {
		buf = make([]byte, 0, ChunkSize)
	}
	n, err := io.ReadFull(f, buf[:ChunkSize])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("cache: chunk %s: %w", d, err)
	}
	data := buf[:n]
	if err := Verify(d, data, c.String()); err != nil {
		c.log.Warn("cache: removing a damaged chunk", "chunk", d.String())
		_ = os.Remove(p)
		c.forget(d)
		return nil, err
	}
	c.touch(d)
	return data, nil
}

// forget drops d from the index.
func (c *Cache) forget(d Digest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgetLocked(d)
}

func (c *Cache) forgetLocked(d Digest) {
	if it := c.chunks[d]; it != nil {
		c.bytes -= it.size
		delete(c.chunks, d)
	}
}

// pin protects ds from eviction until unpin(ds).
func (c *Cache) pin(ds []Digest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range ds {
		c.pins[d]++
	}
}

func (c *Cache) unpin(ds []Digest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range ds {
		if c.pins[d]--; c.pins[d] <= 0 {
			delete(c.pins, d)
		}
	}
}

// Bytes returns the bytes of chunks and trees the cache holds.
func (c *Cache) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// Built returns how many trees Materialize built since the cache was
// opened: a tree found built already, or built by a concurrent call, is
// not counted again.
func (c *Cache) Built() uint64 { return c.built.Load() }

// Evict removes the chunks and trees unused since now-MaxAge, then, while
// the cache holds more than MaxBytes, the least recently used ones.
// Pinned chunks (a Fetch or Materialize needs them) and trees in use
// (not released) are kept. It returns how many chunks and trees it
// removed and their bytes.
func (c *Cache) Evict(now time.Time) (removed int, freed int64) {
	c.mu.Lock()
	removed, freed, gone := c.evictLocked(now, 0)
	c.mu.Unlock()
	c.removeGone(gone)
	return removed, freed
}

// evictLocked evicts as Evict does, making room for need more bytes.
// It returns the directories of trees moved aside, which the caller
// removes (removeGone) once c.mu is released.
func (c *Cache) evictLocked(now time.Time, need int64) (removed int, freed int64, gone []string) {
	type victim struct {
		used time.Time
		d    Digest
		key  string // a tree's key, or "" for the chunk d
	}
	var vs []victim
	for d, it := range c.chunks {
		if c.pins[d] == 0 {
			vs = append(vs, victim{used: it.used, d: d})
		}
	}
	for key, t := range c.trees {
		if t.refs == 0 && t.root != "" {
			vs = append(vs, victim{used: t.used, key: key})
		}
	}
	slices.SortFunc(vs, func(a, b victim) int { return a.used.Compare(b.used) })
	limit := now.Add(-c.cfg.MaxAge)
	for _, v := range vs {
		if !v.used.Before(limit) && c.bytes+need <= c.cfg.MaxBytes {
			break
		}
		if v.key == "" {
			size := c.chunks[v.d].size
			if err := os.Remove(c.chunkPath(v.d)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				c.log.Warn("cache: cannot remove a chunk", "chunk", v.d.String(), "err", err)
				continue
			}
			c.forgetLocked(v.d)
			removed, freed = removed+1, freed+size
			continue
		}
		t := c.trees[v.key]
		// Moved aside now, removed without the lock: a tree may be large.
		c.gone++
		aside := filepath.Join(c.tmpDir, fmt.Sprintf("gone-%d-%s", c.gone, v.key))
		if err := os.Rename(filepath.Join(c.treeDir, v.key), aside); err != nil {
			c.log.Warn("cache: cannot remove a tree", "tree", v.key, "err", err)
			continue
		}
		gone = append(gone, aside)
		delete(c.trees, v.key)
		c.bytes -= t.size
		removed, freed = removed+1, freed+t.size
	}
	if removed > 0 {
		c.log.Debug("cache: evicted", "removed", removed, "bytes", freed, "kept", c.bytes)
	}
	return removed, freed, gone
}

// makeRoom evicts to have need more bytes under MaxBytes.
func (c *Cache) makeRoom(need int64) {
	c.mu.Lock()
	_, _, gone := c.evictLocked(time.Now(), need)
	c.mu.Unlock()
	c.removeGone(gone)
}

func (c *Cache) removeGone(dirs []string) {
	for _, d := range dirs {
		if err := removeTree(d); err != nil {
			c.log.Warn("cache: cannot remove a tree", "path", d, "err", err)
		}
	}
}

// Close refuses further Fetch and Materialize calls and removes the
// trees not in use (a later OpenCache removes the others). Chunks stay
// for the next process.
func (c *Cache) Close() error {
	c.mu.Lock()
	c.closed = true
	var gone []string
	keys := make([]string, 0, len(c.trees))
	for key, t := range c.trees {
		if t.refs == 0 && t.root != "" {
			keys = append(keys, key)
		}
	}
	slices.SortFunc(keys, cmp.Compare)
	for _, key := range keys {
		gone = append(gone, filepath.Join(c.treeDir, key))
		c.bytes -= c.trees[key].size
		delete(c.trees, key)
	}
	c.mu.Unlock()
	c.removeGone(gone)
	return nil
}

// removeTree removes p and everything under it, making directories
// writable first (a tree may hold read-only ones).
func removeTree(p string) error {
	err := os.RemoveAll(p)
	if err == nil {
		return nil
	}
	_ = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(q, 0o700)
		}
		return nil
	})
	return os.RemoveAll(p)
}
