package ssh

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/sshtest"
	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

func hexSum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// runCopy runs a copy (or with reverse, an rcopy) of src to dst on nodes
// through the engine and this driver.
func runCopy(t *testing.T, d *Driver, nodes, src, dst string, reverse bool) (*engine.Task, *engine.Worker) {
	t.Helper()
	task := engine.New()
	opts := engine.Options{Nodes: nodeset.MustParse(nodes), Driver: d}
	var w *engine.Worker
	var err error
	if reverse {
		w, err = task.Rcopy(src, dst, false, opts)
	} else {
		w, err = task.Copy(src, dst, true, opts)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Resume(time.Minute); err != nil {
		t.Fatal(err)
	}
	return task, w
}

// TestCopyToSinkNodes copies with Task.Copy to sink nodes (internal/sshtest
// keeps what each node receives as checksums): three healthy nodes get
// the bytes, a full node and a read-only node end with exit code 1 and
// scp's error line; then Task.Rcopy fetches a file whose content differs
// per node.
func TestCopyToSinkNodes(t *testing.T) {
	srv, env := sshtest.StartNodes(t, sshtest.Config{Sink: &sshtest.SinkConfig{
		Dirs:      []string{"/data"},
		Generated: map[string]int64{"/var/log/app.log": 1 << 20},
		Full:      map[string]int64{"full1": 1 << 20},
		ReadOnly:  map[string]bool{"ro1": true},
	}}, "node1", "node2", "node3", "full1", "ro1")
	d := testDriver(t, env)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	big := bytes.Repeat([]byte("fleetsh sink "), 300_000) // 3.9 MB: many concurrent writes
	if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "big"), big, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "sub", "small"), []byte("small\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(src, "big"), oldTime, oldTime); err != nil {
		t.Fatal(err)
	}

	task, w := runCopy(t, d, "node[1-3],full1,ro1", src, "/data", false)
	for _, n := range []string{"node1", "node2", "node3"} {
		if rc, ok := task.NodeRetcode(n); !ok || rc != 0 {
			t.Fatalf("%s: exit %d %v: %s", n, rc, ok, w.NodeError(n))
		}
		got := srv.Received(n)
		b, s := got["/data/src/big"], got["/data/src/sub/small"]
		if b.SHA256 != hexSum(big) || b.Size != int64(len(big)) || b.Mode != 0o640 || !b.ModTime.Equal(oldTime) || b.Err != "" {
			t.Errorf("%s: big %+v", n, b)
		}
		if s.SHA256 != hexSum([]byte("small\n")) || s.Mode != 0o600 {
			t.Errorf("%s: small %+v", n, s)
		}
		if !got["/data/src/sub"].Mode.IsDir() || len(got) != 4 {
			t.Errorf("%s received %v", n, got)
		}
	}
	for n, want := range map[string]string{
		"full1": `scp: /data/src/big: sftp: "no space left on device" (SSH_FX_FAILURE)`,
		"ro1":   `scp: /data/src: sftp: "read-only file system" (SSH_FX_FAILURE)`,
	} {
		if rc, ok := task.NodeRetcode(n); !ok || rc != 1 {
			t.Errorf("%s: exit %d %v, want 1", n, rc, ok)
		}
		if msg := string(w.NodeBuffer(n)) + string(w.NodeError(n)); !strings.Contains(msg, want) {
			t.Errorf("%s: stderr %q, want %q", n, msg, want)
		}
	}

	// Fetched back: every node's own content, and the read-only node
	// serves too.
	back := t.TempDir()
	task, w = runCopy(t, d, "node[1-2],ro1", "/var/log/app.log", back, true)
	for _, n := range []string{"node1", "node2", "ro1"} {
		if rc, ok := task.NodeRetcode(n); !ok || rc != 0 {
			t.Fatalf("rcopy %s: exit %d %v: %s", n, rc, ok, w.NodeError(n))
		}
		got, err := os.ReadFile(filepath.Join(back, "app.log."+n))
		want, _ := io.ReadAll(io.NewSectionReader(sshtest.GeneratedContent(n, "/var/log/app.log", 1<<20), 0, 1<<21))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("rcopy %s: %d bytes, %v", n, len(got), err)
		}
	}
}

// TestCopySCPToSinkRefused: a sink serves SFTP only; a copy forced to
// the scp protocol fails on the node instead of writing to the real
// disk (the scp fallback itself is tested against disk nodes by
// TestCopyTree and TestCopyFile).
func TestCopySCPToSinkRefused(t *testing.T) {
	_, env := sshtest.StartNodes(t, sshtest.Config{Sink: &sshtest.SinkConfig{Dirs: []string{"/data"}}, NoSFTP: true}, "node1")
	src := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(src, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	jr := copyJob("node1", src, "/data", false, false)
	res := jr.run(t, testDriver(t, env))
	// The refusal comes before scp's first acknowledgement: the worker
	// prints it and ends as for a node whose scp died (255).
	if res.ExitCode == 0 || !strings.Contains(jr.stderr.String(), "scp: sshtest: sink mode serves copies over SFTP only") {
		t.Fatalf("scp to a sink: %d %v %q", res.ExitCode, res.Err, jr.stderr)
	}
}
