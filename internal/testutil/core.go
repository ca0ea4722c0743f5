package testutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/golden"
	"github.com/fleetsh/fleetsh/pkg/topology"
)

// CopyTree makes, in a new temporary directory root, the tree that the
// copy tests of the pdcp and rcp workers push and pull back: the file
// src/sub/f holding "data\n" with mode perm, last modified on 2001-01-01
// (so that a copy keeping times shows), and an empty directory dst.
func CopyTree(t testing.TB, perm os.FileMode) (root, src, dst string) {
	t.Helper()
	root = t.TempDir()
	src, dst = filepath.Join(root, "src"), filepath.Join(root, "dst")
	f := filepath.Join(src, "sub", "f")
	old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, err := range []error{
		os.MkdirAll(filepath.Dir(f), 0o755),
		os.WriteFile(f, []byte("data\n"), perm),
		os.Chtimes(f, old, old),
		os.Mkdir(dst, 0o755),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return root, src, dst
}

// GoldenCase is a case of a golden file and its test name, "file/name".
type GoldenCase struct {
	ID string
	*golden.Case
}

// GoldenCases reads the golden files testdata/golden/*.txt of the package
// under test (see internal/golden), whose command lines run prog, and
// returns their cases in file order; when run is set (the -golden.run
// flag of those tests), only the cases whose ID holds it. No file, or a
// file that does not parse, fails t.
func GoldenCases(t testing.TB, prog, run string) []GoldenCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/golden/*.txt files: %v", err)
	}
	var out []GoldenCase
	for _, f := range files {
		cases, err := golden.ParseFile(f, prog)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			if id := filepath.Base(c.File) + "/" + c.Name; run == "" || strings.Contains(id, run) {
				out = append(out, GoldenCase{id, c})
			}
		}
	}
	return out
}

// Router parses the topology.conf text conf and returns its router from
// root (a fleet's coordinator routes with it, through
// coordinator.FromTopology); an error fails t.
func Router(t testing.TB, conf, root string) *topology.Router {
	t.Helper()
	topo, err := topology.Parse(strings.NewReader(conf), "topology.conf", topology.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := topo.Router(root)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
