package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/benchrec"
	"github.com/fleetsh/fleetsh/internal/nodesim"
	"github.com/fleetsh/fleetsh/internal/profenv"
	"github.com/fleetsh/fleetsh/internal/sshtest"
	"github.com/fleetsh/fleetsh/internal/testutil"
)

// The output bench scenario (issue 14): what gathering much output costs,
// through the fleet (csub --fleet, a coordinator embedding NATS and four
// gateway agents, every node an internal/nodesim node), with csub -b:
//
//   - identical: 10 000 nodes each printing the same 1 000 lines (seq
//     1000): -b folds them into one group; the target keeps csub and the
//     coordinator under 200 MB each;
//   - distinct: 50 nodes each printing 200 000 lines of its own
//     ("okK I x", the simulator's nodelines, about 126 MiB in all): 50
//     groups; the target keeps csub's peak RSS within 2x the output.
//
// Each run records wall time, CPU per role (csub, coordinator and its
// local agent, the four agents together, the simulator: this test
// process) and peak RSS (csub; coordinator; the largest agent), from a
// fleet started for that run alone, so every peak is the run's own. The
// distinct case also runs `clush -R exec -b` and `csub -R exec -b` with
// the same lines printed by local processes (seq -f "%h %%g x" 200000):
// the nearest clush comes to this case without a real sshd per node. bench/output/run.sh runs it and docs/bench/output.md
// reports it.
//
//	go test -run '^$' -bench '^BenchmarkOutput$' -benchtime 1x -timeout 0 ./integration
//
// Environment (besides FLEETSH_BENCH_REPEAT and FLEETSH_BENCH_OUT; the
// cases' sizes are fixed, FLEETSH_BENCH_N does not apply):
//
//	FLEETSH_BENCH_OUTPUT_SMALL=1  a quick development size: 500 nodes x 100
//	                              lines and 5 nodes x 20 000 lines
//	FLEETSH_BENCH_CASES           identical, distinct or both (a comma list)
//	FLEETSH_BENCH_CLUSH           unset: clush in the first run only (it
//	                              needs minutes for 10 million lines); 1:
//	                              in every run; 0: never
//	FLEETSH_BENCH_TOOLS           comma list of fleet, exec (csub -R exec)
//	                              and clush
//	FLEETSH_BENCH_PROFILES=DIR    each csub writes CPU and heap profiles
//	                              there (CASE-TOOL-RUN.cpu.pprof, .mem.pprof)

// clushTimeout bounds a clush run of the output scenario, which can take
// longer than a bench lock may be held: a run killed at it is recorded,
// not OK, its wall time a lower bound.
const clushTimeout = 7 * time.Minute

// outputCase is one case of the output scenario.
type outputCase struct {
	name  string
	nodes int // ok[1-nodes]
	lines int // per node
	// fleetCmd is what each simulated node runs; localCmd the same output
	// from a local process of the exec worker ("" when the case has none).
	fleetCmd, localCmd string
	// groups are the -b groups csub must print: header line -> body
	// lines; prefix, when set, says each body line of a group starts with
	// its header and a space.
	groups map[string]int
	prefix bool
	// nodeBytes is what all nodes print together.
	nodeBytes int64
}

// outputCases are the scenario's cases at full or small size.
func outputCases(small bool) []outputCase {
	idN, idLines, diN, diLines := 10000, 1000, 50, 200000
	if small {
		idN, idLines, diN, diLines = 500, 100, 5, 20000
	}
	var seqBytes int64
	for i := 1; i <= idLines; i++ {
		seqBytes += int64(len(strconv.Itoa(i)) + 1)
	}
	identical := outputCase{name: "identical", nodes: idN, lines: idLines, fleetCmd: fmt.Sprintf("seq %d", idLines),
		groups: map[string]int{fmt.Sprintf("ok[1-%d] (%d)", idN, idN): idLines}, nodeBytes: int64(idN) * seqBytes}
	distinct := outputCase{name: "distinct", nodes: diN, lines: diLines, fleetCmd: fmt.Sprintf("nodelines %d x", diLines),
		localCmd: fmt.Sprintf(`seq -f "%%h %%%%g x" %d`, diLines), groups: map[string]int{}, prefix: true}
	for k := 1; k <= diN; k++ {
		node := "ok" + strconv.Itoa(k)
		distinct.groups[node] = diLines
		for i := 1; i <= diLines; i++ {
			distinct.nodeBytes += int64(len(node) + 1 + len(strconv.Itoa(i)) + 3)
		}
	}
	return []outputCase{identical, distinct}
}

// outputTopology spreads ok[1-n] over the gateways gw1-gw4, a quarter
// each (nothing under the coordinator's local agent).
func outputTopology(n int) string {
	var b strings.Builder
	b.WriteString("[routes]\nadmin: gw[1-4]\n")
	for g, first := 0, 1; g < 4; g++ {
		last := n * (g + 1) / 4
		if last >= first {
			fmt.Fprintf(&b, "gw%d: ok[%d-%d]\n", g+1, first, last)
		}
		first = last + 1
	}
	return b.String()
}

// gatherCheck reads clush -b output as it streams (never holding it):
// its size, its lines and, per group (the header between two lines of
// dashes), how many body lines it has and how many do not start with the
// header and a space.
type gatherCheck struct {
	bytes, lines int64
	groups       map[string]int
	misprefixed  map[string]int
	partial      []byte
	state        int // 0 body, 1 header expected, 2 closing dashes expected
	group        string
}

const gatherRule = "---------------"

func (g *gatherCheck) Write(p []byte) (int, error) {
	g.bytes += int64(len(p))
	data := p
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			g.partial = append(g.partial, data...)
			break
		}
		line := data[:i]
		if len(g.partial) > 0 {
			line = append(g.partial, line...)
			g.partial = g.partial[:0]
		}
		g.line(line)
		data = data[i+1:]
	}
	return len(p), nil
}

func (g *gatherCheck) line(l []byte) {
	g.lines++
	switch {
	case g.state == 1:
		g.group, g.state = string(l), 2
		if g.groups == nil {
			g.groups, g.misprefixed = map[string]int{}, map[string]int{}
		}
		g.groups[g.group] += 0
	case g.state == 2:
		g.state = 0
	case string(l) == gatherRule:
		g.state = 1
	default:
		g.groups[g.group]++
		if len(l) <= len(g.group) || string(l[:len(g.group)]) != g.group || l[len(g.group)] != ' ' {
			g.misprefixed[g.group]++
		}
	}
}

// verify says what g's output lacks against c ("" when nothing).
func (g *gatherCheck) verify(c outputCase) string {
	if len(g.groups) != len(c.groups) {
		return fmt.Sprintf("%d groups, want %d", len(g.groups), len(c.groups))
	}
	for h, want := range c.groups {
		if got, ok := g.groups[h]; !ok || got != want {
			return fmt.Sprintf("group %q: %d lines (present %v), want %d", h, got, ok, want)
		}
		if c.prefix && g.misprefixed[h] > 0 {
			return fmt.Sprintf("group %q: %d lines not of its node", h, g.misprefixed[h])
		}
	}
	return ""
}

// outputRun is one run's command and what to read of it.
type outputRun struct {
	tool string
	cmd  *exec.Cmd
	// fleet is the fleet the command goes through, nil for local runs.
	fleet *testFleet
	// stop, when set, cancels the context of cmd (exec.CommandContext):
	// it is called timeout after the run starts, and when it ends.
	stop    context.CancelFunc
	timeout time.Duration
}

// runOutput runs r on c's nodes and returns its record.
func runOutput(tb testing.TB, r outputRun, c outputCase, run int) benchrec.Record {
	tb.Helper()
	check := &gatherCheck{}
	var stderr bytes.Buffer
	r.cmd.Stdout, r.cmd.Stderr = check, &stderr
	rec := benchrec.Record{Scenario: "output", Case: c.name, Tool: r.tool, N: c.nodes, Fanout: execFanout, Run: run,
		CPUS: map[string]float64{}, PeakRSSMiB: map[string]float64{},
		Extra: map[string]float64{"load1": loadAvg(), "nodes_output_mib": float64(c.nodeBytes) / (1 << 20)}}
	var before map[string]usage
	var selfBefore usage
	if r.fleet != nil {
		before = fleetUsage(tb, r.fleet)
		selfBefore = selfUsage(tb)
	}
	if r.stop != nil {
		defer time.AfterFunc(r.timeout, r.stop).Stop()
		defer r.stop()
	}
	began := time.Now()
	err, peakKB := runPeak(r.cmd)
	rec.WallS = time.Since(began).Seconds()
	tool := "client" // a local run: the tool and its children
	if r.fleet != nil {
		tool = "csub"
		after := fleetUsage(tb, r.fleet)
		rec.CPUS["coordinator"] = (after["coordinator"].cpu - before["coordinator"].cpu).Seconds()
		rec.PeakRSSMiB["coordinator"] = float64(after["coordinator"].peakKB) / 1024
		for name, u := range after {
			if strings.HasPrefix(name, "agent ") {
				rec.CPUS["agents"] += (u.cpu - before[name].cpu).Seconds()
				rec.PeakRSSMiB["agents"] = max(rec.PeakRSSMiB["agents"], float64(u.peakKB)/1024)
			}
		}
		rec.CPUS["simulator"] = (selfUsage(tb).cpu - selfBefore.cpu).Seconds()
	}
	rec.PeakRSSMiB[tool] = float64(peakKB) / 1024
	if r.cmd.ProcessState != nil {
		rec.CPUS[tool] = (r.cmd.ProcessState.UserTime() + r.cmd.ProcessState.SystemTime()).Seconds()
	}
	rec.Extra["output_mib"] = float64(check.bytes) / (1 << 20)
	rec.Extra["output_lines"] = float64(check.lines)
	switch {
	case err != nil && r.timeout > 0 && rec.WallS >= r.timeout.Seconds():
		rec.Note = fmt.Sprintf("killed at its timeout, %v: %d lines of output by then", r.timeout, check.lines)
	case err != nil:
		rec.Note = fmt.Sprintf("%v: %s", err, strings.TrimSpace(testutil.LastLine(stderr.String())))
	case strings.HasPrefix(r.tool, "csub") || r.fleet != nil:
		rec.Note = csubAccounted(c.nodes, stderr.String())
	}
	if rec.Note == "" {
		rec.Note = check.verify(c)
	}
	rec.OK = rec.Note == ""
	return rec
}

// fleetUsage reads the usage of the fleet's coordinator ("coordinator")
// and of each agent ("agent gwN").
func fleetUsage(tb testing.TB, f *testFleet) map[string]usage {
	tb.Helper()
	u := map[string]usage{"coordinator": procUsage(tb, f.coord.cmd.Process.Pid)}
	for name, p := range f.agents {
		u["agent "+name] = procUsage(tb, p.cmd.Process.Pid)
	}
	return u
}

// stopFleet kills f's coordinator and agents, by PID, and waits for
// them: each run starts a fleet of its own, so that every peak RSS read is
// that run's.
func stopFleet(f *testFleet) {
	for _, p := range f.agents {
		p.kill(syscall.SIGKILL)
	}
	f.coord.kill(syscall.SIGKILL)
}

// BenchmarkOutput is the output scenario; see the comment at the top of
// this file.
func BenchmarkOutput(b *testing.B) {
	repeat := benchRepeat(b)
	out := benchResults(b, "output")
	on := benchTools(b, "fleet", "exec", "clush")
	// clush needs minutes for the distinct case's 10 million lines: once
	// by default, every run with FLEETSH_BENCH_CLUSH=1, never with 0.
	clushAt := func(run int) bool {
		v := os.Getenv("FLEETSH_BENCH_CLUSH")
		return v == "1" || (v == "" && run == 1)
	}
	if _, err := exec.LookPath("clush"); err != nil {
		on["clush"] = false
		b.Logf("no clush: %v", err)
	}
	cases := outputCases(os.Getenv("FLEETSH_BENCH_OUTPUT_SMALL") == "1")
	if s := os.Getenv("FLEETSH_BENCH_CASES"); s != "" {
		var keep []outputCase
		for _, c := range cases {
			if strings.Contains(","+s+",", ","+c.name+",") {
				keep = append(keep, c)
			}
		}
		cases = keep
	}
	sim := nodesim.Start(b, nodesim.Config{})
	for _, c := range cases {
		if c.prefix {
			if err := sim.LoginAsNode(sshtest.NodeNames("ok", c.nodes)...); err != nil {
				b.Fatal(err)
			}
		}
	}
	gateways := []string{"gw1", "gw2", "gw3", "gw4"}
	for b.Loop() {
		var recs []benchrec.Record
		for run := 1; run <= repeat; run++ {
			for _, c := range cases {
				nodes := fmt.Sprintf("ok[1-%d]", c.nodes)
				prof := func(tool string) []string { return benchProfiles(b, c.name, tool, run) }
				maxOut := fmt.Sprintf("--max-output=%dM", c.nodeBytes/int64(c.nodes)>>20+2)
				var runs []outputRun
				if on["fleet"] {
					f := launchGateways(b, "", nil, outputTopology(c.nodes), gateways, "--fanout", strconv.Itoa(execFanout))
					runs = append(runs, outputRun{tool: "fleet 4 agents", fleet: f,
						cmd: csubCmd(b, append(f.csubEnv(), prof("fleet")...), "--fleet", f.natsURL, "-w", nodes, "-f", strconv.Itoa(execFanout), "-b",
							maxOut, "-O", "ssh_config="+sim.Env.ConfigPath, "--summary", c.fleetCmd)})
				}
				if c.localCmd != "" && on["exec"] {
					runs = append(runs, outputRun{tool: "csub -R exec", cmd: csubCmd(b, prof("exec"), "-R", "exec", "-w", nodes,
						"-f", strconv.Itoa(execFanout), "-b", maxOut, "--summary", c.localCmd)})
				}
				if c.localCmd != "" && clushAt(run) && on["clush"] {
					ctx, cancel := context.WithCancel(context.Background())
					cmd := exec.CommandContext(ctx, "clush", "-R", "exec", "-w", nodes, "-f", strconv.Itoa(execFanout), "-b", c.localCmd)
					cmd.Env = append(os.Environ(), "CLUSTERSHELL_CFGDIR="+b.TempDir())
					runs = append(runs, outputRun{tool: "clush -R exec", cmd: cmd, stop: cancel, timeout: clushTimeout})
				}
				for _, r := range runs {
					rec := runOutput(b, r, c, run)
					if r.fleet != nil {
						stopFleet(r.fleet)
					}
					b.Logf("%s %s run %d: %.2f s, CPU %v, peak RSS MiB %v, output %.1f MiB, ok=%v %s", c.name, r.tool, run,
						rec.WallS, fmtFigures(rec.CPUS), fmtFigures(rec.PeakRSSMiB), rec.Extra["output_mib"], rec.OK, rec.Note)
					if err := benchrec.Append(out, rec); err != nil {
						b.Fatal(err)
					}
					recs = append(recs, rec)
				}
			}
		}
		logOutputMedians(b, recs)
	}
}

// benchProfiles is the environment that makes a csub of a bench run
// write CPU and heap profiles (internal/profenv) into the directory
// FLEETSH_BENCH_PROFILES names, as CASE-TOOL-RUN.cpu.pprof and
// .mem.pprof; none when it is unset.
func benchProfiles(tb testing.TB, cas, tool string, run int) []string {
	tb.Helper()
	dir := os.Getenv("FLEETSH_BENCH_PROFILES")
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	base := filepath.Join(dir, fmt.Sprintf("%s-%s-%d", cas, tool, run))
	return []string{profenv.CPUEnv + "=" + base + ".cpu.pprof", profenv.MemEnv + "=" + base + ".mem.pprof"}
}

// fmtFigures prints a role -> figure map in a stable order.
func fmtFigures(m map[string]float64) string {
	var parts []string
	for _, k := range []string{"client", "csub", "coordinator", "agents", "simulator"} {
		if v, ok := m[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %.1f", k, v))
		}
	}
	return strings.Join(parts, ", ")
}

// logOutputMedians logs the medians of recs and the targets:
// csub's peak RSS over the distinct output's size (<= 2x), and csub's
// and the coordinator's peak RSS in the identical case (< 200 MB).
func logOutputMedians(tb testing.TB, recs []benchrec.Record) {
	tb.Helper()
	points, err := benchrec.Medians(recs)
	if err != nil {
		tb.Log(err)
		return
	}
	var s strings.Builder
	s.WriteString("medians:\n| case | tool | N | runs | wall s | CPU s | peak RSS MiB | output MiB | target |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range points {
		target := "-"
		rss := p.PeakRSSMiB["csub"] + p.PeakRSSMiB["client"] // one of them
		switch {
		case p.Runs == 0:
		case p.Case == "distinct" && p.Extra["output_mib"] > 0:
			ratio := rss / p.Extra["output_mib"]
			target = fmt.Sprintf("RSS/output %.2fx (<= 2x: %s)", ratio, holds(ratio <= 2))
		case p.Case == "identical" && p.Tool == "fleet 4 agents":
			// 200 MB, decimal, as the issue writes it.
			limit := 200e6 / (1 << 20)
			target = fmt.Sprintf("csub %.0f, coordinator %.0f MiB (< 200 MB = %.0f MiB: %s)", rss, p.PeakRSSMiB["coordinator"],
				limit, holds(rss < limit && p.PeakRSSMiB["coordinator"] < limit))
		}
		fmt.Fprintf(&s, "| %s | %s | %d | %d (%d failed) | %.2f | %s | %s | %.1f | %s |\n", p.Case, p.Tool, p.N, p.Runs, p.Failed,
			p.WallS, fmtFigures(p.CPUS), fmtFigures(p.PeakRSSMiB), p.Extra["output_mib"], target)
	}
	tb.Log(s.String())
}

// holds says whether a target holds.
func holds(ok bool) string {
	if ok {
		return "holds"
	}
	return "missed"
}

// TestCsubProfiles checks csub writes the profiles FLEETSH_CPUPROFILE
// and FLEETSH_MEMPROFILE ask for (internal/profenv), which the bench
// scenarios read to see where csub's time and memory go.
func TestCsubProfiles(t *testing.T) {
	dir := t.TempDir()
	cpu, mem := filepath.Join(dir, "cpu.pprof"), filepath.Join(dir, "mem.pprof")
	cmd := csubCmd(t, []string{"FLEETSH_CPUPROFILE=" + cpu, "FLEETSH_MEMPROFILE=" + mem}, "-R", "exec", "-w", "n[1-3]", "echo %h")
	if out, err := cmd.CombinedOutput(); err != nil || len(out) == 0 {
		t.Fatalf("csub: %v\n%s", err, out)
	}
	for _, path := range []string{cpu, mem} {
		// A profile is gzipped protobuf.
		if data, err := os.ReadFile(path); err != nil || !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			t.Errorf("%s: %d bytes, %v: not a profile", path, len(data), err)
		}
	}
}
