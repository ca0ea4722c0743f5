package files

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestPushTree(t *testing.T) {
	root := sharedTree(t)
	s, ref, st := push(t, root, PushOptions{Symlinks: true})
	m, err := ReadManifest(context.Background(), ref, s)
	if err != nil {
		t.Fatal(err)
	}
	files, bytes := m.totals()
	if ref.Files != 2000 || files != 2000 || st.Files != 2000 || ref.Bytes != bytes || st.Bytes != bytes {
		t.Fatalf("ref %d files %d bytes, stats %+v, manifest %d files %d bytes", ref.Files, ref.Bytes, st, files, bytes)
	}
	types := map[string]EntryType{}
	for _, e := range m.Entries {
		types[e.Path] = e.Type
	}
	for p, want := range map[string]EntryType{"tree": TypeDir, "tree/link-dir": TypeSymlink, "tree/dangling": TypeSymlink,
		"tree/empty": TypeDir, "tree/d03/emptysub/deeper": TypeDir, "tree/d00/s0/f0000": TypeFile} {
		if types[p] != want {
			t.Errorf("%s: type %d, want %d", p, types[p], want)
		}
	}
	if st.SentChunks == 0 || st.SentChunks > st.Chunks || s.Stats().Chunks != st.SentChunks {
		t.Fatalf("stats %+v, store %+v", st, s.Stats())
	}
	// The same tree again sends nothing, and names the same manifest;
	// its progress still reaches the total.
	var done int64
	ref2, st2, err := Push(context.Background(), root, s, PushOptions{Symlinks: true, Progress: func(n int64) { done = n }})
	if err != nil {
		t.Fatal(err)
	}
	if st2.SentChunks != 0 || st2.SentBytes != 0 || ref2.Digest != ref.Digest || done != bytes {
		t.Fatalf("second push: %+v, digest %s then %s, progress %d of %d", st2, ref.Digest, ref2.Digest, done, bytes)
	}
}

// TestPushFollowsLinks: without Symlinks, links are copied as what they
// point to, as scp -r and the SSH worker's copy do; a dangling link
// fails naming it, a directory loop too.
func TestPushFollowsLinks(t *testing.T) {
	dir := t.TempDir()
	root := makeTree(t, dir, 50, true)
	s := &MemStore{}
	_, _, err := Push(context.Background(), root, s, PushOptions{})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(root, "dangling")) {
		t.Fatalf("dangling link: %v", err)
	}
	noDangling(t, root)
	ref, _, err := Push(context.Background(), root, s, PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(context.Background(), ref, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range m.Entries {
		if e.Type == TypeSymlink {
			t.Fatalf("%s: a link", e.Path)
		}
		if e.Path == "tree/link-dir" && e.Type != TypeDir || e.Path == "tree/link-file" && e.Type != TypeFile {
			t.Fatalf("%s: type %d", e.Path, e.Type)
		}
	}
	// The source itself a link: its target's content under the link's
	// name.
	if err := os.Symlink(filepath.Join(root, "d01/s1/f0001"), filepath.Join(dir, "alias")); err != nil {
		t.Fatal(err)
	}
	ref, _, err = Push(context.Background(), filepath.Join(dir, "alias"), s, PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m, err = ReadManifest(context.Background(), ref, s); err != nil || m.Entries[0].Path != "alias" || m.Entries[0].Type != TypeFile {
		t.Fatalf("%+v %v", m, err)
	}
	ref, _, err = Push(context.Background(), filepath.Join(dir, "alias"), s, PushOptions{Symlinks: true})
	if err != nil {
		t.Fatal(err)
	}
	if m, err = ReadManifest(context.Background(), ref, s); err != nil || m.Entries[0].Type != TypeSymlink || len(m.Entries) != 1 {
		t.Fatalf("%+v %v", m, err)
	}
	if err := os.Symlink("..", filepath.Join(root, "d07", "up")); err != nil {
		t.Fatal(err)
	}
	if _, _, err = Push(context.Background(), root, s, PushOptions{}); err == nil || !strings.Contains(err.Error(), "loop") {
		t.Fatalf("loop: %v", err)
	}
}

// changingStore appends to a file on its first Put: the file pushed
// changes while it is read.
type changingStore struct {
	*MemStore
	file string
	once sync.Once
}

func (c *changingStore) Put(ctx context.Context, d Digest, data []byte) error {
	c.once.Do(func() {
		f, err := os.OpenFile(c.file, os.O_APPEND|os.O_WRONLY, 0)
		if err == nil {
			_, _ = f.Write([]byte("more"))
			_ = f.Close()
		}
	})
	return c.MemStore.Put(ctx, d, data)
}

func TestPushRefuses(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "growing")
	writeFile(t, f, randomBytes(1, 4*ChunkSize), 0o644, time.Now().Add(-time.Hour))
	// Window 1: the second chunk is read after the first is put.
	_, _, err := Push(context.Background(), f, &changingStore{MemStore: &MemStore{}, file: f}, PushOptions{Window: 1})
	if err == nil || !strings.Contains(err.Error(), f+": changed while read") {
		t.Fatalf("changing file: %v", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Push(context.Background(), dir, &MemStore{}, PushOptions{}); err == nil || !strings.Contains(err.Error(), fifo+": not a regular file") {
		t.Fatalf("fifo: %v", err)
	}
	if _, _, err := Push(context.Background(), filepath.Join(dir, "missing"), &MemStore{}, PushOptions{}); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
	if _, _, err := Push(context.Background(), "/", &MemStore{}, PushOptions{}); err == nil {
		t.Fatal("pushed /")
	}
	if os.Geteuid() != 0 {
		if err := os.Remove(fifo); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f, 0); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Push(context.Background(), dir, &MemStore{}, PushOptions{}); err == nil || !strings.Contains(err.Error(), f) {
			t.Fatalf("unreadable: %v", err)
		}
	}
}

// failingStore fails every Put.
type failingStore struct{ MemStore }

func (f *failingStore) Put(context.Context, Digest, []byte) error { return errors.New("disk full") }

// countingStore counts the Puts in flight at once.
type countingStore struct {
	MemStore
	now, most atomic.Int64
}

func (c *countingStore) Put(ctx context.Context, d Digest, data []byte) error {
	n := c.now.Add(1)
	defer c.now.Add(-1)
	for {
		m := c.most.Load()
		if n <= m || c.most.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(time.Millisecond) // let others overlap
	return c.MemStore.Put(ctx, d, data)
}

func TestPushBigFile(t *testing.T) {
	f := sharedBig(t)
	const size = 64 << 20
	s := &countingStore{}
	var last atomic.Int64
	ref, st, err := Push(context.Background(), f, s, PushOptions{Window: 4, Progress: func(n int64) { last.Store(n) }})
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 1 || st.Bytes != size || st.Chunks != size/ChunkSize+1 || st.SentBytes != size+ref.Size || ref.Bytes != size {
		t.Fatalf("stats %+v ref %+v", st, ref)
	}
	if last.Load() != size {
		t.Fatalf("progress ended at %d", last.Load())
	}
	if m := s.most.Load(); m > 4 || m < 2 {
		t.Fatalf("%d puts in flight at most, want 2..4", m)
	}
	_, _, err = Push(context.Background(), f, &failingStore{}, PushOptions{})
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "push "+f+": put chunk") {
		t.Fatalf("failing store: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err = Push(ctx, f, &MemStore{}, PushOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestReadManifestRefuses(t *testing.T) {
	f := filepath.Join(t.TempDir(), "f")
	writeFile(t, f, []byte("x"), 0o644, time.Now())
	s, ref, _ := push(t, f, PushOptions{})
	ctx := context.Background()
	for name, c := range map[string]struct {
		change func(r *Ref)
		want   string
	}{
		"size":      {func(r *Ref) { r.Size++ }, "chunks hold"},
		"too big":   {func(r *Ref) { r.Size = MaxManifest + 1 }, "out of"},
		"chunks":    {func(r *Ref) { r.Chunks = append(r.Chunks, r.Chunks[0]) }, "2 chunks for"},
		"digest":    {func(r *Ref) { r.Digest[0] ^= 1 }, "refused"},
		"missing":   {func(r *Ref) { r.Chunks[0][0] ^= 1 }, "not found"},
		"no chunks": {func(r *Ref) { r.Chunks, r.Size = nil, 0 }, "out of"},
	} {
		r := ref
		r.Chunks = append([]Digest(nil), ref.Chunks...)
		c.change(&r)
		if _, err := ReadManifest(ctx, r, s); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}
