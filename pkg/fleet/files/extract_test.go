package files

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func extract(t testing.TB, ref Ref, from ChunkStore, dest string, opts ExtractOptions) ExtractStats {
	t.Helper()
	st, err := Extract(context.Background(), ref, from, dest, opts)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestExtractTree(t *testing.T) {
	dir := t.TempDir()
	src := sharedTree(t)
	s, ref, _ := push(t, src, PushOptions{Symlinks: true})
	if err := os.Mkdir(filepath.Join(dir, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(dir, "out", "tree.node3")
	st := extract(t, ref, s, dest, ExtractOptions{Preserve: true})
	if st.Files != 2000 || st.Links != 4 || st.Bytes != ref.Bytes {
		t.Fatalf("stats %+v, ref %d bytes", st, ref.Bytes)
	}
	compareTrees(t, src, dest, true, true, false)

	// Without Preserve: scp's modes, under the umask.
	old := syscall.Umask(0o027)
	defer syscall.Umask(old)
	plain := filepath.Join(dir, "out", "plain")
	extract(t, ref, s, plain, ExtractOptions{})
	compareTrees(t, src, plain, false, false, false)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		wi, err := d.Info()
		if err != nil {
			return err
		}
		want := wi.Mode().Perm() &^ 0o027
		if d.IsDir() {
			want = (wi.Mode().Perm() | 0o700) &^ 0o027
		}
		gi, err := os.Lstat(filepath.Join(plain, strings.TrimPrefix(p, src)))
		if err == nil && gi.Mode()&modeMask != want {
			err = errors.New("mode " + gi.Mode().String() + ", want " + want.String())
		}
		if err != nil {
			return errors.New(p + ": " + err.Error())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestExtractExisting: as scp's sink, without Preserve a file that
// exists keeps its mode and gets the new bytes, a directory that exists
// is written into; a link where a file goes is replaced.
func TestExtractExisting(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, src, []byte("new content"), 0o755, time.Now())
	s, ref, _ := push(t, src, PushOptions{})
	dest := filepath.Join(dir, "dest")
	writeFile(t, dest, []byte("old, longer content"), 0o600, time.Now())
	extract(t, ref, s, dest, ExtractOptions{})
	if b, err := os.ReadFile(dest); err != nil || string(b) != "new content" {
		t.Fatalf("%q %v", b, err)
	}
	if fi, _ := os.Stat(dest); fi.Mode() != 0o600 {
		t.Fatalf("mode %v, want the old one", fi.Mode())
	}
	victim := filepath.Join(dir, "victim")
	writeFile(t, victim, []byte("victim"), 0o600, time.Now())
	link := filepath.Join(dir, "link")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	extract(t, ref, s, link, ExtractOptions{})
	if b, _ := os.ReadFile(victim); string(b) != "victim" {
		t.Fatalf("wrote through a link: %q", b)
	}
	// A directory root into an existing directory.
	tree := makeTree(t, filepath.Join(dir, "t"), 30, false)
	s, ref, _ = push(t, tree, PushOptions{})
	into := filepath.Join(dir, "into")
	if err := os.MkdirAll(filepath.Join(into, "d00"), 0o711); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(into, "kept"), nil, 0o600, time.Now())
	extract(t, ref, s, into, ExtractOptions{})
	if fi, err := os.Stat(filepath.Join(into, "d00")); err != nil || fi.Mode().Perm() != 0o711 {
		t.Fatalf("existing directory: %v %v", fi.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(into, "kept")); err != nil {
		t.Fatal(err)
	}
	// A file where a directory goes fails naming it.
	_, err := Extract(context.Background(), ref, s, dest, ExtractOptions{})
	if err == nil || !strings.Contains(err.Error(), dest) {
		t.Fatalf("file in the way: %v", err)
	}
}

func TestExtractBigFile(t *testing.T) {
	dir := t.TempDir()
	src := sharedBig(t)
	s := &countingStore{}
	ref, _, err := Push(context.Background(), src, s, PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(dir, "big.bin.node3")
	st := extract(t, ref, s, dest, ExtractOptions{Preserve: true, Window: 4})
	if st.Files != 1 || st.Bytes != 64<<20 || st.Chunks != 256 {
		t.Fatalf("stats %+v", st)
	}
	compareTrees(t, src, dest, true, true, false)
}

func TestExtractRefusesBadBytes(t *testing.T) {
	dir := t.TempDir()
	src := makeTree(t, dir, 40, false)
	s, ref, bad, badPath := pushTreeFirstChunk(t, src)
	out := filepath.Join(dir, "out")
	_, err := Extract(context.Background(), ref, &badStore{MemStore: s, bad: bad}, out, ExtractOptions{})
	var me *MismatchError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), bad.String()) || !strings.Contains(err.Error(), filepath.Base(badPath)) {
		t.Fatalf("bad store: %v", err)
	}
	// Neither the file nor its temporary name is left.
	err = filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err == nil && (strings.HasSuffix(p, ".part") || p == filepath.Join(out, filepath.FromSlash(strings.TrimPrefix(badPath, "tree/")))) {
			err = errors.New("left " + p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// A missing chunk fails too, naming it.
	s.Delete(bad)
	if _, err = Extract(context.Background(), ref, s, filepath.Join(dir, "out2"), ExtractOptions{}); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), bad.String()) {
		t.Fatalf("missing chunk: %v", err)
	}
}

// cancelAt cancels an extract's context at its n-th Get.
type cancelAt struct {
	*MemStore
	n      atomic.Int64
	cancel context.CancelFunc
}

func (c *cancelAt) Get(ctx context.Context, d Digest, buf []byte) ([]byte, error) {
	if c.n.Add(-1) == 0 {
		c.cancel()
	}
	return c.MemStore.Get(ctx, d, buf)
}

func TestExtractCancelled(t *testing.T) {
	dir := t.TempDir()
	src := makeTree(t, dir, 300, false)
	s, ref, _ := push(t, src, PushOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := &cancelAt{MemStore: s, cancel: cancel}
	cs.n.Store(100)
	out := filepath.Join(dir, "out")
	if _, err := Extract(ctx, ref, cs, out, ExtractOptions{Window: 3}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled extract: %v", err)
	}
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".part") {
			err = errors.New("left " + p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
