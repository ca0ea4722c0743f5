package integration

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/nodesim"
)

// BenchmarkOutmem measures what gathered output costs in memory (issue
// 14's memory targets): csub -b through a coordinator and one gateway
// agent, each case on a fresh fleet so that each process's peak resident
// set (VmHWM) is the case's own.
//
//   - distinct: 50 nodes × 200 000 lines of their own (-R exec, "%h" in
//     the command), 12 bytes a line, 120 MB in all; target: csub's peak
//     under 2× the output's size.
//   - identical: 10 000 simulated nodes (internal/nodesim) × 1 000
//     identical lines; target: csub and coordinator under 200 MB each.
//
// FLEETSH_OUTMEM_CASES picks cases (comma list, default both). Run:
//
//	go test -run '^$' -bench Outmem -benchtime 1x ./integration
func BenchmarkOutmem(b *testing.B) {
	cases := map[string]bool{"distinct": true, "identical": true}
	if v := os.Getenv("FLEETSH_OUTMEM_CASES"); v != "" {
		clear(cases)
		for _, c := range strings.Split(v, ",") {
			cases[c] = true
		}
	}
	// FLEETSH_OUTMEM_SMALL=1 divides the sizes by 10 (to try the rig).
	lines, nodes := 200000, 10000
	if os.Getenv("FLEETSH_OUTMEM_SMALL") == "1" {
		lines, nodes = lines/10, nodes/10
	}
	for range b.N {
		if cases["distinct"] {
			outmemCase(b, "distinct", "n[1-50]", nil, "-R", "exec", fmt.Sprintf("seq -f '%%h %%%%.0f' 1000001 %d", 1000000+lines))
		}
		if cases["identical"] {
			sim := nodesim.Start(b, nodesim.Config{})
			outmemCase(b, "identical", fmt.Sprintf("ok[1-%d]", nodes), nil, "-f", "256", "-O", "ssh_config="+sim.Env.ConfigPath, "seq 1001 2000")
		}
	}
}

// outmemCase runs csub -b on nodes through a fresh fleet (one gateway
// agent for all of them) and logs the output's size and each process's
// peak resident set.
func outmemCase(b *testing.B, name, nodes string, agentArgs []string, args ...string) {
	b.Helper()
	topo := fmt.Sprintf("[routes]\nadmin: gw1\ngw1: %s\n", nodes)
	f := launchGateways(b, "", nil, topo, []string{"gw1"}, append([]string{"--fanout", "256"}, agentArgs...)...)
	argv := append([]string{"--fleet", f.natsURL, "-b", "--max-output", "64M", "-w", nodes}, args...)
	cmd := csubCmd(b, f.csubEnv(), argv...)
	if prof := os.Getenv("FLEETSH_OUTMEM_PROF"); prof != "" {
		cmd.Env = append(cmd.Env, "FLEETSH_HEAPPROF_DIR="+prof)
	}
	out := &countWriter{}
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = out, &stderr
	began := time.Now()
	err, csubKB := runPeak(cmd)
	took := time.Since(began)
	if err != nil {
		b.Fatalf("csub: %v\n%s", err, stderr.String())
	}
	coordKB, err := readVmHWM(f.coord.cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	agentKB, err := readVmHWM(f.agents["gw1"].cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%s: %s, %.2f MiB printed in %v: peak RSS csub %d MiB (%.2f× the output), coordinator %d MiB, agent %d MiB; stderr %q",
		name, nodes, float64(out.n)/(1<<20), took.Round(time.Millisecond), csubKB>>10, float64(csubKB<<10)/float64(max(out.n, 1)),
		coordKB>>10, agentKB>>10, lastLines(stderr.String()))
}

// countWriter counts what it is given.
type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// lastLines is csub's standard error without its progress counter.
func lastLines(s string) string {
	var keep []string
	for line := range strings.Lines(s) {
		if i := strings.LastIndexByte(line, '\r'); i >= 0 {
			line = line[i+1:]
		}
		if line = strings.TrimSpace(line); line != "" {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep[:min(len(keep), 5)], "\n")
}
