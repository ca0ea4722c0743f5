package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The bench scenarios' shared readers: their parameters, and the
// machine's busy time.

// benchInts reads a comma list of positive integers from the
// environment variable name, def when unset.
func benchInts(tb testing.TB, name, def string) []int {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		v = def
	}
	var xs []int
	for _, f := range strings.Split(v, ",") {
		x, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || x <= 0 {
			tb.Fatalf("%s=%q: want positive integers, comma-separated", name, v)
		}
		xs = append(xs, x)
	}
	return xs
}

// machineBusy is the CPU time the machine's CPUs have spent busy since boot
// (/proc/stat's first line: every state but idle and iowait), in seconds.
func machineBusy() (float64, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var ticks int64
	// user nice system idle iowait irq softirq steal: guest time is
	// inside user already.
	for i, v := range f[1:9] {
		if i == 3 || i == 4 {
			continue
		}
		t, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		ticks += t
	}
	// USER_HZ is 100 on Linux, as procUsage reads it.
	return float64(ticks) / 100, nil
}

// benchSizes reads FLEETSH_BENCH_N, a comma list of node counts, or
// returns def's.
func benchSizes(tb testing.TB, def string) []int {
	tb.Helper()
	return benchInts(tb, "FLEETSH_BENCH_N", def)
}

// benchRepeat reads FLEETSH_BENCH_REPEAT, the runs per point (3 by
// default).
func benchRepeat(tb testing.TB) int {
	tb.Helper()
	return benchInts(tb, "FLEETSH_BENCH_REPEAT", "3")[0]
}

// benchResults is the results file records are appended to:
// FLEETSH_BENCH_OUT, or bench/results/SCENARIO.jsonl in the repository.
// Its directory is made if need be.
func benchResults(tb testing.TB, scenario string) string {
	tb.Helper()
	path := os.Getenv("FLEETSH_BENCH_OUT")
	if path == "" {
		// Tests run in the package's directory, integration/.
		path = filepath.Join("..", "bench", "results", scenario+".jsonl")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	return path
}

// benchTools reads FLEETSH_BENCH_TOOLS, a comma list of the keys of
// known, or returns all of known.
func benchTools(tb testing.TB, known ...string) map[string]bool {
	tb.Helper()
	on := map[string]bool{}
	for _, k := range benchToolList(tb, "FLEETSH_BENCH_TOOLS", known...) {
		on[k] = true
	}
	return on
}

// benchToolList reads the environment variable name, a comma list of
// tools among known, in the order given, or returns known (in the order
// its scenario runs them).
func benchToolList(tb testing.TB, name string, known ...string) []string {
	tb.Helper()
	s := os.Getenv(name)
	if s == "" {
		return known
	}
	var tools []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(known, f) {
			tb.Fatalf("%s=%q: %q is none of %q", name, s, f, known)
		}
		tools = append(tools, f)
	}
	return tools
}

// loadAvg is the machine's load average over the last minute, -1 when
// it cannot be read.
func loadAvg() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// FLEETSH_BENCH_AGENT_ENV: NAME=VALUE words for the agents alone; none
// when unset; a word that is not NAME=VALUE is refused, named.
func TestBenchAgentEnv(t *testing.T) {
	for _, c := range []struct {
		env  string
		want []string
		bad  string
	}{
		{"", nil, ""},
		{"GOMAXPROCS=1  GOGC=200", []string{"GOMAXPROCS=1", "GOGC=200"}, ""},
		{"GOMAXPROCS=1 BAD", nil, `"BAD"`},
		{"=1", nil, `"=1"`},
	} {
		t.Setenv("FLEETSH_BENCH_AGENT_ENV", c.env)
		got, err := benchAgentEnv()
		if c.bad != "" {
			if err == nil || !strings.Contains(err.Error(), c.bad) {
				t.Errorf("%q: err %v, want one naming %s", c.env, err, c.bad)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("%q: %q, %v; want %q", c.env, got, err, c.want)
		}
	}
}
