package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/benchrec"
	"github.com/fleetsh/fleetsh/internal/testutil"
)

// The exec bench scenario (issue 14): `csub -R exec -w n[1-N] -f 64 true`
// in process (no fleet daemons: csub's embedded fleet spawns the shells)
// against the cost of spawning the same N processes bare
// (bench/exec/barespawn, which starts each "/bin/sh -c true" as the exec
// driver does) and, at small N, against clush -R exec. The target is csub's
// CPU per node within 1.5x the bare spawn's. bench/exec/run.sh runs it and
// docs/bench/exec.md reports it.
//
//	go test -run '^$' -bench '^BenchmarkExec$' -benchtime 1x -timeout 0 ./integration
//
// Environment (besides FLEETSH_BENCH_N, _REPEAT and _OUT, see
// benchSizes, benchRepeat and benchResults):
//
//	FLEETSH_BENCH_CLUSH  unset: clush at the smallest N only (it needs
//	                     223 s for 10 000 nodes); 1: at every N up to
//	                     10 000; 0: never
//	FLEETSH_BENCH_TOOLS  the tools to run, a comma list of csub, bare and
//	                     clush (default all three), to split a sweep over
//	                     several runs

// execFanout is the fanout of every tool in the exec scenario.
const execFanout = 64

// clushMaxN is the largest N clush runs at in the exec scenario: 10 000
// takes it nearly 4 minutes.
const clushMaxN = 10000

// execTool is a tool of the exec scenario: the command it runs on n
// nodes, and what its output says of how many nodes it accounted for.
type execTool struct {
	key, name string
	cmd       func(n int) *exec.Cmd
	// accounted returns "" when the run accounted for all n nodes, or
	// what is missing.
	accounted func(n int, stdout, stderr string) string
}

// execTools are the exec scenario's tools.
func execTools(tb testing.TB) []execTool {
	nodes := func(n int) string { return fmt.Sprintf("n[1-%d]", n) }
	bare := filepath.Join(binaries(tb), "barespawn")
	return []execTool{
		{key: "csub", name: "csub",
			cmd: func(n int) *exec.Cmd {
				return csubCmd(tb, nil, "-R", "exec", "-w", nodes(n), "-f", strconv.Itoa(execFanout), "--summary", "true")
			},
			accounted: func(n int, _, stderr string) string { return csubAccounted(n, stderr) }},
		{key: "bare", name: "bare spawn",
			cmd: func(n int) *exec.Cmd {
				return exec.Command(bare, "-n", strconv.Itoa(n), "-fanout", strconv.Itoa(execFanout))
			},
			accounted: func(n int, stdout, _ string) string {
				if !strings.HasPrefix(stdout, fmt.Sprintf("%d spawned, 0 failed", n)) {
					return "barespawn: " + stdout
				}
				return ""
			}},
		{key: "clush", name: "clush",
			cmd: func(n int) *exec.Cmd {
				cmd := exec.Command("clush", "-R", "exec", "-w", nodes(n), "-f", strconv.Itoa(execFanout), "true")
				cmd.Env = append(os.Environ(), "CLUSTERSHELL_CFGDIR="+tb.TempDir())
				return cmd
			},
			// clush exits with the largest return code, 0 only when
			// every node ran true; it prints nothing to count.
			accounted: func(int, string, string) string { return "" }},
	}
}

// csubAccounted checks csub's --summary line: every one of n nodes
// exited 0.
func csubAccounted(n int, stderr string) string {
	if !strings.Contains(stderr, fmt.Sprintf("csub: %d nodes in ", n)) ||
		!strings.Contains(stderr, fmt.Sprintf(": %d exited (%d rc=0)", n, n)) {
		return "csub summary: " + strings.TrimSpace(testutil.LastLine(stderr))
	}
	return ""
}

// runExecTool runs tool once on n nodes and returns its record.
func runExecTool(tb testing.TB, tool execTool, n, run int) benchrec.Record {
	tb.Helper()
	cmd := tool.cmd(n)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	rec := benchrec.Record{Scenario: "exec", Tool: tool.name, N: n, Fanout: execFanout, Run: run,
		Extra: map[string]float64{"load1": loadAvg()}}
	began := time.Now()
	err := cmd.Run()
	rec.WallS = time.Since(began).Seconds()
	if cmd.ProcessState != nil {
		// The tool and the children it waited for: wait4's usage of a
		// process includes that of the children it reaped.
		cpu := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
		rec.CPUS = map[string]float64{"client": cpu}
		rec.Extra["cpu_ms_per_node"] = cpu * 1000 / float64(n)
	}
	switch {
	case err != nil:
		rec.Note = fmt.Sprintf("%v: %s", err, strings.TrimSpace(testutil.LastLine(stderr.String())))
	default:
		rec.Note = tool.accounted(n, stdout.String(), stderr.String())
	}
	rec.OK = rec.Note == ""
	return rec
}

// BenchmarkExec is the exec scenario: every tool on every N, repeated,
// runs interleaved so that the machine's load falls on all alike; each
// run is appended to the results file as it ends.
func BenchmarkExec(b *testing.B) {
	sizes := benchSizes(b, "1000,10000")
	repeat := benchRepeat(b)
	out := benchResults(b, "exec")
	on := benchTools(b, "csub", "bare", "clush")
	clushAt := func(n int) bool {
		switch os.Getenv("FLEETSH_BENCH_CLUSH") {
		case "0":
			return false
		case "1":
			return n <= clushMaxN
		}
		return n == slices.Min(sizes) && n <= clushMaxN
	}
	if _, err := exec.LookPath("clush"); err != nil {
		clushAt = func(int) bool { return false }
		b.Logf("no clush: %v", err)
	}
	tools := execTools(b)
	for b.Loop() {
		var recs []benchrec.Record
		for _, n := range sizes {
			for run := 1; run <= repeat; run++ {
				for _, tool := range tools {
					if !on[tool.key] || (tool.key == "clush" && !clushAt(n)) {
						continue
					}
					rec := runExecTool(b, tool, n, run)
					b.Logf("%s N=%d run %d: %.2f s wall, %.2f s CPU (%.2f ms/node) ok=%v %s", rec.Tool, n, run,
						rec.WallS, rec.CPUS["client"], rec.Extra["cpu_ms_per_node"], rec.OK, rec.Note)
					if err := benchrec.Append(out, rec); err != nil {
						b.Fatal(err)
					}
					recs = append(recs, rec)
				}
			}
		}
		logExecMedians(b, recs)
	}
}

// logExecMedians logs the medians of recs and, at each N, each tool's CPU
// per node over the bare spawn's (the target: csub within 1.5x).
func logExecMedians(tb testing.TB, recs []benchrec.Record) {
	tb.Helper()
	points, err := benchrec.Medians(recs)
	if err != nil {
		tb.Log(err)
		return
	}
	bare := map[int]float64{}
	for _, p := range points {
		if p.Tool == "bare spawn" && p.Runs > 0 {
			bare[p.N] = p.Extra["cpu_ms_per_node"]
		}
	}
	var s strings.Builder
	s.WriteString("medians:\n| tool | N | runs | wall s | CPU s | CPU ms/node | CPU/node vs bare spawn |\n|---|---|---|---|---|---|---|\n")
	for _, p := range points {
		ratio := "-"
		if b := bare[p.N]; b > 0 && p.Runs > 0 {
			ratio = fmt.Sprintf("%.2fx", p.Extra["cpu_ms_per_node"]/b)
			if p.Tool == "csub" {
				ratio += map[bool]string{true: " (target <= 1.5x: holds)", false: " (target <= 1.5x: missed)"}[p.Extra["cpu_ms_per_node"]/b <= 1.5]
			}
		}
		fmt.Fprintf(&s, "| %s | %d | %d (%d failed) | %.2f | %.2f | %.2f | %s |\n", p.Tool, p.N, p.Runs, p.Failed,
			p.WallS, p.CPUS["client"], p.Extra["cpu_ms_per_node"], ratio)
	}
	tb.Log(s.String())
}
