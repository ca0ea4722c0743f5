package integration

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// reliabilityDoc is the table of fault scenarios the suite checks.
const reliabilityDoc = "../docs/RELIABILITY.md"

// scenario is one row of docs/RELIABILITY.md's table.
type scenario struct {
	name  string        // the scenario column
	test  string        // the test its command runs
	bound time.Duration // the bound column
}

var (
	rowTest  = regexp.MustCompile("-run '\\^(TestFault\\w+)\\$'")
	rowBound = regexp.MustCompile(`≤ ([0-9.]+) (ms|s|min)\b`)
)

// scenarios parses the table of docs/RELIABILITY.md.
func scenarios(t testing.TB) []scenario {
	t.Helper()
	f, err := os.Open(reliabilityDoc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []scenario
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| scenario ") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		if len(cells) != 4 {
			t.Fatalf("%s: row of %d cells, want 4: %s", reliabilityDoc, len(cells), line)
		}
		m := rowTest.FindStringSubmatch(cells[3])
		if m == nil {
			t.Fatalf("%s: row names no test (want go test ./integration -run '^TestFault…$'): %s", reliabilityDoc, line)
		}
		b := rowBound.FindStringSubmatch(cells[2])
		if b == nil {
			t.Fatalf("%s: row %q has no bound (want ≤ N s): %s", reliabilityDoc, cells[0], cells[2])
		}
		v, err := strconv.ParseFloat(b[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		unit := map[string]time.Duration{"ms": time.Millisecond, "s": time.Second, "min": time.Minute}[b[2]]
		rows = append(rows, scenario{name: strings.TrimSpace(cells[0]), test: m[1], bound: time.Duration(v * float64(unit))})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// scenarioBound returns the bound docs/RELIABILITY.md states for the
// running test (its row's test is t.Name()'s top-level test): the fault
// tests assert it, so the page says what is tested.
func scenarioBound(t testing.TB) time.Duration {
	t.Helper()
	name, _, _ := strings.Cut(t.Name(), "/")
	for _, s := range scenarios(t) {
		if s.test == name {
			return s.bound
		}
	}
	t.Fatalf("%s has no row in %s", name, reliabilityDoc)
	return 0
}

// faultFull reports whether the fault suite runs at full size
// (FLEETSH_FAULT_FULL=1) rather than CI's scaled-down size.
func faultFull() bool { return os.Getenv("FLEETSH_FAULT_FULL") == "1" }

// TestReliabilityTable checks docs/RELIABILITY.md against the suite: every
// row runs a test that exists, and every TestFault test has a row.
func TestReliabilityTable(t *testing.T) {
	rows := scenarios(t)
	tests := map[string]bool{}
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, file := range files {
		f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "TestFault") {
				tests[fn.Name.Name] = true
			}
		}
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if !tests[r.test] {
			t.Errorf("%s: scenario %q runs %s, which does not exist", reliabilityDoc, r.name, r.test)
		}
		if seen[r.test] {
			t.Errorf("%s: %s has two rows", reliabilityDoc, r.test)
		}
		seen[r.test] = true
	}
	for name := range tests {
		if !seen[name] {
			t.Errorf("%s is not in %s's table", name, reliabilityDoc)
		}
	}
}
