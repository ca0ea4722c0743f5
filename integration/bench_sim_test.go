package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/benchrec"
	"github.com/fleetsh/fleetsh/internal/nodesim"
)

// The tools of the simulated-nodes scenario.
const (
	simFleet1 = "fleet 1 agent"
	simFleet2 = "fleet 2 agents"
	simFleet4 = "fleet 4 agents"
	simFleet8 = "fleet 8 agents"
	simInProc = "csub in-process"
	simBare   = "bare x/crypto/ssh"
)

// simTools are the tools each repetition runs by default, in order.
var simTools = []string{simFleet4, simFleet8, simInProc, simBare}

// simKnown are all the tools FLEETSH_BENCH_SIM_TOOLS may name: the
// defaults and the fleets of one and two agents, which tell how an
// agent's CPU per node grows with the agent processes sharing the
// machine's cores.
var simKnown = []string{simFleet1, simFleet2, simFleet4, simFleet8, simInProc, simBare}

// simAgents is the number of gateway agents of each fleet tool.
var simAgents = map[string]int{simFleet1: 1, simFleet2: 2, simFleet4: 4, simFleet8: 8}

// BenchmarkSim is the simulated-nodes scenario of bench/sim (run.sh says
// how to run it, docs/bench/sim.md what it found): the command `true` on N
// healthy simulated nodes (internal/nodesim, served by this process),
// through
//
//   - "fleet 4 agents": a coordinator embedding NATS (TLS, credentials)
//     and four gateway agents, each serving a quarter of the nodes (its
//     own gateway group; the coordinator's local agent serves none), the
//     agents at --fanout 256 and csub --fleet at -f 256;
//   - "fleet 8 agents": the same with eight agents, an eighth each, for
//     N of at least FLEETSH_BENCH_SIM_8 (default 10000, so that the 8-agent
//     curve has more than the 100 000 point);
//   - "fleet 1 agent" and "fleet 2 agents" (only when named): the same
//     with one agent serving every node, or two a half each;
//   - "csub in-process": csub -f 256 without --fleet (its in-process
//     coordinator and one agent);
//   - "bare x/crypto/ssh": bench/sim/bareloop, a bare client making N
//     connections to the simulator 256 at a time: the per-node floor.
//
// Each repetition runs every tool once at one N, a fresh fleet for each
// fleet run. A run records its wall time; CPU per role (csub; coordinator,
// which embeds the NATS server and its idle local agent; agents summed;
// simulator: this process's own CPU over the run; client: bareloop), its
// context switches (Extra "switches_<role>": how often its threads slept
// and woke, or were preempted), peak RSS per role (the largest agent);
// and it is OK only when every node is
// accounted for: csub exits 0 and its --summary counts N nodes exited
// with status 0 (bareloop: N connections ran the command).
//
// Environment: FLEETSH_BENCH_N (sizes, default "1000,10000"; the issue's
// sweep is 1000,10000,50000,100000), FLEETSH_BENCH_REPEAT (runs per point,
// default 3), FLEETSH_BENCH_OUT (records, default
// bench/results/sim.jsonl), FLEETSH_BENCH_SIM_TOOLS (comma list of tools
// to run among simKnown, default simTools), FLEETSH_BENCH_SIM_8 (smallest N of the 8-agent
// fleet, default 10000), FLEETSH_BENCH_FANOUT (default 256),
// FLEETSH_BENCH_AGENT_ENV (NAME=VALUE words added to the agents'
// environment alone, e.g. GOMAXPROCS=1; a fleet run's note names them).
func BenchmarkSim(b *testing.B) {
	sizes := benchInts(b, "FLEETSH_BENCH_N", "1000,10000")
	repeat := benchRepeat(b)
	eightFrom := benchInts(b, "FLEETSH_BENCH_SIM_8", "10000")[0]
	fanout := benchInts(b, "FLEETSH_BENCH_FANOUT", "256")[0]
	tools := simTools
	if os.Getenv("FLEETSH_BENCH_SIM_TOOLS") != "" {
		tools = benchToolList(b, "FLEETSH_BENCH_SIM_TOOLS", simKnown...)
	}
	out := benchResults(b, "sim")
	binaries(b)
	bare := simBareloop(b)
	s := &simBench{b: b, fanout: fanout, out: out, bare: bare}
	s.sim = nodesim.Start(b, nodesim.Config{})
	for _, n := range sizes {
		for run := 1; run <= repeat; run++ {
			for _, tool := range tools {
				if tool == simFleet8 && n < eightFrom {
					continue
				}
				rec := s.run(tool, n, run)
				b.Logf("%s N=%d run %d: %.2f s, ok %v, cpu %v, peak RSS %v MiB, %v %s", tool, n, run, rec.WallS, rec.OK,
					simRound(rec.CPUS), simRound(rec.PeakRSSMiB), simRound(rec.Extra), rec.Note)
				if err := benchrec.Append(out, rec); err != nil {
					b.Fatal(err)
				}
				s.recs = append(s.recs, rec)
			}
		}
	}
	b.Log(simReport(s.recs))
}

// simBench is one BenchmarkSim run.
type simBench struct {
	b      *testing.B
	sim    *nodesim.Sim
	bare   string // the bareloop binary
	fanout int
	out    string
	recs   []benchrec.Record
}

// run runs tool once on N nodes and returns its record.
func (s *simBench) run(tool string, n, run int) benchrec.Record {
	rec := benchrec.Record{Scenario: "sim", Tool: tool, N: n, Fanout: s.fanout, Run: run,
		CPUS: map[string]float64{}, PeakRSSMiB: map[string]float64{}, Extra: map[string]float64{}}
	ok := s.sim.Servers[nodesim.OK]
	before := ok.Stats()
	ok.ResetMaxSessions()
	self := selfUsage(s.b)
	busy0, busyErr := machineBusy()
	net0 := simNetCounters()
	var err error
	switch tool {
	case simFleet1, simFleet2, simFleet4, simFleet8:
		err = s.runFleet(&rec, simAgents[tool])
	case simInProc:
		err = s.runCsub(&rec, nil, "")
	case simBare:
		err = s.runBare(&rec)
	}
	after := ok.Stats()
	selfAfter := selfUsage(s.b)
	rec.CPUS["simulator"] = (selfAfter.cpu - self.cpu).Seconds()
	rec.Extra["switches_simulator"] = float64(selfAfter.switches - self.switches)
	rec.Extra["sleeps_simulator"] = float64(selfAfter.sleeps - self.sleeps)
	if busy, err := machineBusy(); err == nil && busyErr == nil {
		// What the machine's CPUs did over the run, ours and others':
		// a wall time well above ours/cores means others ran too.
		rec.Extra["busy_s"] = busy - busy0
		var ours float64
		for _, c := range rec.CPUS {
			ours += c
		}
		rec.Extra["others_cpu_s"] = max(0, busy-busy0-ours)
		// The wall the run would take on a machine of its own, were it
		// bound by CPU: its processes' CPU over the cores.
		rec.Extra["cpu_bound_s"] = ours / float64(runtime.NumCPU())
	}
	rec.PeakRSSMiB["simulator"] = float64(selfUsage(s.b).peakKB) / 1024
	rec.Extra["sim_execs"] = float64(after.Execs - before.Execs)
	rec.Extra["sim_max_sessions"] = float64(after.MaxSessions)
	rec.Extra["sim_cpu_ms_per_node"] = 1000 * rec.CPUS["simulator"] / float64(n)
	// The machine's, not the run's alone: a loopback connection that
	// waits on a retransmission or a dropped SYN waits 200 ms to 1 s.
	for k, v := range simNetCounters() {
		rec.Extra[k] = float64(v - net0[k])
	}
	if tw, err := simTimeWait(); err == nil {
		rec.Extra["time_wait_after"] = float64(tw)
	}
	var kex []string
	for k, c := range after.KeyExchanges {
		if d := c - before.KeyExchanges[k]; d > 0 {
			kex = append(kex, fmt.Sprintf("%s×%d", k, d))
		}
	}
	slices.Sort(kex)
	notes := []string{"simulator saw kex " + strings.Join(kex, ",")}
	if rec.Note != "" {
		notes = append(notes, rec.Note)
	}
	if err != nil {
		notes = append(notes, err.Error())
	} else {
		rec.OK = true
	}
	if after.Execs-before.Execs != n {
		notes = append(notes, fmt.Sprintf("the simulator ran %d commands for %d nodes", after.Execs-before.Execs, n))
	}
	rec.Note = strings.Join(notes, "; ")
	return rec
}

// simTopology gives each of k gateway agents gw1..gwk a group of its
// own with 1/k of ok[1-n]; the coordinator's local agent gets none.
func simTopology(n, k int) (topology string, gateways []string) {
	var b strings.Builder
	fmt.Fprintf(&b, "[routes]\nadmin: gw[1-%d]\n", k)
	for i := range k {
		fmt.Fprintf(&b, "gw%d: ok[%d-%d]\n", i+1, i*n/k+1, (i+1)*n/k)
		gateways = append(gateways, fmt.Sprintf("gw%d", i+1))
	}
	return b.String(), gateways
}

// runFleet starts a fleet of k agents, runs csub --fleet on it, and
// records what csub, the coordinator and the agents cost; the fleet is
// stopped after.
func (s *simBench) runFleet(rec *benchrec.Record, k int) error {
	topo, gws := simTopology(rec.N, k)
	f := launchGateways(s.b, "", nil, topo, gws, "--fanout", strconv.Itoa(s.fanout))
	defer func() {
		f.coord.kill(syscall.SIGKILL)
		for _, a := range f.agents {
			a.kill(syscall.SIGKILL)
		}
	}()
	coord0 := procUsage(s.b, f.coord.cmd.Process.Pid)
	agents0 := map[string]usage{}
	for gw, a := range f.agents {
		agents0[gw] = procUsage(s.b, a.cmd.Process.Pid)
	}
	err := s.runCsub(rec, f.csubEnv(), f.natsURL)
	coord := procUsage(s.b, f.coord.cmd.Process.Pid)
	rec.CPUS["coordinator"] = (coord.cpu - coord0.cpu).Seconds()
	rec.Extra["switches_coordinator"] = float64(coord.switches - coord0.switches)
	rec.Extra["sleeps_coordinator"] = float64(coord.sleeps - coord0.sleeps)
	rec.PeakRSSMiB["coordinator"] = float64(coord.peakKB) / 1024
	var agentCPU time.Duration
	var agentPeak, agentSwitches, agentSleeps int64
	for gw, a := range f.agents {
		u := procUsage(s.b, a.cmd.Process.Pid)
		agentCPU += u.cpu - agents0[gw].cpu
		agentSwitches += u.switches - agents0[gw].switches
		agentSleeps += u.sleeps - agents0[gw].sleeps
		agentPeak = max(agentPeak, u.peakKB)
	}
	rec.Extra["switches_agents"] = float64(agentSwitches)
	rec.Extra["sleeps_agents"] = float64(agentSleeps)
	if env := os.Getenv("FLEETSH_BENCH_AGENT_ENV"); env != "" {
		rec.Note = "agents ran with " + env
	}
	rec.CPUS["agents"] = agentCPU.Seconds()
	rec.PeakRSSMiB["agents"] = float64(agentPeak) / 1024
	rec.Extra["agent_cpu_ms_per_node"] = 1000 * agentCPU.Seconds() / float64(rec.N)
	return err
}

// runCsub runs csub -f fanout `true` on ok[1-N], on the fleet at fleet
// (with env) or, with fleet "", in process, and checks its summary.
func (s *simBench) runCsub(rec *benchrec.Record, env []string, fleet string) error {
	args := []string{"-w", fmt.Sprintf("ok[1-%d]", rec.N), "-f", strconv.Itoa(s.fanout),
		"-O", "ssh_config=" + s.sim.Env.ConfigPath, "--summary", "true"}
	if fleet != "" {
		args = append([]string{"--fleet", fleet}, args...)
	}
	stdout, stderr, cpu, err := simMeasure(rec, csubCmd(s.b, env, args...), "csub")
	if fleet == "" {
		// The in-process fleet's agent is csub itself (with its
		// coordinator and NATS server, both light next to the SSH work).
		rec.Extra["agent_cpu_ms_per_node"] = 1000 * cpu.Seconds() / float64(rec.N)
	}
	if err != nil {
		return fmt.Errorf("csub: %w: %s", err, simTail(stderr))
	}
	// csub: 1000 nodes in 1.2s: 1000 exited (1000 rc=0)
	line := strings.TrimSpace(stderr)
	want := fmt.Sprintf(": %d exited (%d rc=0)", rec.N, rec.N)
	if !strings.HasPrefix(line, fmt.Sprintf("csub: %d nodes in ", rec.N)) || !strings.HasSuffix(line, want) || stdout != "" {
		return fmt.Errorf("csub did not account for %d nodes exited 0: %s%s", rec.N, simTail(stdout), simTail(line))
	}
	return nil
}

// simMeasure runs cmd, a process of role, and records its wall time,
// CPU and peak RSS.
func simMeasure(rec *benchrec.Record, cmd *exec.Cmd, role string) (stdout, stderr string, cpu time.Duration, err error) {
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	began := time.Now()
	err, peak := runPeak(cmd)
	rec.WallS = time.Since(began).Seconds()
	if cmd.ProcessState != nil {
		cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rec.Extra["switches_"+role] = float64(ru.Nvcsw + ru.Nivcsw)
			rec.Extra["sleeps_"+role] = float64(ru.Nvcsw)
		}
	}
	rec.CPUS[role] = cpu.Seconds()
	rec.PeakRSSMiB[role] = float64(peak) / 1024
	return out.String(), errb.String(), cpu, err
}

// bareResult is bareloop's output line.
type bareResult struct {
	OK         int    `json:"ok"`
	Failed     int    `json:"failed"`
	FirstError string `json:"first_error"`
	Kex        string `json:"kex"`
	HostKey    string `json:"host_key"`
	Cipher     string `json:"cipher"`
}

// runBare runs bareloop: N connections to the simulator's ok server.
func (s *simBench) runBare(rec *benchrec.Record) error {
	ok := s.sim.Servers[nodesim.OK]
	cmd := exec.Command(s.bare, "-addr", ok.Addr(), "-key", s.sim.Env.KeyPath, "-known-hosts", s.sim.Env.KnownHostsPath,
		"-n", strconv.Itoa(rec.N), "-fanout", strconv.Itoa(s.fanout))
	stdout, stderr, cpu, err := simMeasure(rec, cmd, "client")
	rec.Extra["bare_cpu_ms_per_node"] = 1000 * cpu.Seconds() / float64(rec.N)
	var r bareResult
	if jerr := json.Unmarshal([]byte(stdout), &r); jerr != nil {
		return fmt.Errorf("bareloop: %v, output %q: %w: %s", err, stdout, jerr, simTail(stderr))
	}
	rec.Note = fmt.Sprintf("bareloop negotiated %s, %s, %s", r.Kex, r.HostKey, r.Cipher)
	if err != nil || r.OK != rec.N {
		return fmt.Errorf("bareloop: %v: %d of %d ran, first error: %s", err, r.OK, rec.N, r.FirstError)
	}
	return nil
}

// simBareloop builds bench/sim/bareloop, once per test process, and
// returns its path.
func simBareloop(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(bareloopBin.Dir(tb), "bareloop")
}

// simTimeWait counts the machine's IPv4 TCP sockets in TIME_WAIT: N
// connections over loopback leave up to N of them for a minute, each
// holding its client port (or the server's side of the pair: whichever
// side closed first waits), and the ports run out past about 28 000 unless
// the kernel reuses them (net.ipv4.tcp_tw_reuse, on for loopback by
// default).
func simTimeWait() (int, error) {
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return 0, err
	}
	n := 0
	for line := range strings.Lines(string(data)) {
		// sl local_address rem_address st ...: st 06 is TIME_WAIT.
		if f := strings.Fields(line); len(f) > 3 && f[3] == "06" {
			n++
		}
	}
	return n, nil
}

// simNetCounters reads the machine's TCP retransmissions and listen
// queue drops (/proc/net/snmp, /proc/net/netstat); an unreadable file
// gives no figure.
func simNetCounters() map[string]int64 {
	want := map[string]string{"Tcp:RetransSegs": "tcp_retrans", "TcpExt:ListenDrops": "listen_drops"}
	got := map[string]int64{}
	for _, file := range []string{"/proc/net/snmp", "/proc/net/netstat"} {
		data, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		// Each protocol has a line of names and a line of values.
		lines := strings.Split(string(data), "\n")
		for i := 0; i+1 < len(lines); i += 2 {
			names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
			if len(names) != len(values) || len(names) == 0 {
				continue
			}
			for j := 1; j < len(names); j++ {
				if key, ok := want[names[0]+names[j]]; ok {
					if v, err := strconv.ParseInt(values[j], 10, 64); err == nil {
						got[key] = v
					}
				}
			}
		}
	}
	return got
}

// simTail is the end of a process's output, for an error.
func simTail(s string) string {
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}

// simRound rounds a record's figures for a log line.
func simRound(m map[string]float64) map[string]float64 {
	r := make(map[string]float64, len(m))
	for k, v := range m {
		r[k] = float64(int64(v*1000+0.5)) / 1000
	}
	return r
}

// simReport is the scenario's summary: the medians per tool and N, and
// the ratios the targets name.
func simReport(recs []benchrec.Record) string {
	points, err := benchrec.Medians(recs)
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	b.WriteString("\nmedians (CPU s; cpu/cores: the run's CPU over the cores, its wall on a machine of its own if bound by CPU;\n" +
		"others: the machine's busy time not ours; peak RSS MiB; agents: sum of CPU, largest RSS):\n")
	fmt.Fprintf(&b, "%-18s %7s %5s %8s %9s %9s %7s %7s %7s %7s %7s %7s %9s %6s %6s %6s\n", "tool", "N", "runs", "wall s", "cpu/cores", "ms/node",
		"csub", "coord", "agents", "client", "sim", "others", "agent ms", "RSS cs", "co", "ag")
	byTool := map[string][]benchrec.Point{}
	at := map[string]map[int]benchrec.Point{}
	for _, p := range points {
		if p.Runs == 0 {
			fmt.Fprintf(&b, "%-18s %7d %2d/%-2d no successful run\n", p.Tool, p.N, p.Runs, p.Runs+p.Failed)
			continue
		}
		fmt.Fprintf(&b, "%-18s %7d %2d/%-2d %8.2f %9.2f %9.3f %7.2f %7.2f %7.2f %7.2f %7.2f %7.2f %9.3f %6.0f %6.0f %6.0f\n", p.Tool, p.N,
			p.Runs, p.Runs+p.Failed, p.WallS, p.Extra["cpu_bound_s"], 1000*p.WallS/float64(p.N), p.CPUS["csub"], p.CPUS["coordinator"], p.CPUS["agents"],
			p.CPUS["client"], p.CPUS["simulator"], p.Extra["others_cpu_s"], p.Extra["agent_cpu_ms_per_node"]+p.Extra["bare_cpu_ms_per_node"],
			p.PeakRSSMiB["csub"]+p.PeakRSSMiB["client"], p.PeakRSSMiB["coordinator"], p.PeakRSSMiB["agents"])
		byTool[p.Tool] = append(byTool[p.Tool], p)
		if at[p.Tool] == nil {
			at[p.Tool] = map[int]benchrec.Point{}
		}
		at[p.Tool][p.N] = p
	}
	b.WriteString("\nagent CPU per node against the bare x/crypto/ssh loop's (target <= 1.1x):\n")
	for _, tool := range []string{simFleet1, simFleet2, simFleet4, simFleet8, simInProc} {
		for _, p := range byTool[tool] {
			if bare, ok := at[simBare][p.N]; ok && bare.Extra["bare_cpu_ms_per_node"] > 0 {
				r := p.Extra["agent_cpu_ms_per_node"] / bare.Extra["bare_cpu_ms_per_node"]
				fmt.Fprintf(&b, "  %-16s N=%-7d %.3f ms / %.3f ms = %.2fx %s\n", tool, p.N, p.Extra["agent_cpu_ms_per_node"],
					bare.Extra["bare_cpu_ms_per_node"], r, simHolds(r <= 1.1))
			}
		}
	}
	b.WriteString("\ncontext switches per node, all (of which sleeps): the client side (agents, csub in process, or the bare loop),\n" +
		"the coordinator, the simulator:\n")
	for _, p := range points {
		if p.Runs == 0 {
			continue
		}
		client := "client"
		switch p.Tool {
		case simInProc:
			client = "csub"
		case simFleet1, simFleet2, simFleet4, simFleet8:
			client = "agents"
		}
		per := func(role string) string {
			return fmt.Sprintf("%5.1f (%5.1f)", p.Extra["switches_"+role]/float64(p.N), p.Extra["sleeps_"+role]/float64(p.N))
		}
		fmt.Fprintf(&b, "  %-16s N=%-7d client %s  coordinator %s  simulator %s\n", p.Tool, p.N, per(client), per("coordinator"), per("simulator"))
	}
	b.WriteString("\nwall targets:\n")
	for _, t := range []struct {
		tool  string
		n     int
		bound float64
	}{{simFleet4, 10000, 10}, {simFleet8, 100000, 110}} {
		if p, ok := at[t.tool][t.n]; ok {
			fmt.Fprintf(&b, "  %-16s N=%-7d %.2f s (target <= %.0f s) %s\n", t.tool, t.n, p.WallS, t.bound, simHolds(p.WallS <= t.bound))
		} else {
			fmt.Fprintf(&b, "  %-16s N=%-7d not run\n", t.tool, t.n)
		}
	}
	b.WriteString("\nlinearity (wall per node at the largest N over the smallest):\n")
	for _, tool := range simKnown {
		ps := byTool[tool]
		if len(ps) < 2 {
			continue
		}
		lo, hi := ps[0], ps[len(ps)-1]
		r := (hi.WallS / float64(hi.N)) / (lo.WallS / float64(lo.N))
		fmt.Fprintf(&b, "  %-16s N=%d -> %d: %.3f -> %.3f ms/node = %.2fx", tool, lo.N, hi.N,
			1000*lo.WallS/float64(lo.N), 1000*hi.WallS/float64(hi.N), r)
		// The same of cpu/cores, which others' load on the machine
		// does not move.
		if c0, c1 := lo.Extra["cpu_bound_s"], hi.Extra["cpu_bound_s"]; c0 > 0 && c1 > 0 {
			fmt.Fprintf(&b, "; cpu/cores %.2fx", (c1/float64(hi.N))/(c0/float64(lo.N)))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// simHolds says whether a target holds.
func simHolds(ok bool) string {
	if ok {
		return "holds"
	}
	return "MISSED"
}
