package ssh

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/sshtest"
)

// windowTree writes a tree of small files in three directories (one of
// them nested), empty files, modes 0600, 0644 and 0750, a file of 300
// KiB (five places of the window) and one of 2 MiB (the whole window),
// all with oldTime, and returns its root.
func windowTree(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "tree")
	for i := range 60 {
		dir := []string{"a", "b", filepath.Join("b", "c")}[i%3]
		p := filepath.Join(root, dir, fmt.Sprintf("f%02d", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := []os.FileMode{0o644, 0o600, 0o750}[i%3]
		if err := os.WriteFile(p, bytes.Repeat([]byte{byte(i)}, i*10), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	for name, size := range map[string]int{"mid": 300 << 10, "big": 2 << 20} {
		if err := os.WriteFile(filepath.Join(root, "a", name), bytes.Repeat([]byte(name), size/len(name)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Times last, the directories' after their files.
	err := filepath.WalkDir(root, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, oldTime, oldTime)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Join(root, "b", "c"), filepath.Join(root, "a"), filepath.Join(root, "b"), root} {
		if err := os.Chtimes(d, oldTime, oldTime); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// received is what node got, without the access times (reading the
// source for the first node changes those of the second) and, when they
// are the sink's own (no Preserve), the modification times.
func received(srv *sshtest.Server, node string, preserve bool) map[string]sshtest.ReceivedFile {
	got := srv.Received(node)
	for p, f := range got {
		f.AccessTime = oldTime
		if !preserve {
			f.ModTime = oldTime
		}
		got[p] = f
	}
	return got
}

// TestCopyWindowLandsTheSame copies a tree one file after the other
// (CopyFilesInFlight 1) to node1 and through the default window to
// node2, with and without Preserve, then again over what landed after a
// file got shorter (the cut of an old longer file): both nodes end with
// the same files, modes, sizes, checksums and (with Preserve) times,
// directories included.
func TestCopyWindowLandsTheSame(t *testing.T) {
	for _, preserve := range []bool{false, true} {
		t.Run(fmt.Sprintf("preserve=%v", preserve), func(t *testing.T) {
			srv, env := sshtest.StartNodes(t, sshtest.Config{Sink: &sshtest.SinkConfig{Dirs: []string{"/data"}}}, "node1", "node2")
			serial, windowed := testDriver(t, env), testDriver(t, env)
			serial.CopyFilesInFlight = 1
			src := windowTree(t)
			push := func() {
				t.Helper()
				for node, d := range map[string]*Driver{"node1": serial, "node2": windowed} {
					jr := copyJob(node, src, "/data", false, preserve)
					wantCode(t, jr, jr.run(t, d), 0)
				}
				one, two := received(srv, "node1", preserve), received(srv, "node2", preserve)
				if len(one) != 66 || len(two) != len(one) {
					t.Fatalf("one at a time: %d entries, window: %d, want 66", len(one), len(two))
				}
				for p, f := range one {
					if f != two[p] {
						t.Errorf("%s: one at a time %+v, window %+v", p, f, two[p])
					}
				}
			}
			push()
			if d := srv.Received("node2")["/data/tree"]; preserve && (!d.ModTime.Equal(oldTime) || d.Mode != os.ModeDir|0o755) {
				t.Errorf("tree directory %+v, want mode 0755 and times preserved", d)
			}
			short := filepath.Join(src, "b", "c", "f59")
			if err := os.WriteFile(short, []byte("short"), 0o750); err != nil {
				t.Fatal(err)
			}
			push()
			if f := srv.Received("node2")["/data/tree/b/c/f59"]; f.Size != 5 || f.SHA256 != hexSum([]byte("short")) {
				t.Errorf("shortened file landed as %+v", f)
			}
		})
	}
}

// TestCopyWindowErrorOrder fills a node's disk in the middle of a tree
// copied through the window: which files fail depends on the order the
// writes land, but the error lines come in the order of the walk (the
// sorted paths here), one per file that did not land, and the exit code
// is 1.
func TestCopyWindowErrorOrder(t *testing.T) {
	srv, env := sshtest.StartNodes(t, sshtest.Config{Sink: &sshtest.SinkConfig{
		Dirs: []string{"/data"},
		Full: map[string]int64{"full1": 5000},
	}}, "full1")
	src := windowTree(t)
	jr := copyJob("full1", src, "/data", false, false)
	wantCode(t, jr, jr.run(t, testDriver(t, env)), 1)
	var paths []string
	for _, l := range strings.Split(strings.TrimSpace(jr.stderr.String()), "\n") {
		p, ok := strings.CutSuffix(strings.TrimPrefix(l, "scp: "), `: sftp: "no space left on device" (SSH_FX_FAILURE)`)
		if !ok || !strings.HasPrefix(l, "scp: /data/tree/") {
			t.Fatalf("unexpected line %q in\n%s", l, jr.stderr)
		}
		paths = append(paths, p)
	}
	if !slices.IsSorted(paths) || len(paths) < 10 {
		t.Errorf("error lines not in walk order, or too few:\n%s", jr.stderr)
	}
	landed := 0
	for p, f := range srv.Received("full1") {
		if f.Mode.IsRegular() && f.Err == "" && !slices.Contains(paths, p) {
			landed++
		}
	}
	if landed+len(paths) != 62 {
		t.Errorf("%d files landed and %d failed, want 62 in all\n%s", landed, len(paths), jr.stderr)
	}
}

// TestCopyWindowFetchesTheSame fetches a tree a sink node serves
// (Task.Rcopy's way: a reverse copy) one file after the other and
// through the default window, with and without Preserve: both local
// copies have the same files, modes, contents and (with Preserve)
// modification times, directories included.
func TestCopyWindowFetchesTheSame(t *testing.T) {
	src := windowTree(t)
	_, env := sshtest.StartNodes(t, sshtest.Config{Sink: &sshtest.SinkConfig{
		Serve: map[string]string{"/srv/tree": src},
	}}, "node1")
	for _, preserve := range []bool{false, true} {
		t.Run(fmt.Sprintf("preserve=%v", preserve), func(t *testing.T) {
			serial, windowed := testDriver(t, env), testDriver(t, env)
			serial.CopyFilesInFlight = 1
			var trees []map[string]string
			for _, d := range []*Driver{serial, windowed} {
				dst := t.TempDir()
				jr := copyJob("node1", "/srv/tree", dst, true, preserve)
				wantCode(t, jr, jr.run(t, d), 0)
				trees = append(trees, localTree(t, filepath.Join(dst, "tree"), preserve))
			}
			if len(trees[0]) != 66 || len(trees[1]) != 66 {
				t.Fatalf("fetched %d and %d entries, want 66", len(trees[0]), len(trees[1]))
			}
			for p, e := range trees[0] {
				if trees[1][p] != e {
					t.Errorf("%s: one at a time %s, window %s", p, e, trees[1][p])
				}
			}
		})
	}
}

// localTree describes every entry under root: mode, checksum and, with
// times, modification time.
func localTree(t *testing.T, root string, times bool) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		desc := fi.Mode().String()
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += " " + hexSum(b)
		}
		if times {
			desc += " " + fi.ModTime().UTC().String()
		}
		out[strings.TrimPrefix(p, root)] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
