package integration

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/sshtest"
)

// Copies through the fleet (issue 16): csub stores the source in the
// coordinator's store once, each gateway agent fetches it once and
// copies it to its nodes; reverse copies come back through the store.
// The nodes are sink nodes (sshtest.SinkConfig): they keep checksums of
// what they receive, so hundreds of copies cost no disk.
//
// FLEETSH_COPY_HEAVY=1 runs the sizes issue 16 names (a 1 GiB file and a
// tree of 10 000 files to 200 nodes); the default run uses smaller ones
// (8 MiB, 500 files) through the same path, to keep CI lean on 2 cores.

// copySizes returns the file size and tree file count of the push tests:
// FLEETSH_COPY_HEAVY=1 gives issue 16's, FLEETSH_COPY_BYTES and
// FLEETSH_COPY_FILES choose others.
func copySizes(t *testing.T) (fileBytes int64, treeFiles int) {
	fileBytes, treeFiles = 8<<20, 500
	if os.Getenv("FLEETSH_COPY_HEAVY") == "1" {
		fileBytes, treeFiles = 1<<30, 10000
	}
	if v := os.Getenv("FLEETSH_COPY_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			t.Fatalf("FLEETSH_COPY_BYTES=%q: not a positive byte count", v)
		}
		fileBytes = n
	}
	if v := os.Getenv("FLEETSH_COPY_FILES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("FLEETSH_COPY_FILES=%q: not a positive file count", v)
		}
		treeFiles = n
	}
	return fileBytes, treeFiles
}

// runCopyCsub is runCsubProc with room for the heavy sizes (a hang
// catcher, not a timed assertion).
func runCopyCsub(t *testing.T, env []string, args ...string) procResult {
	t.Helper()
	return runCsubWithin(t, time.Hour, env, args...)
}

// launchCopyFleet starts a fleet whose nodes are sink nodes.
func launchCopyFleet(t *testing.T, sink *sshtest.SinkConfig) *testFleet {
	t.Helper()
	return launchFleetOpts(t, fleetOpts{topology: fleetTopology, gateways: []string{"gw1", "gw2", "gw3"}, sink: sink})
}

// randomFile writes size random bytes to path and returns their SHA-256.
func randomFile(t *testing.T, path string, size int64) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), rand.Reader, size); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sourceTree writes a tree of n small files (some empty, modes varied,
// in nested directories, with a symlink to one of them) under dir/name and returns each
// file's relative path and SHA-256.
func sourceTree(t *testing.T, dir, name string, n int) map[string]string {
	t.Helper()
	root := filepath.Join(dir, name)
	sums := make(map[string]string, n)
	for i := 0; i < n; i++ {
		rel := filepath.Join(fmt.Sprintf("d%02d", i%37), fmt.Sprintf("s%d", i%5), fmt.Sprintf("f%05d", i))
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		data := []byte(strings.Repeat(strconv.Itoa(i)+"\n", i%50))
		mode := fs.FileMode(0o644)
		if i%7 == 0 {
			mode = 0o750
		}
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		sums[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
	}
	if err := os.Symlink("d00/s0/f00000", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	return sums
}

// fetchedBytes sums the bytes the agent's log says it fetched from the
// coordinator's store ("tree fetched" lines).
func fetchedBytes(t *testing.T, p *proc) (bytes int64, fetches int) {
	t.Helper()
	f, err := os.Open(p.log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `msg="tree fetched"`) {
			continue
		}
		fetches++
		for _, field := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(field, "fetched_bytes="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				bytes += n
			}
		}
	}
	return bytes, fetches
}

// TestFleetCopyPush pushes a file and a tree through a coordinator and
// two gateway agents (gw1 and gw2 share the group of node[1-700]) to 200
// nodes, checks every node's checksums, and checks that each agent
// fetched the content once: the bytes crossed the bus once per gateway.
func TestFleetCopyPush(t *testing.T) {
	skipShort(t)
	fileBytes, treeFiles := copySizes(t)
	f := launchCopyFleet(t, &sshtest.SinkConfig{Dirs: []string{"/data"}})
	src := t.TempDir()
	big := filepath.Join(src, "payload.bin")
	bigSum := randomFile(t, big, fileBytes)
	began := time.Now()
	r := runCopyCsub(t, f.csubEnv(), "-q", "-S", "-w", "node[1-200]", "-c", big, "--dest", "/data/")
	if r.status != 0 || r.stderr != "" {
		t.Fatalf("push: status %d, stderr %.2000s", r.status, r.stderr)
	}
	t.Logf("%d MiB to 200 nodes through 2 agents: %v", fileBytes>>20, time.Since(began).Round(time.Millisecond))
	for i := 1; i <= 200; i++ {
		node := fmt.Sprintf("node%d", i)
		got := f.ssh.Received(node)["/data/payload.bin"]
		if got.SHA256 != bigSum || got.Size != fileBytes || got.Err != "" {
			t.Fatalf("%s: /data/payload.bin %+v; want %d bytes with sha256 %s", node, got, fileBytes, bigSum)
		}
	}
	var total int64
	for _, gw := range []string{"gw1", "gw2"} {
		n, fetches := fetchedBytes(t, f.agents[gw])
		if fetches == 0 {
			t.Fatalf("%s fetched nothing: were its nodes served?", gw)
		}
		if n > fileBytes+fileBytes/64 {
			t.Errorf("%s fetched %d bytes for a %d-byte file: more than one copy", gw, n, fileBytes)
		}
		total += n
	}
	t.Logf("bytes fetched by the gateways: %d (%.2f copies for 2 gateways)", total, float64(total)/float64(fileBytes))

	// Pushing the same content again moves nothing to the agents.
	r = runCopyCsub(t, f.csubEnv(), "-q", "-S", "-w", "node[1-20]", "-c", big, "--dest", "/data/again.bin")
	if r.status != 0 {
		t.Fatalf("push again: status %d, stderr %.2000s", r.status, r.stderr)
	}
	if again, _ := fetchedBytes(t, f.agents["gw1"]); again > total {
		t.Errorf("the same content fetched again: %d bytes now, %d before", again, total)
	}

	// A tree: modes, nested directories, empty files, a symlink.
	sums := sourceTree(t, src, "conf", treeFiles)
	began = time.Now()
	r = runCopyCsub(t, f.csubEnv(), "-q", "-S", "-p", "-w", "node[1-200]", "-c", filepath.Join(src, "conf"), "--dest", "/data/")
	if r.status != 0 || r.stderr != "" {
		t.Fatalf("tree: status %d, stderr %.2000s", r.status, r.stderr)
	}
	t.Logf("a tree of %d files to 200 nodes: %v", treeFiles, time.Since(began).Round(time.Millisecond))
	for i := 1; i <= 200; i++ {
		node := fmt.Sprintf("node%d", i)
		got := f.ssh.Received(node)
		for rel, sum := range sums {
			if rf := got["/data/conf/"+rel]; rf.SHA256 != sum || rf.Err != "" {
				t.Fatalf("%s: /data/conf/%s: %+v; want sha256 %s", node, rel, rf, sum)
			}
		}
		// A symlink in the tree is followed, as scp -r and a copy of the
		// in-process fleet do: the node gets the file it points to.
		if l := got["/data/conf/link"]; l.SHA256 != sums["d00/s0/f00000"] || !l.Mode.IsRegular() {
			t.Fatalf("%s: /data/conf/link %+v", node, l)
		}
		if m := got["/data/conf/d00/s0/f00000"].Mode.Perm(); m != 0o750 {
			t.Fatalf("%s: mode %v, want 0750 (-p)", node, m)
		}
	}
}

// TestFleetRcopy copies a file from 200 nodes (each node's content its
// own) back to the submitting machine through the fleet.
func TestFleetRcopy(t *testing.T) {
	skipShort(t)
	const size = 1 << 20
	f := launchCopyFleet(t, &sshtest.SinkConfig{Generated: map[string]int64{"/var/log/app.log": size}})
	dest := t.TempDir()
	r := runCopyCsub(t, f.csubEnv(), "-q", "-S", "-w", "node[1-200]", "--rcopy", "/var/log/app.log", "--dest", dest)
	if r.status != 0 || r.stderr != "" {
		t.Fatalf("rcopy: status %d, stderr %.2000s", r.status, r.stderr)
	}
	for i := 1; i <= 200; i++ {
		node := fmt.Sprintf("node%d", i)
		got, err := os.ReadFile(filepath.Join(dest, "app.log."+node))
		if err != nil {
			t.Fatal(err)
		}
		want := make([]byte, size)
		if _, err := sshtest.GeneratedContent(node, "/var/log/app.log", size).ReadAt(want, 0); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("%s: the copy differs from the node's file (%d bytes, want %d)", node, len(got), len(want))
		}
	}
}

// TestFleetCopyFullAndReadOnly: a node whose disk fills and a read-only
// node fail with exit code 1 and a line naming the cause; the others
// get their copy.
func TestFleetCopyFullAndReadOnly(t *testing.T) {
	skipShort(t)
	f := launchCopyFleet(t, &sshtest.SinkConfig{Dirs: []string{"/data"},
		Full: map[string]int64{"node3": 1 << 20}, ReadOnly: map[string]bool{"node7": true}})
	src := filepath.Join(t.TempDir(), "blob")
	sum := randomFile(t, src, 4<<20)
	r := runCopyCsub(t, f.csubEnv(), "-q", "-S", "-w", "node[1-10]", "-c", src, "--dest", "/data/")
	if r.status != 1 {
		t.Fatalf("status %d, want 1; stderr %.2000s", r.status, r.stderr)
	}
	t.Logf("csub -S: status %d, stderr:\n%s", r.status, r.stderr)
	for _, want := range []string{"node3: ", "no space left on device", "node7: ", "read-only file system"} {
		if !strings.Contains(strings.ToLower(r.stderr), strings.ToLower(want)) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	for i := 1; i <= 10; i++ {
		node := fmt.Sprintf("node%d", i)
		got := f.ssh.Received(node)["/data/blob"]
		if i == 3 || i == 7 {
			continue
		}
		if got.SHA256 != sum {
			t.Errorf("%s: %+v; want sha256 %s", node, got, sum)
		}
	}
}

// TestFleetCopyAgentKilled kills a gateway agent while it fetches a push:
// its nodes go to the other agent of their group (a copy is safe to
// repeat), every node ends copied; the killed agent, restarted on the
// same cache, fetches only the chunks it lacked for the next push.
func TestFleetCopyAgentKilled(t *testing.T) {
	skipShort(t)
	f := launchCopyFleet(t, &sshtest.SinkConfig{Dirs: []string{"/data"}})
	src := filepath.Join(t.TempDir(), "image.bin")
	const size = 64 << 20
	sum := randomFile(t, src, size)
	cmd, errb := startCsubBg(t, f.csubEnv(), "-q", "-S", "-w", "node[1-40]", "-c", src, "--dest", "/data/")
	// Kill gw1 once it has some chunks of the tree in its cache (the
	// deadline only catches a hang).
	cache := filepath.Join(f.dir, "cache-gw1")
	for deadline := time.Now().Add(2 * time.Minute); countFiles(cache) < 50; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gw1 cached no chunks; csub: %s", errb.String())
		}
	}
	f.agents["gw1"].kill(syscall.SIGKILL)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("csub: %v; stderr %s", err, errb.String())
	}
	for i := 1; i <= 40; i++ {
		node := fmt.Sprintf("node%d", i)
		if got := f.ssh.Received(node)["/data/image.bin"]; got.SHA256 != sum {
			t.Fatalf("%s: %+v; want sha256 %s", node, got, sum)
		}
	}
	// gw1 again, on the same cache: it fetches only what it lacked.
	before := countFiles(cache)
	f.startAgent("gw1")
	f.waitAgents(4)
	r := runCopyCsub(t, f.csubEnv(), "-q", "-S", "-w", "node[1-10]", "-c", src, "--dest", "/data/second.bin")
	if r.status != 0 {
		t.Fatalf("second push: status %d, stderr %.2000s", r.status, r.stderr)
	}
	if n, _ := fetchedBytes(t, f.agents["gw1"]); n > size-int64(before-10)*(256<<10) {
		t.Errorf("gw1 restarted fetched %d bytes though %d chunks were cached", n, before)
	}
}

// countFiles counts the regular files under dir (0 when it is missing).
func countFiles(dir string) int {
	n := 0
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return nil
	})
	return n
}
