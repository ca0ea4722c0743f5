package ssh

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/sshdtest"
	"github.com/fleetsh/fleetsh/internal/sshtest"
	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// tree is a test tree: relative path → content ("" with a trailing "/"
// in the path for a directory) and mode.
type treeEntry struct {
	content string
	mode    fs.FileMode
}

var testTree = map[string]treeEntry{
	"a.txt":             {"hello\n", 0o644},
	"sub/":              {"", 0o755},
	"sub/run.sh":        {"#!/bin/sh\necho run\n", 0o755},
	"sub/deeper/":       {"", 0o750},
	"sub/deeper/c.bin":  {"\x00\x01\xff\r\nbinary", 0o600},
	"empty/":            {"", 0o700},
	"with space.txt":    {"spaces ok", 0o644},
	"sub/deeper/quote'": {"quote", 0o644},
}

var oldTime = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)

func makeTree(t *testing.T, root string) {
	t.Helper()
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for p, e := range testTree {
		full := filepath.Join(root, p)
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			dirs = append(dirs, p)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(e.content), e.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(full, e.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(full, oldTime, oldTime); err != nil {
			t.Fatal(err)
		}
	}
	// Directories last, deepest first: writing into them changes mtimes.
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, p := range append(dirs, "") {
		full := filepath.Join(root, p)
		mode := fs.FileMode(0o755)
		if p != "" {
			mode = testTree[p].mode
		}
		if err := os.Chmod(full, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(full, oldTime, oldTime); err != nil {
			t.Fatal(err)
		}
	}
}

// checkTree compares root with testTree; with preserve, modes and
// modification times too.
func checkTree(t *testing.T, root string, preserve bool) {
	t.Helper()
	got := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		if de.IsDir() {
			rel += "/"
		}
		got[rel] = true
		want, ok := testTree[rel]
		if !ok {
			t.Errorf("unexpected %s", rel)
			return nil
		}
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if !de.IsDir() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if string(b) != want.content {
				t.Errorf("%s holds %q, want %q", rel, b, want.content)
			}
		}
		wantMode := want.mode &^ 0o022
		if de.IsDir() && !preserve {
			wantMode |= 0o700
		}
		if preserve {
			wantMode = want.mode
		}
		if fi.Mode().Perm() != wantMode {
			t.Errorf("%s mode %v, want %v", rel, fi.Mode().Perm(), wantMode)
		}
		if preserve && !fi.ModTime().Equal(oldTime) {
			t.Errorf("%s mtime %v, want %v", rel, fi.ModTime(), oldTime)
		}
		if !preserve && fi.ModTime().Equal(oldTime) {
			t.Errorf("%s kept its mtime without Preserve", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range testTree {
		if !got[p] {
			t.Errorf("missing %s", p)
		}
	}
}

func copyJob(node, src, dst string, reverse, preserve bool) *jobRun {
	jr := newJob(node, "")
	jr.job.Command = ""
	jr.job.Copy = &protocol.CopySpec{Source: src, Dest: dst, Reverse: reverse, Preserve: preserve}
	return jr
}

// protocols are the ways to copy: SFTP, and the scp protocol when the
// server refuses SFTP (which needs an scp binary to run on the "node").
func protocols(t *testing.T) []string {
	if _, err := exec.LookPath("scp"); err != nil {
		if os.Getenv(sshdtest.RequireEnv) == "1" {
			t.Fatalf("no scp binary, and %s=1: the scp protocol must be tested", sshdtest.RequireEnv)
		}
		t.Log("no scp binary: the scp protocol is not tested")
		return []string{"sftp"}
	}
	return []string{"sftp", "scp"}
}

// copyNode starts a server for node1 whose copies use proto ("sftp" or
// "scp"), and a driver that reaches it.
func copyNode(t *testing.T, proto string) (*sshtest.Server, *Driver) {
	t.Helper()
	s, _, d := startNode1(t)
	s.SetSFTP(proto == "sftp")
	return s, d
}

// eachProtocol runs f as a subtest for each copy protocol, with the
// driver that reaches a node1 copying with it (copyNode).
func eachProtocol(t *testing.T, f func(t *testing.T, d *Driver)) {
	for _, proto := range protocols(t) {
		t.Run(proto, func(t *testing.T) {
			_, d := copyNode(t, proto)
			f(t, d)
		})
	}
}

func TestCopyTree(t *testing.T) {
	for _, proto := range protocols(t) {
		for _, preserve := range []bool{false, true} {
			name := proto
			if preserve {
				name += "/preserve"
			}
			t.Run(name, func(t *testing.T) {
				s, d := copyNode(t, proto)
				dir := t.TempDir()
				src := filepath.Join(dir, "src")
				makeTree(t, src)

				// Copy into an existing remote directory: it lands in
				// dst/src, as with scp -r.
				remote := filepath.Join(dir, "remote")
				if err := os.Mkdir(remote, 0o755); err != nil {
					t.Fatal(err)
				}
				jr := copyJob("node1", src, remote, false, preserve)
				wantCode(t, jr, jr.run(t, d), 0)
				checkTree(t, filepath.Join(remote, "src"), preserve)
				if jr.stderr.String() != "" {
					t.Fatalf("stderr %q", jr.stderr)
				}

				// Fetch it back to the path the engine computed.
				back := filepath.Join(dir, "back", "src.node1")
				if err := os.Mkdir(filepath.Dir(back), 0o755); err != nil {
					t.Fatal(err)
				}
				jr = copyJob("node1", filepath.Join(remote, "src"), back, true, preserve)
				wantCode(t, jr, jr.run(t, d), 0)
				checkTree(t, back, preserve)

				st := s.Stats()
				if proto == "sftp" && (st.SFTP != 2 || st.Execs != 0) {
					t.Fatalf("sftp: stats %+v", st)
				}
				if proto == "scp" && st.Execs != 2 {
					t.Fatalf("scp: stats %+v", st)
				}
			})
		}
	}
}

func TestCopyFile(t *testing.T) {
	eachProtocol(t, func(t *testing.T, d *Driver) {
		dir := t.TempDir()
		src := filepath.Join(dir, "file.sh")
		data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
		if err := os.WriteFile(src, data, 0o755); err != nil {
			t.Fatal(err)
		}
		// To a file name, then to a directory with a trailing slash.
		dst := filepath.Join(dir, "renamed")
		jr := copyJob("node1", src, dst, false, false)
		wantCode(t, jr, jr.run(t, d), 0)
		if b, _ := os.ReadFile(dst); !bytes.Equal(b, data) {
			t.Fatal("copied file differs")
		}
		if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o755 {
			t.Fatalf("mode %v: scripts must stay executable", fi.Mode().Perm())
		}
		into := filepath.Join(dir, "into") + "/"
		if err := os.Mkdir(into, 0o755); err != nil {
			t.Fatal(err)
		}
		jr = copyJob("node1", src, into, false, false)
		wantCode(t, jr, jr.run(t, d), 0)
		if b, _ := os.ReadFile(filepath.Join(into, "file.sh")); !bytes.Equal(b, data) {
			t.Fatal("file copied into a directory differs")
		}

		// Errors: a missing local source, a missing remote source.
		jr = copyJob("node1", filepath.Join(dir, "missing"), dst, false, false)
		res := jr.run(t, d)
		if res.ExitCode != 1 || res.Err != nil || !strings.Contains(jr.stderr.String(), "missing: No such file or directory") {
			t.Fatalf("missing source: %d %v stderr %q", res.ExitCode, res.Err, jr.stderr)
		}
		jr = copyJob("node1", filepath.Join(dir, "missing"), filepath.Join(dir, "x.node1"), true, false)
		res = jr.run(t, d)
		if res.ExitCode != 1 || res.Err != nil || !strings.Contains(jr.stderr.String(), "missing: No such file or directory") {
			t.Fatalf("missing remote source: %d %v stderr %q", res.ExitCode, res.Err, jr.stderr)
		}
	})
}

func TestCopyOptions(t *testing.T) {
	if _, err := exec.LookPath("scp"); err != nil {
		sshdtest.SkipUnlessRequired(t, "no scp binary")
	}
	s, _, d := startNode1(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "f")
	if err := os.WriteFile(src, []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(src, oldTime, oldTime); err != nil {
		t.Fatal(err)
	}
	// scp_options: -O forces the scp protocol even with SFTP on, -p
	// preserves; -P is scp's port flag.
	jr := copyJob("node1", src, filepath.Join(dir, "g"), false, false)
	jr.info["scp_options"] = "-O -p -P " + strings.TrimPrefix(s.Addr(), "127.0.0.1:")
	wantCode(t, jr, jr.run(t, d), 0)
	if st := s.Stats(); st.SFTP != 0 || st.Execs != 1 {
		t.Fatalf("stats %+v", st)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "g")); !fi.ModTime().Equal(oldTime) || fi.Mode().Perm() != 0o640 {
		t.Fatalf("-p: %v %v", fi.ModTime(), fi.Mode())
	}
	// scp's -l is a bandwidth limit, not a user: refused.
	jr = copyJob("node1", src, filepath.Join(dir, "h"), false, false)
	jr.info["scp_options"] = "-l 100"
	res := jr.run(t, d)
	if engine.ReasonOf(res.Err) != engine.ReasonLocal || !strings.Contains(res.Err.Error(), `scp_options: unsupported option "-l"`) {
		t.Fatalf("-l: %v", res.Err)
	}
	// -s: SFTP only, which the server refuses.
	s.SetSFTP(false)
	jr = copyJob("node1", src, filepath.Join(dir, "i"), false, false)
	jr.info["scp_options"] = "-s"
	res = jr.run(t, d)
	if res.ExitCode != 1 || !strings.Contains(jr.stderr.String(), "sftp subsystem unavailable") {
		t.Fatalf("-s: %d %v %q", res.ExitCode, res.Err, jr.stderr)
	}
}

func TestCopyConnectFailure(t *testing.T) {
	e := sshtest.NewEnv(t)
	if err := e.AddConfig("Host dead", "    HostName 127.0.0.1", "    Port "+strconv.Itoa(closedPort(t))); err != nil {
		t.Fatal(err)
	}
	d := testDriver(t, e)
	jr := copyJob("dead", "/etc/hostname", "/tmp/x", false, false)
	wantFailure(t, jr, jr.run(t, d), engine.ReasonConnectRefused)
}
