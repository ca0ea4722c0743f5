package sshtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sinkClient logs in to s as node (a sink keys its trees by login name)
// and opens SFTP with concurrent writes and reads, as the ssh worker
// does.
func sinkClient(t *testing.T, s *Server, e *Env, node string) *sftp.Client {
	t.Helper()
	sc, err := sftp.NewClient(sinkDial(t, s, e, node), sftp.UseConcurrentWrites(true), sftp.UseConcurrentReads(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sc.Close() })
	return sc
}

// sinkDial logs in to s as node.
func sinkDial(t *testing.T, s *Server, e *Env, node string) *ssh.Client {
	t.Helper()
	cb, err := knownhosts.New(e.KnownHostsPath)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", s.Addr(), &ssh.ClientConfig{User: node, Auth: []ssh.AuthMethod{ssh.PublicKeys(e.Key.Signer)},
		HostKeyCallback: cb, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// put writes data to p over c as the worker does: open without
// truncation, ReadFrom, Truncate at the size written, close.
func put(t *testing.T, c *sftp.Client, p string, data []byte) error {
	t.Helper()
	f, err := c.OpenFile(p, os.O_WRONLY|os.O_CREATE)
	if err != nil {
		return err
	}
	n, err := f.ReadFrom(bytes.NewReader(data))
	if err == nil {
		err = f.Truncate(n)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func TestSinkReceives(t *testing.T) {
	s, e := StartNodes(t, Config{Sink: &SinkConfig{Dirs: []string{"/data"}}}, "node1", "node2")
	data := make([]byte, 5<<20+123) // many concurrent 32 KiB writes
	for i := range data {
		data[i] = byte(i * 7 / 5)
	}
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, node := range []string{"node1", "node2"} {
		c := sinkClient(t, s, e, node)
		if err := c.Mkdir("/data/tree"); err != nil {
			t.Fatal(err)
		}
		payload := append([]byte(node), data...)
		if err := put(t, c, "/data/tree/big", payload); err != nil {
			t.Fatal(err)
		}
		if err := c.Chmod("/data/tree/big", 0o751); err != nil {
			t.Fatal(err)
		}
		if err := c.Chtimes("/data/tree/big", mtime, mtime); err != nil {
			t.Fatal(err)
		}
		if err := c.Symlink("big", "/data/tree/link"); err != nil {
			t.Fatal(err)
		}
		// Rewritten shorter: the sink hashes the new bytes only.
		if err := put(t, c, "/data/tree/small", []byte("first version, longer")); err != nil {
			t.Fatal(err)
		}
		if err := put(t, c, "/data/tree/small", []byte("second")); err != nil {
			t.Fatal(err)
		}
		fi, err := c.Stat("/data/tree/link")
		if err != nil || fi.Size() != int64(len(payload)) || fi.Mode().Perm() != 0o751 || !fi.ModTime().Equal(mtime) {
			t.Fatalf("stat through the link: %v %v", fi, err)
		}
		if _, err := c.Open("/data/tree/big"); err == nil {
			t.Fatal("a received file can be read back: the sink keeps no content")
		}
		got := s.Received(node)
		want := map[string]ReceivedFile{
			"/data/tree":       {Mode: fs.ModeDir | 0o755},
			"/data/tree/big":   {Mode: 0o751, Size: int64(len(payload)), SHA256: sum(payload), ModTime: mtime, AccessTime: mtime},
			"/data/tree/link":  {Mode: fs.ModeSymlink | 0o777, Target: "big"},
			"/data/tree/small": {Mode: 0o644, Size: 6, SHA256: sum([]byte("second"))},
		}
		if len(got) != len(want) {
			t.Fatalf("%s received %v", node, got)
		}
		for p, w := range want {
			g := got[p]
			if g.Mode != w.Mode || g.Size != w.Size || g.SHA256 != w.SHA256 || g.Target != w.Target || g.Err != "" ||
				(!w.ModTime.IsZero() && (!g.ModTime.Equal(w.ModTime) || !g.AccessTime.Equal(w.AccessTime))) {
				t.Errorf("%s %s: %+v, want %+v", node, p, g, w)
			}
		}
	}
	if n := s.ReceivedNodes(); strings.Join(n, ",") != "node1,node2" {
		t.Fatalf("nodes %v", n)
	}
	if st := s.Stats(); st.SFTP != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestSinkReorder writes out of order, as the request server's workers
// may, and past the window.
func TestSinkReorder(t *testing.T) {
	n := &sinkNode{name: "n", entries: map[string]*sinkEntry{}, limit: -1}
	e := &sinkEntry{kind: kindFile}
	w := newSinkStream(n, e)
	e.w = w
	data := []byte("abcdefghijkl")
	for _, off := range []int{8, 4, 0} {
		if _, err := w.WriteAt(data[off:off+4], int64(off)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(e.sum[:]) != sum(data) || e.size != 12 || e.err != "" {
		t.Fatalf("entry %+v", e)
	}

	// A gap never filled, a write behind, a window overflow.
	e = &sinkEntry{kind: kindFile}
	w = newSinkStream(n, e)
	e.w = w
	_, _ = w.WriteAt([]byte("x"), 5)
	_ = w.Close()
	if !strings.Contains(e.err, "gap at offset 0") {
		t.Fatalf("gap: %q", e.err)
	}
	w = newSinkStream(n, e)
	e.w = w
	_, _ = w.WriteAt([]byte("xy"), 0)
	if _, err := w.WriteAt([]byte("y"), 1); !errors.Is(err, sftp.ErrSSHFxOpUnsupported) {
		t.Fatalf("write behind: %v", err)
	}
	w = newSinkStream(n, e)
	if _, err := w.WriteAt(make([]byte, maxReorder+1), 1); err == nil {
		t.Fatal("a write past the reorder window was kept")
	}
}

func TestSinkServes(t *testing.T) {
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "sub", "f"), []byte("shared"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, e := StartNodes(t, Config{Sink: &SinkConfig{
		Serve:     map[string]string{"/srv/src": src},
		Generated: map[string]int64{"/var/log/node.log": 100_000},
	}}, "node1", "node2")
	for _, node := range []string{"node1", "node2"} {
		c := sinkClient(t, s, e, node)
		f, err := c.Open("/var/log/node.log")
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if _, err := f.WriteTo(&got); err != nil {
			t.Fatal(err)
		}
		f.Close()
		want, _ := io.ReadAll(io.NewSectionReader(GeneratedContent(node, "/var/log/node.log", 100_000), 0, 1<<20))
		if len(want) != 100_000 || !bytes.Equal(got.Bytes(), want) || !strings.HasPrefix(got.String(), node+" /var/log/node.log\n") ||
			sum(want) != GeneratedSHA256(node, "/var/log/node.log", 100_000) {
			t.Fatalf("%s: generated %d bytes %q...", node, got.Len(), got.String()[:40])
		}
		b, err := readAll(c, "/srv/src/sub/f")
		if err != nil || string(b) != "shared" {
			t.Fatalf("served: %q %v", b, err)
		}
		des, err := c.ReadDir("/srv")
		if err != nil || len(des) != 1 || des[0].Name() != "src" || !des[0].IsDir() {
			t.Fatalf("ReadDir /srv: %v %v", des, err)
		}
		des, err = c.ReadDir("/srv/src/sub")
		if err != nil || len(des) != 1 || des[0].Name() != "f" {
			t.Fatalf("ReadDir served: %v %v", des, err)
		}
		// Read only, and not part of what the node received.
		if err := put(t, c, "/srv/src/new", []byte("x")); !strings.Contains(errText(err), "read-only file system") {
			t.Fatalf("write into a served tree: %v", err)
		}
		if len(s.Received(node)) != 0 {
			t.Fatalf("received %v", s.Received(node))
		}
	}
}

func readAll(c *sftp.Client, p string) ([]byte, error) {
	f, err := c.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestSinkFailures(t *testing.T) {
	s, e := StartNodes(t, Config{Sink: &SinkConfig{Dirs: []string{"/data"},
		Full: map[string]int64{"full": 100_000}, ReadOnly: map[string]bool{"ro": true}}}, "full", "ro", "ok")
	data := make([]byte, 300_000)
	c := sinkClient(t, s, e, "full")
	if err := put(t, c, "/data/small", data[:50_000]); err != nil {
		t.Fatal(err)
	}
	err := put(t, c, "/data/big", data)
	var se *sftp.StatusError
	if !errors.As(err, &se) || se.FxCode() != sftp.ErrSSHFxFailure || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("full disk: %v", err)
	}
	if r := s.Received("full")["/data/big"]; !strings.Contains(r.Err, "no space left on device") {
		t.Fatalf("full disk: received %+v", r)
	}
	s.SetDiskFull("full", -1)
	if err := put(t, c, "/data/big", data); err != nil {
		t.Fatalf("after SetDiskFull(-1): %v", err)
	}
	if r := s.Received("full")["/data/big"]; r.SHA256 != sum(data) || r.Err != "" {
		t.Fatalf("after SetDiskFull(-1): %+v", r)
	}

	c = sinkClient(t, s, e, "ro")
	for what, err := range map[string]error{
		"open": put(t, c, "/data/f", []byte("x")), "mkdir": c.Mkdir("/data/d"), "chmod": c.Chmod("/data", 0o700),
		"symlink": c.Symlink("x", "/data/l"),
	} {
		if !errors.As(err, &se) || !strings.Contains(err.Error(), "read-only file system") {
			t.Errorf("%s on a read-only node: %v", what, err)
		}
	}
	s.SetReadOnly("ro", false)
	if err := c.Mkdir("/data/d"); err != nil {
		t.Fatalf("after SetReadOnly(false): %v", err)
	}
	if err := put(t, sinkClient(t, s, e, "ok"), "/data/f", data); err != nil {
		t.Fatal(err)
	}
	// Missing parents and wrong kinds answer as a file system does.
	c = sinkClient(t, s, e, "ok")
	if err := put(t, c, "/nowhere/f", nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing parent: %v", err)
	}
	if err := put(t, c, "/data/f/g", nil); err == nil {
		t.Error("a file under a file")
	}
	if err := c.Mkdir("/data"); err == nil {
		t.Error("mkdir of an existing directory")
	}
}

// TestSinkInterrupted: a client gone with a file open leaves it marked,
// not passing for a whole file of a smaller size.
func TestSinkInterrupted(t *testing.T) {
	s, e := StartNodes(t, Config{Sink: &SinkConfig{Dirs: []string{"/data"}}}, "node1")
	c := sinkDial(t, s, e, "node1")
	sc, err := sftp.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	f, err := sc.OpenFile("/data/part", os.O_WRONLY|os.O_CREATE)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, 100_000)); err != nil {
		t.Fatal(err)
	}
	c.Close() // the file stays open
	waitFor(t, func() bool {
		return strings.Contains(s.Received("node1")["/data/part"].Err, "connection lost with the file open")
	})
	if r := s.Received("node1")["/data/part"]; r.Size != 100_000 {
		t.Fatalf("interrupted: %+v", r)
	}
}

// TestSinkRefusesSCP: the scp fallback would write to the real disk.
func TestSinkRefusesSCP(t *testing.T) {
	s, e := StartNodes(t, Config{Sink: &SinkConfig{}}, "node1")
	sess, err := dial(t, s, e).NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	sess.Stdout = &stdout
	err = sess.Run("scp -t /tmp")
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != 1 || !strings.Contains(stdout.String(), "SFTP only") {
		t.Fatalf("scp -t: %v %q", err, stdout.String())
	}
	for cmd, want := range map[string]bool{"scp -t /x": true, "/usr/bin/scp -r -f a": true, "scp -qt .": true,
		"scp a b": false, "echo scp -t": false, "": false} {
		if isSCP(cmd) != want {
			t.Errorf("isSCP(%q) = %v", cmd, !want)
		}
	}
}

func TestSinkEnvUsers(t *testing.T) {
	_, e := StartNodes(t, Config{Sink: &SinkConfig{}}, "node1", "gw*")
	b, err := os.ReadFile(e.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "Host node1\n    HostName 127.0.0.1\n") || !strings.Contains(string(b), "    User node1\n") ||
		strings.Contains(string(b), "User gw*") {
		t.Fatalf("config:\n%s", b)
	}
}

// FuzzSinkStream writes data in chunks of the fuzzer's sizes, in the
// fuzzer's order: whatever the order, the stream either hashes exactly
// the bytes in offset order or says why it cannot, and never holds more
// than its window.
func FuzzSinkStream(f *testing.F) {
	f.Add([]byte("abcdefghijkl"), []byte{4, 4, 4}, []byte{2, 1, 0})
	f.Add([]byte("xyz"), []byte{1, 1, 1}, []byte{0, 0, 0})
	f.Fuzz(func(t *testing.T, data, sizes, order []byte) {
		type chunk struct{ off, end int }
		var chunks []chunk
		for i, off := 0, 0; off < len(data); i++ {
			size := 1
			if i < len(sizes) && sizes[i] > 0 {
				size = int(sizes[i])
			}
			end := min(off+size, len(data))
			chunks = append(chunks, chunk{off, end})
			off = end
		}
		// Reorder: each order byte swaps a chunk with a later one.
		for i := range chunks {
			if i < len(order) {
				j := i + int(order[i])%(len(chunks)-i)
				chunks[i], chunks[j] = chunks[j], chunks[i]
			}
		}
		n := &sinkNode{name: "n", entries: map[string]*sinkEntry{}, limit: -1}
		e := &sinkEntry{kind: kindFile}
		w := newSinkStream(n, e)
		e.w = w
		failed := false
		for _, c := range chunks {
			if _, err := w.WriteAt(data[c.off:c.end], int64(c.off)); err != nil {
				failed = true
			}
			if w.held > maxReorder {
				t.Fatalf("holds %d bytes", w.held)
			}
		}
		_ = w.Close()
		switch {
		case failed && e.err == "":
			t.Fatal("a refused write left no reason")
		case !failed && (e.err != "" || e.size != int64(len(data)) || hex.EncodeToString(e.sum[:]) != sum(data)):
			t.Fatalf("entry %+v for %d bytes", e, len(data))
		}
	})
}
