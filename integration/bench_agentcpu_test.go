package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/nodesim"
	"github.com/fleetsh/fleetsh/internal/testutil"
)

// agentCPUGateways are the four agents of BenchmarkAgentCPU, one gateway
// group each.
var agentCPUGateways = []string{"gw1", "gw2", "gw3", "gw4"}

// agentCPUTopology spreads ok[1-n] evenly over agentCPUGateways; the
// coordinator's local agent gets no node.
func agentCPUTopology(n int) string {
	var b strings.Builder
	b.WriteString("[routes]\nadmin: gw[1-4]\n")
	per := n / len(agentCPUGateways)
	for i, gw := range agentCPUGateways {
		last := (i + 1) * per
		if i == len(agentCPUGateways)-1 {
			last = n
		}
		fmt.Fprintf(&b, "%s: ok[%d-%d]\n", gw, i*per+1, last)
	}
	return b.String()
}

// BenchmarkAgentCPU runs `true` on FLEETSH_BENCH_N simulated nodes
// (default 10000) through a coordinator and four agents at fanout 256,
// submitted by csub, then the same nodes through a bare x/crypto/ssh
// client loop in a child process, and through csub's in-process fleet,
// and logs wall time and CPU per node of each role: the rig of docs/bench/agentcpu.md. With
// FLEETSH_BENCH_PROFILE=DIR the coordinator and the agents write CPU
// profiles (--cpu-profile) to DIR/coordinator.pprof and
// DIR/agent-gwN.pprof, the bare loop to DIR/bare.pprof. With
// FLEETSH_BENCH_GOMAXPROCS=P the processes it starts run with
// GOMAXPROCS=P. FLEETSH_BENCH_TOOLS (a comma list of fleet, inproc,
// bare; all by default) picks the runs.
//
//	flock /work/wt/bench.lock go test ./integration -run '^$' -bench AgentCPU -benchtime 1x -timeout 30m
func BenchmarkAgentCPU(b *testing.B) {
	sizes := []int{10000}
	if v := os.Getenv("FLEETSH_BENCH_N"); v != "" {
		sizes = sizes[:0]
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < len(agentCPUGateways) {
				b.Fatalf("FLEETSH_BENCH_N: %q", v)
			}
			sizes = append(sizes, n)
		}
	}
	profDir := os.Getenv("FLEETSH_BENCH_PROFILE")
	tools := benchTools(b, "fleet", "inproc", "bare")
	if v := os.Getenv("FLEETSH_BENCH_GOMAXPROCS"); v != "" {
		// The processes started from here on (daemons, csub, the bare
		// loop); the simulator, in this process, keeps its own.
		b.Setenv("GOMAXPROCS", v)
	}
	for range b.N {
		for _, n := range sizes {
			if tools["fleet"] {
				fleetCPURun(b, n, profDir)
			}
			if tools["inproc"] {
				inProcessCPURun(b, n)
			}
			if tools["bare"] {
				bareCPURun(b, n, profDir)
			}
		}
	}
}

// fleetCPURun is one fleet run of BenchmarkAgentCPU on n nodes.
func fleetCPURun(b *testing.B, n int, profDir string) {
	sim := nodesim.Start(b, nodesim.Config{})
	var coordArgs []string
	if profDir != "" {
		coordArgs = []string{"--cpu-profile", filepath.Join(profDir, "coordinator.pprof")}
	}
	agentArgs := func(gw string) []string {
		if profDir != "" {
			return []string{"--fanout", "256", "--cpu-profile", filepath.Join(profDir, "agent-"+gw+".pprof")}
		}
		return []string{"--fanout", "256"}
	}
	f := launchGatewaysArgs(b, coordArgs, agentArgs, "", nil, agentCPUTopology(n), agentCPUGateways)
	before := map[string]time.Duration{"coordinator": procUsage(b, f.coord.cmd.Process.Pid).cpu}
	for _, gw := range agentCPUGateways {
		before[gw] = procUsage(b, f.agents[gw].cmd.Process.Pid).cpu
	}
	cmd := csubCmd(b, f.csubEnv(), "--fleet", f.natsURL, "-w", fmt.Sprintf("ok[1-%d]", n), "-f", "256",
		"-O", "ssh_config="+sim.Env.ConfigPath, "--summary", "true")
	out, wall, csubCPU := runCPU(b, "csub", cmd)
	coordCPU := procUsage(b, f.coord.cmd.Process.Pid).cpu - before["coordinator"]
	var agentsCPU time.Duration
	per := make([]string, 0, len(agentCPUGateways))
	for _, gw := range agentCPUGateways {
		c := procUsage(b, f.agents[gw].cmd.Process.Pid).cpu - before[gw]
		agentsCPU += c
		per = append(per, fmt.Sprintf("%s %v", gw, c.Round(10*time.Millisecond)))
	}
	if profDir != "" { // the profiles are written at a clean stop
		for _, gw := range agentCPUGateways {
			f.agents[gw].kill(syscall.SIGTERM)
		}
		f.coord.kill(syscall.SIGTERM)
	}
	b.Logf("fleet 4 agents, N=%d fanout 256: wall %v; agents %.3f ms/node (%s); coordinator %.3f ms/node; csub %.3f ms/node; summary %s",
		n, wall.Round(10*time.Millisecond), ms(agentsCPU)/float64(n), strings.Join(per, ", "), ms(coordCPU)/float64(n),
		ms(csubCPU)/float64(n), strings.TrimSpace(testutil.LastLine(string(out))))
}

// inProcessCPURun runs the same job through csub's in-process fleet (one
// agent in csub's process) and logs its wall time and CPU per node.
func inProcessCPURun(b *testing.B, n int) {
	sim := nodesim.Start(b, nodesim.Config{})
	cmd := csubCmd(b, nil, "-w", fmt.Sprintf("ok[1-%d]", n), "-f", "256", "-O", "ssh_config="+sim.Env.ConfigPath, "--summary", "true")
	_, wall, cpu := runCPU(b, "csub in-process", cmd)
	b.Logf("csub in-process, N=%d fanout 256: wall %v; csub (coordinator and agent) %.3f ms/node", n, wall.Round(10*time.Millisecond), ms(cpu)/float64(n))
}

// runCPU runs cmd to its end and returns its combined output, its wall
// time and its CPU time (user and system, with the children it waited
// for); it fails tb, naming what, when cmd fails.
func runCPU(tb testing.TB, what string, cmd *exec.Cmd) (out []byte, wall, cpu time.Duration) {
	tb.Helper()
	began := time.Now()
	out, err := cmd.CombinedOutput()
	wall = time.Since(began)
	if err != nil {
		tb.Fatalf("%s: %v\n%s", what, err, out)
	}
	return out, wall, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// bareCPURun runs bench/sim/bareloop on n ok nodes of a simulator and
// logs its wall time and CPU per node; with profDir, its CPU profile goes
// to profDir/bare.pprof.
func bareCPURun(b *testing.B, n int, profDir string) {
	sim := nodesim.Start(b, nodesim.Config{})
	bin := simBareloop(b)
	args := []string{"-addr", sim.Servers[nodesim.OK].Addr(), "-key", sim.Env.KeyPath, "-known-hosts", sim.Env.KnownHostsPath,
		"-n", strconv.Itoa(n), "-fanout", "256"}
	if profDir != "" {
		args = append(args, "-cpuprofile", filepath.Join(profDir, "bare.pprof"))
	}
	_, wall, cpu := runCPU(b, "bare loop", exec.Command(bin, args...))
	b.Logf("bare x/crypto/ssh, N=%d fanout 256: wall %v (process, with its start); client %.3f ms/node", n,
		wall.Round(10*time.Millisecond), ms(cpu)/float64(n))
}
