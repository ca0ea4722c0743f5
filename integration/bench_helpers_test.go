package integration

import (
	"fmt"
	"os"
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
