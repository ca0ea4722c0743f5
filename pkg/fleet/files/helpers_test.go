package files

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeFile writes data to p with mode and mtime, failing t.
func writeFile(t testing.TB, p string, data []byte, mode fs.FileMode, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime.Add(-time.Hour), mtime); err != nil {
		t.Fatal(err)
	}
}

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// makeTree builds under parent a directory "tree" of n small files in
// nested directories, with varied modes and times, empty files, empty
// directories, and (when links) symbolic links: relative ones to a file
// and a directory of the tree, an absolute one and a dangling one. It
// returns the tree's path.
func makeTree(t testing.TB, parent string, n int, links bool) string {
	t.Helper()
	root := filepath.Join(parent, "tree")
	base := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	modes := []fs.FileMode{0o644, 0o755, 0o600, 0o444, 0o700 | fs.ModeSetgid, 0o640}
	for i := range n {
		dir := filepath.Join(root, fmt.Sprintf("d%02d", i%37), fmt.Sprintf("s%d", i%5))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		var data []byte
		if i%11 != 0 { // every 11th file is empty
			data = randomBytes(uint64(i), 1+i*7%3000)
		}
		writeFile(t, filepath.Join(dir, fmt.Sprintf("f%04d", i)), data, modes[i%len(modes)],
			base.Add(time.Duration(i)*time.Second+time.Duration(i%1000)*time.Microsecond))
	}
	for _, d := range []string{"empty", "d03/emptysub/deeper"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	if links {
		for name, target := range map[string]string{
			"link-file": "d01/s1/f0001", "link-dir": "d02", "d04/abs": "/etc/hostname", "dangling": "nowhere",
		} {
			if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Directory modes and times last: writing in them changes their time.
	if err := os.Chmod(filepath.Join(root, "d05"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, "d06"), 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(filepath.Join(root, "d06"), 0o755) })
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			err = os.Chtimes(p, base, base.Add(-time.Duration(len(p))*time.Minute))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// compareTrees checks that got is a copy of want: same entries, types,
// contents and link targets; modes when modes; modification times of
// files, directories (and links) when times. follow compares want's
// symbolic links as what they point to.
func compareTrees(t testing.TB, want, got string, modes, times, follow bool) {
	t.Helper()
	stat := os.Lstat
	if follow {
		stat = os.Stat
	}
	count := 0
	var walk func(w, g string)
	walk = func(w, g string) {
		count++
		wi, err := stat(w)
		if err != nil {
			t.Fatal(err)
		}
		gi, err := os.Lstat(g)
		if err != nil {
			t.Fatalf("%s: %v", w, err)
		}
		if wi.Mode().Type() != gi.Mode().Type() {
			t.Fatalf("%s: type %v, copy %v", w, wi.Mode().Type(), gi.Mode().Type())
		}
		if modes && wi.Mode()&fs.ModeSymlink == 0 && wi.Mode()&modeMask != gi.Mode()&modeMask {
			t.Fatalf("%s: mode %v, copy %v", w, wi.Mode(), gi.Mode())
		}
		if times && !wi.ModTime().Equal(gi.ModTime()) && (wi.Mode()&fs.ModeSymlink == 0 || runtime.GOOS == "linux") {
			t.Fatalf("%s: mtime %v, copy %v", w, wi.ModTime(), gi.ModTime())
		}
		switch {
		case wi.Mode()&fs.ModeSymlink != 0:
			wt, _ := os.Readlink(w)
			gt, _ := os.Readlink(g)
			if wt != gt {
				t.Fatalf("%s: target %q, copy %q", w, wt, gt)
			}
		case wi.IsDir():
			wn, err := readNames(w)
			if err != nil {
				t.Fatal(err)
			}
			gn, err := readNames(g)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(wn, "/") != strings.Join(gn, "/") {
				t.Fatalf("%s: entries %q, copy %q", w, wn, gn)
			}
			for _, n := range wn {
				walk(filepath.Join(w, n), filepath.Join(g, n))
			}
		default:
			wb, err := os.ReadFile(w)
			if err != nil {
				t.Fatal(err)
			}
			gb, err := os.ReadFile(g)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(wb, gb) {
				t.Fatalf("%s: %d bytes, copy %d bytes differ", w, len(wb), len(gb))
			}
		}
	}
	walk(want, got)
	if count < 2 && wantDir(want) {
		t.Fatalf("%s: nothing compared", want)
	}
}

func wantDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// noDangling removes the tree's dangling link, which a push following
// links refuses.
func noDangling(t testing.TB, root string) {
	t.Helper()
	if err := os.Remove(filepath.Join(root, "dangling")); err != nil {
		t.Fatal(err)
	}
}

// push pushes src to a new MemStore, failing t.
func push(t testing.TB, src string, opts PushOptions) (*MemStore, Ref, PushStats) {
	t.Helper()
	s := &MemStore{}
	ref, st, err := Push(context.Background(), src, s, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, ref, st
}

// badStore returns other bytes than it holds for the chunk bad.
type badStore struct {
	*MemStore
	bad Digest
}

func (b *badStore) Get(ctx context.Context, d Digest, buf []byte) ([]byte, error) {
	data, err := b.MemStore.Get(ctx, d, buf)
	if err == nil && d == b.bad {
		data[0] ^= 1
	}
	return data, err
}

// shared holds the large sources several tests read (never change):
// built once per test process, removed by TestMain.
var shared struct {
	dir      string
	treeOnce sync.Once
	tree     string
	bigOnce  sync.Once
	big      string
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fleetsh-files-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared.dir = dir
	code := m.Run()
	_ = removeTree(dir)
	os.Exit(code)
}

// sharedTree is a tree of 2 000 files with links (makeTree), built once.
func sharedTree(t testing.TB) string {
	shared.treeOnce.Do(func() { shared.tree = makeTree(t, shared.dir, 2000, true) })
	if shared.tree == "" {
		t.Fatal("no shared tree")
	}
	return shared.tree
}

// sharedBig is a 64 MiB file of random bytes, written once.
func sharedBig(t testing.TB) string {
	shared.bigOnce.Do(func() {
		p := filepath.Join(shared.dir, "big.bin")
		writeFile(t, p, randomBytes(7, 64<<20), 0o640, time.Now().Add(-time.Hour))
		shared.big = p
	})
	if shared.big == "" {
		t.Fatal("no shared file")
	}
	return shared.big
}

// pushTreeFirstChunk pushes src to a new MemStore and returns the first
// chunk of its first file that has one, and that file's path.
func pushTreeFirstChunk(t testing.TB, src string) (*MemStore, Ref, Digest, string) {
	t.Helper()
	s, ref, _ := push(t, src, PushOptions{})
	m, err := ReadManifest(context.Background(), ref, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range m.Entries {
		if len(e.Chunks) > 0 {
			return s, ref, e.Chunks[0], e.Path
		}
	}
	t.Fatal("no chunk")
	return nil, Ref{}, Digest{}, ""
}
