package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/benchrec"
)

// fixture holds made-up records (their notes say FAKE): sim, sshd at two
// fanouts, exec with a point whose runs all failed, output with a single
// N per case and a record of zero wall time under a long name.
const fixture = "testdata/sample.jsonl"

func runPlot(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// plotContains runs the plot with args and checks that its output holds
// every one of wants; it returns the output.
func plotContains(t *testing.T, args []string, wants ...string) string {
	t.Helper()
	out, _, err := runPlot(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("%q: output lacks %q", args, want)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
	return out
}

func TestTable(t *testing.T) {
	out := plotContains(t, []string{"-table", fixture},
		"### sim\n",
		"### output: 10000 nodes x 1000 identical lines\n",
		"| tool | N | fanout | runs | wall s | growth | CPU agents s (ms/node) |",
		"peak RSS agents MiB |",
		"| busy_s | limit_s |",
		// medians of 3 runs; CPU cells give seconds and ms per node
		"| fleet 4 agents | 10000 | 256 | 3 | 15.8 | 1.02 | 16.0 (1.60) |",
		// 1.5e-3*N*(1+N/200000): from 10 000 to 50 000 wall grows as N^1.11
		"| fleet 4 agents | 50000 | 256 | 3 | 93.8 | 1.11 |",
		"| bare x/crypto/ssh | 1000 | - | 3 | 0.900 | - | - | 1.00 (1.00) |",
		// failed runs are counted, not averaged
		"| fleet 8 agents | 100000 | 256 | 2 (+1 failed) | 102 | - | 156 (1.56) |",
		"| csub | 100000 | 64 | 0 (3 failed) | - | - | - | - |",
		// a pipe in a name does not split the cell
		`a tool with a very long name \| and a pipe`,
	)
	// The default output is the table.
	if def, _, err := runPlot(t, fixture); err != nil || def != out {
		t.Errorf("without flags: err %v, output differs from -table", err)
	}
}

func TestRatios(t *testing.T) {
	out := plotContains(t, []string{"-ref", "bare x/crypto/ssh", fixture},
		"### sim: ratios to bare x/crypto/ssh\n",
		// wall 15.75 / 9; agents 1.6 ms/node against the bare client's 1.0;
		// the ref has no fanout: its only point at that N is used
		"| fleet 4 agents | 10000 | 256 (ref -) | 15.8 | 1.75x | agents (client) | 1.60 | 1.60x |",
		"| csub in-process | 50000 | 256 (ref -) | 60.0 | 1.33x | csub (client) | 1.10 | 1.10x |",
	)
	if strings.Contains(out, "### sshd") || strings.Contains(out, "| bare x/crypto/ssh |") {
		t.Errorf("ratios list a group without the ref, or the ref itself:\n%s", out)
	}
	// csub 4.4 ms/node against pdsh's 62, at the same fanout
	plotContains(t, []string{"-ref", "pdsh -R ssh", "-cpu", "client", fixture},
		"| csub | 200 | 256 | 9.28 | 0.680x | client | 4.40 | 0.0710x |")
	// a point whose runs all failed has no figures to compare
	plotContains(t, []string{"-ref", "bare spawn", fixture}, "| csub | 100000 | 64 | - | - | - (client) | - | - |")
	// with -table, the ratios follow the tables
	plotContains(t, []string{"-table", "-ref", "bare spawn", fixture}, " |\n\n### exec: ratios to bare spawn\n")
	if _, _, err := runPlot(t, "-ref", "nosuch", fixture); err == nil || !strings.Contains(err.Error(), `"clush"`) {
		t.Errorf("unknown ref: err %v, want one listing the tools", err)
	}
}

func TestRatioMath(t *testing.T) {
	p := benchrec.Point{Key: benchrec.Key{Tool: "fleet", N: 2000}, Runs: 1,
		CPUS: map[string]float64{"agents": 3, "client": 1, "csub": 0.5}}
	if r := mainRole(p, ""); r != "agents" {
		t.Errorf("main role %q, want agents", r)
	}
	if r := mainRole(p, "csub"); r != "csub" {
		t.Errorf("override: role %q", r)
	}
	delete(p.CPUS, "agents")
	if r := mainRole(p, ""); r != "client" {
		t.Errorf("main role %q, want client", r)
	}
	if ms, ok := cpuPerNodeMS(p, "client"); !ok || ms != 0.5 {
		t.Errorf("cpu per node %v %v, want 0.5 ms", ms, ok)
	}
	if _, ok := cpuPerNodeMS(p, "agents"); ok {
		t.Error("cpu per node of a missing role")
	}
	p.Runs = 0
	if _, ok := cpuPerNodeMS(p, "client"); ok {
		t.Error("cpu per node of a point without a successful run")
	}
	for _, c := range []struct {
		a, b, want float64
		ok         bool
	}{{3, 2, 1.5, true}, {0, 2, 0, true}, {1, 0, 0, false}, {-1, 2, 0, false}, {math.NaN(), 1, 0, false}, {1, math.Inf(1), 0, false}} {
		if got, ok := ratio(c.a, c.b); got != c.want || ok != c.ok {
			t.Errorf("ratio(%v, %v) = %v %v, want %v %v", c.a, c.b, got, ok, c.want, c.ok)
		}
	}
	pts := []benchrec.Point{
		{Key: benchrec.Key{Tool: "ref", N: 10, Fanout: 64}},
		{Key: benchrec.Key{Tool: "ref", N: 10, Fanout: 256}},
		{Key: benchrec.Key{Tool: "ref", N: 20}},
	}
	if r, ok := findRef(pts, "ref", 10, 256); !ok || r.Fanout != 256 {
		t.Errorf("same fanout: %+v %v", r, ok)
	}
	if _, ok := findRef(pts, "ref", 10, 128); ok {
		t.Error("two fanouts at N, none the same: a ref was picked")
	}
	if r, ok := findRef(pts, "ref", 20, 128); !ok || r.N != 20 {
		t.Errorf("only point at N: %+v %v", r, ok)
	}
}

func TestGrowth(t *testing.T) {
	pt := func(tool string, n int, wall float64) benchrec.Point {
		return benchrec.Point{Key: benchrec.Key{Tool: tool, N: n}, Runs: 1, WallS: wall}
	}
	if e, ok := growth(pt("a", 1000, 2), pt("a", 10000, 20)); !ok || math.Abs(e-1) > 1e-12 {
		t.Errorf("linear: %v %v", e, ok)
	}
	if e, ok := growth(pt("a", 1000, 1), pt("a", 10000, 100)); !ok || math.Abs(e-2) > 1e-12 {
		t.Errorf("quadratic: %v %v", e, ok)
	}
	for _, c := range [][2]benchrec.Point{
		{pt("a", 1000, 1), pt("b", 10000, 10)},                                  // another tool
		{pt("a", 1000, 1), pt("a", 1000, 2)},                                    // the same N
		{pt("a", 1000, 0), pt("a", 10000, 10)},                                  // no wall time
		{{Key: benchrec.Key{Tool: "a", N: 1000}, WallS: 1}, pt("a", 10000, 10)}, // no successful run
	} {
		if e, ok := growth(c[0], c[1]); ok {
			t.Errorf("growth(%+v, %+v) = %v, want none", c[0], c[1], e)
		}
	}
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 0.9: "0.900", 0.016: "0.0160", 5e-324: "4.94e-324", 1.234: "1.23", 15.75: "15.8", 102.4: "102", 127000000: "127000000", -2.5: "-2.50"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestArgs(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "no records file"},
		{[]string{"-cpu", "agents", fixture}, "-cpu needs -ref"},
		{[]string{"-nosuch", fixture}, "flag provided but not defined"},
		{[]string{filepath.Join(t.TempDir(), "missing.jsonl")}, "no such file"},
	} {
		if _, _, err := runPlot(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err %v, want %q", c.args, err, c.want)
		}
	}
	empty := filepath.Join(t.TempDir(), "empty.jsonl")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runPlot(t, empty); err == nil || !strings.Contains(err.Error(), "no runs") {
		t.Errorf("empty file: err %v", err)
	}
	// Several files are read together.
	one, _, err := runPlot(t, fixture, fixture)
	if err != nil || !strings.Contains(one, "| fleet 4 agents | 10000 | 256 | 6 | 15.8 | 1.02 |") {
		t.Errorf("two files: err %v\n%s", err, one)
	}
}
