package ssh

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/sshtest"
	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// benchTree writes n small files under dir/tree, shaped as the tree of
// integration/fleet_copy_test.go (37 directories of 5 subdirectories,
// 0 to 150 bytes a file, one file in 7 executable), and returns its root.
func benchTree(b *testing.B, dir string, n int) string {
	b.Helper()
	root := filepath.Join(dir, "tree")
	for i := range n {
		p := filepath.Join(root, fmt.Sprintf("d%02d", i%37), fmt.Sprintf("s%d", i%5), fmt.Sprintf("f%05d", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if i%7 == 0 {
			mode = 0o750
		}
		if err := os.WriteFile(p, []byte(strings.Repeat(strconv.Itoa(i)+"\n", i%50)), mode); err != nil {
			b.Fatal(err)
		}
	}
	return root
}

// benchCopy copies src with Task.Copy to a new directory of /data on
// every node of nodes per iteration (so that every iteration creates
// what it copies, as a first push does) and fails on any node's error.
func benchCopy(b *testing.B, d *Driver, nodes *nodeset.NodeSet, src string, preserve bool) {
	b.Helper()
	i := 0
	for b.Loop() {
		i++
		task := engine.New()
		w, err := task.Copy(src, "/data/run"+strconv.Itoa(i), preserve, engine.Options{Nodes: nodes, Driver: d})
		runBenchTask(b, task, w, err, nodes)
	}
}

// runBenchTask runs task, whose worker w was made with err, and fails on
// any node's error.
func runBenchTask(b *testing.B, task *engine.Task, w *engine.Worker, err error, nodes *nodeset.NodeSet) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
	if err := task.Resume(10 * time.Minute); err != nil {
		b.Fatal(err)
	}
	for _, n := range nodes.Nodes() {
		if rc, ok := task.NodeRetcode(n); !ok || rc != 0 {
			b.Fatalf("%s: exit %d %v: %s", n, rc, ok, w.NodeError(n))
		}
	}
}

// sinkNodes starts count sink nodes with a /data directory and the
// driver that reaches them.
func sinkNodes(b *testing.B, count int) (*Driver, *nodeset.NodeSet) {
	names := sshtest.NodeNames("node", count)
	_, env := sshtest.StartNodes(b, sshtest.Config{Sink: &sshtest.SinkConfig{Dirs: []string{"/data"}}}, names...)
	return testDriver(b, env), nodeset.MustParse(fmt.Sprintf("node[1-%d]", count))
}

// BenchmarkCopyTree copies a tree of 500 small files to 50 sink nodes
// at once (the shape of issue 16's tree push, smaller): files/s counts
// the files landed over all nodes. Sub-benchmarks without and with
// Preserve (-p: mode and times set on every file).
func BenchmarkCopyTree(b *testing.B) {
	const files, count = 500, 50
	src := benchTree(b, b.TempDir(), files)
	d, nodes := sinkNodes(b, count)
	for _, preserve := range []bool{false, true} {
		b.Run("preserve="+strconv.FormatBool(preserve), func(b *testing.B) {
			benchCopy(b, d, nodes, src, preserve)
			b.ReportMetric(float64(files*count*b.N)/b.Elapsed().Seconds(), "files/s")
		})
	}
}

// BenchmarkRcopyTree fetches a tree of 500 small files that 50 sink
// nodes serve (Task.Rcopy) into a local directory: files/s counts the
// files fetched over all nodes.
func BenchmarkRcopyTree(b *testing.B) {
	const files, count = 500, 50
	src := benchTree(b, b.TempDir(), files)
	names := sshtest.NodeNames("node", count)
	_, env := sshtest.StartNodes(b, sshtest.Config{Sink: &sshtest.SinkConfig{Serve: map[string]string{"/srv/tree": src}}}, names...)
	d, nodes := testDriver(b, env), nodeset.MustParse(fmt.Sprintf("node[1-%d]", count))
	for b.Loop() {
		dst := b.TempDir()
		task := engine.New()
		w, err := task.Rcopy("/srv/tree", dst, false, engine.Options{Nodes: nodes, Driver: d})
		runBenchTask(b, task, w, err, nodes)
		b.StopTimer()
		if err := os.RemoveAll(dst); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(files*count*b.N)/b.Elapsed().Seconds(), "files/s")
}

// BenchmarkCopyBigFile copies one 64 MiB file to 4 sink nodes at once:
// MB/s counts the bytes landed over all nodes.
func BenchmarkCopyBigFile(b *testing.B) {
	const size, count = 64 << 20, 4
	src := filepath.Join(b.TempDir(), "big")
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7 / 5)
	}
	if err := os.WriteFile(src, data, 0o644); err != nil {
		b.Fatal(err)
	}
	d, nodes := sinkNodes(b, count)
	b.SetBytes(size * count)
	benchCopy(b, d, nodes, src, false)
}
