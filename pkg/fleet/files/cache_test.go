package files

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func openCache(t testing.TB, dir string, maxBytes int64) *Cache {
	t.Helper()
	c, err := OpenCache(CacheConfig{Dir: dir, MaxBytes: maxBytes})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func fetch(t testing.TB, c *Cache, ref Ref, from ChunkStore) (*Manifest, FetchStats) {
	t.Helper()
	m, st, err := c.Fetch(context.Background(), ref, from, FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return m, st
}

func materialize(t testing.TB, c *Cache, ref Ref, m *Manifest, preserve bool) (string, func()) {
	t.Helper()
	root, release, err := c.Materialize(context.Background(), ref, m, preserve)
	if err != nil {
		t.Fatal(err)
	}
	return root, release
}

func TestCacheRoundTrip(t *testing.T) {
	src := sharedTree(t)
	s, ref, _ := push(t, src, PushOptions{Symlinks: true})
	c := openCache(t, t.TempDir(), 0)
	m, st := fetch(t, c, ref, s)
	if st.Found != 0 || st.Fetched != s.Stats().Chunks || st.Joined {
		t.Fatalf("first fetch %+v, store %+v", st, s.Stats())
	}
	root, release := materialize(t, c, ref, m, true)
	if filepath.Base(root) != "tree" || !strings.HasPrefix(root, filepath.Join(c.cfg.Dir, "trees", ref.Digest.String()+"-p")) {
		t.Fatalf("root %s", root)
	}
	compareTrees(t, src, root, true, true, false)
	// Once built, asked again: the same tree, not rebuilt.
	again, release2 := materialize(t, c, ref, m, true)
	if again != root || c.Built() != 1 {
		t.Fatalf("second materialize at %s, not %s; %d built", again, root, c.Built())
	}
	release()
	release2()
	release2() // a second call does nothing
	plain, release3 := materialize(t, c, ref, m, false)
	defer release3()
	compareTrees(t, src, plain, true, false, false)
	if c.Built() != 2 {
		t.Fatalf("%d trees built, want 2 (with and without times)", c.Built())
	}
	// Fetched again: all found, nothing got.
	gets := s.Stats().Gets
	if _, st = fetch(t, c, ref, s); st.Fetched != 0 || st.Found == 0 || s.Stats().Gets != gets {
		t.Fatalf("second fetch %+v", st)
	}
}

func TestCacheBigFile(t *testing.T) {
	f := sharedBig(t)
	s, ref, _ := push(t, f, PushOptions{})
	c := openCache(t, t.TempDir(), 0)
	m, _ := fetch(t, c, ref, s)
	root, release := materialize(t, c, ref, m, true)
	defer release()
	compareTrees(t, f, root, true, true, false)
	if c.Bytes() != 2*(64<<20)+ref.Size {
		t.Fatalf("cache holds %d bytes", c.Bytes())
	}
}

// failAfter fails every Get after the first n.
type failAfter struct {
	*MemStore
	n atomic.Int64
}

func (f *failAfter) Get(ctx context.Context, d Digest, buf []byte) ([]byte, error) {
	if f.n.Add(-1) < 0 {
		return nil, errors.New("connection lost")
	}
	return f.MemStore.Get(ctx, d, buf)
}

// TestCacheResume: a Fetch interrupted leaves its chunks on disk; a new
// process (a cache opened again) fetches only the rest.
func TestCacheResume(t *testing.T) {
	f := filepath.Join(t.TempDir(), "f")
	writeFile(t, f, randomBytes(5, 40*ChunkSize), 0o644, time.Now().Add(-time.Hour))
	s, ref, _ := push(t, f, PushOptions{})
	dir := t.TempDir()
	c := openCache(t, dir, 0)
	broken := &failAfter{MemStore: s}
	broken.n.Store(11) // the manifest and 10 chunks
	if _, _, err := c.Fetch(context.Background(), ref, broken, FetchOptions{Window: 1}); err == nil || !strings.Contains(err.Error(), "connection lost") {
		t.Fatalf("broken store: %v", err)
	}
	_ = c.Close()
	c = openCache(t, dir, 0)
	gets := s.Stats().Gets
	m, st := fetch(t, c, ref, s)
	if got := s.Stats().Gets - gets; got != 30 || st.Fetched != 30 || st.Found != 11 {
		t.Fatalf("resumed fetch got %d chunks, stats %+v", got, st)
	}
	root, release := materialize(t, c, ref, m, false)
	defer release()
	compareTrees(t, f, root, true, false, false)
}

// gateStore holds every Get until open is closed.
type gateStore struct {
	*MemStore
	open chan struct{}
}

func (g *gateStore) Get(ctx context.Context, d Digest, buf []byte) ([]byte, error) {
	<-g.open
	return g.MemStore.Get(ctx, d, buf)
}

func TestCacheFetchOnce(t *testing.T) {
	src := makeTree(t, t.TempDir(), 100, false)
	s, ref, _ := push(t, src, PushOptions{})
	c := openCache(t, t.TempDir(), 0)
	g := &gateStore{MemStore: s, open: make(chan struct{})}
	var wg sync.WaitGroup
	var joined atomic.Int64
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, st, err := c.Fetch(context.Background(), ref, g, FetchOptions{})
			if err != nil {
				t.Error(err)
			}
			if st.Joined {
				joined.Add(1)
			}
		}()
	}
	// Wait until the four others wait for the first one.
	for {
		c.mu.Lock()
		n := 0
		if call := c.fetches[ref.Digest]; call != nil {
			n = call.waiters
		}
		c.mu.Unlock()
		if n == 4 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(g.open)
	wg.Wait()
	if gets := s.Stats().Gets; gets != int64(s.Stats().Chunks) {
		t.Fatalf("%d gets for %d chunks", gets, s.Stats().Chunks)
	}
	if joined.Load() != 4 {
		t.Fatalf("%d fetches joined the first, want 4", joined.Load())
	}
}

func TestCacheRefusesBadBytes(t *testing.T) {
	src := makeTree(t, t.TempDir(), 20, false)
	s, ref, bad, badPath := pushTreeFirstChunk(t, src)
	c := openCache(t, t.TempDir(), 0)
	_, _, err := c.Fetch(context.Background(), ref, &badStore{MemStore: s, bad: bad}, FetchOptions{})
	var me *MismatchError
	if !errors.As(err, &me) || me.Want != bad || !strings.Contains(err.Error(), bad.String()) || !strings.Contains(err.Error(), badPath) {
		t.Fatalf("bad store: %v", err)
	}
	// A chunk damaged on disk: Materialize fails naming it and removes it.
	m, _ := fetch(t, c, ref, s)
	if err := os.WriteFile(c.chunkPath(bad), []byte("damaged"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Materialize(context.Background(), ref, m, false)
	if !errors.As(err, &me) || !strings.Contains(err.Error(), bad.String()) {
		t.Fatalf("damaged chunk: %v", err)
	}
	if _, err := os.Stat(c.chunkPath(bad)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("damaged chunk kept: %v", err)
	}
	// Fetched again, it is whole.
	m, st := fetch(t, c, ref, s)
	if st.Fetched != 1 {
		t.Fatalf("refetch %+v", st)
	}
	root, release := materialize(t, c, ref, m, false)
	defer release()
	compareTrees(t, src, root, true, false, false)
	// A manifest that is not the ref's.
	other := *m
	other.Entries = other.Entries[:1]
	if _, _, err := c.Materialize(context.Background(), ref, &other, false); err == nil {
		t.Fatal("materialized another manifest")
	}
}

// TestCacheRefusesTraversal: a manifest climbing out of its directory,
// stored and named by a ref, is refused before anything is written.
func TestCacheRefusesTraversal(t *testing.T) {
	for _, entries := range [][]Entry{
		{{Path: "..", Type: TypeDir}},
		{{Path: "r", Type: TypeDir}, {Path: "r/../../x", Type: TypeFile, Digest: Sum(nil)}},
		{{Path: "/etc", Type: TypeDir}},
		{{Path: "r", Type: TypeDir}, {Path: "r/l", Type: TypeSymlink, Target: "/etc"}, {Path: "r/l/passwd", Type: TypeFile, Digest: Sum(nil)}},
	} {
		enc := (&Manifest{Entries: entries}).Encode()
		s := &MemStore{}
		if err := s.Put(context.Background(), Sum(enc), enc); err != nil {
			t.Fatal(err)
		}
		ref := Ref{Digest: Sum(enc), Size: int64(len(enc)), Chunks: []Digest{Sum(enc)}}
		dir := t.TempDir()
		c := openCache(t, filepath.Join(dir, "cache"), 0)
		if _, _, err := c.Fetch(context.Background(), ref, s, FetchOptions{}); err == nil {
			t.Fatalf("%+v: fetched", entries)
		}
		if _, err := Extract(context.Background(), ref, s, filepath.Join(dir, "out"), ExtractOptions{}); err == nil {
			t.Fatalf("%+v: extracted", entries)
		}
		if names, _ := readNames(dir); len(names) != 1 {
			t.Fatalf("%+v: wrote %q", entries, names)
		}
	}
}

func TestCacheEvict(t *testing.T) {
	dir := t.TempDir()
	srcA := makeTree(t, filepath.Join(dir, "a"), 200, false)
	fb := filepath.Join(dir, "b")
	writeFile(t, fb, randomBytes(9, 3*ChunkSize), 0o644, time.Now())
	sa, refA, _ := push(t, srcA, PushOptions{})
	sb, refB, _ := push(t, fb, PushOptions{})
	c := openCache(t, filepath.Join(dir, "cache"), 0)
	mA, _ := fetch(t, c, refA, sa)
	rootA, releaseA := materialize(t, c, refA, mA, false)
	// In use: nothing of A's tree goes, however old.
	c.Evict(time.Now().Add(24 * time.Hour))
	if _, err := os.Stat(rootA); err != nil {
		t.Fatalf("tree in use removed: %v", err)
	}
	if _, bytes := mA.totals(); c.Bytes() != bytes {
		t.Fatalf("cache holds %d bytes, the tree %d", c.Bytes(), bytes)
	}
	releaseA()
	// Room for B's chunks and tree only: A, least recently used, goes.
	c.cfg.MaxBytes = 2*3*ChunkSize + refB.Size
	mB, _ := fetch(t, c, refB, sb)
	rootB, releaseB := materialize(t, c, refB, mB, true)
	defer releaseB()
	if _, err := os.Stat(rootA); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("tree A kept: %v", err)
	}
	if c.Bytes() > c.cfg.MaxBytes {
		t.Fatalf("cache holds %d bytes, more than %d", c.Bytes(), c.cfg.MaxBytes)
	}
	compareTrees(t, fb, rootB, true, true, false)
	releaseB()
	n, freed := c.Evict(time.Now().Add(2 * time.Hour))
	if c.Bytes() != 0 || n == 0 || freed == 0 {
		t.Fatalf("after expiry: %d bytes kept, %d removed", c.Bytes(), n)
	}
	for _, sub := range []string{"trees", "tmp"} {
		if names, _ := readNames(filepath.Join(c.cfg.Dir, sub)); len(names) != 0 {
			t.Fatalf("%s holds %q", sub, names)
		}
	}
	// A tree larger than the cache is refused.
	c.cfg.MaxBytes = 100
	if _, _, err := c.Fetch(context.Background(), refB, sb, FetchOptions{}); err == nil || !strings.Contains(err.Error(), "more than the cache's") {
		t.Fatalf("too big: %v", err)
	}
}
