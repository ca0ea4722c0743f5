package integration

// The "sshd" bench scenario: csub (its native ssh worker, in-process
// fleet), csub -R openssh, ClusterShell's clush and pdsh -R ssh run `true`
// on N node names that all reach one throwaway OpenSSH sshd on 127.0.0.1,
// one tool after the other within each repetition. On one machine the
// server's CPU (sshd forks and re-executes itself per connection) bounds
// every tool's wall time: the figures that compare tools are client CPU,
// and wall time against that server-bound limit. bench/sshd/run.sh runs
// it; docs/bench/sshd.md says what it found.
//
//	FLEETSH_BENCH_N=50,200          node counts (full: 50,200,1000)
//	FLEETSH_BENCH_FANOUT=64,256     fanouts (each a case: "fanout 64")
//	FLEETSH_BENCH_REPEAT=3          runs per point, interleaved across tools
//	FLEETSH_BENCH_TOOLS=...         comma list of tools, default all four
//	FLEETSH_BENCH_OUT=path          results (default bench/results/sshd.jsonl)
//	FLEETSH_BENCH_CPUPROFILE=file   after the sweep, run csub once more in
//	                                this process (largest N and fanout)
//	                                under the CPU profiler, into file

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/benchrec"
	csubcli "github.com/fleetsh/fleetsh/internal/csub"
	"github.com/fleetsh/fleetsh/internal/sshdtest"
	"github.com/fleetsh/fleetsh/internal/testutil"
	wexec "github.com/fleetsh/fleetsh/pkg/workers/exec"
)

// sshdBenchKex is the one key exchange every tool uses: sshd offers
// nothing else, and the ssh_config asks for it. OpenSSH 9.2's client would
// otherwise take sntrup761x25519 and x/crypto curve25519, which cost
// differently.
const sshdBenchKex = "curve25519-sha256"

// sshdBenchTools are the tools compared, in the order of a repetition's
// first run (each repetition starts one further along).
var sshdBenchTools = []string{"csub", "csub -R openssh", "clush", "pdsh -R ssh"}

// sshdBench is what every run of the scenario shares.
type sshdBench struct {
	srv    *sshdtest.Server
	csub   string   // csub binary
	sshCfg string   // ssh_config: every name to srv
	env    []string // environment of every tool
	dir    string
}

// BenchmarkSSHD runs the sweep once (use -benchtime 1x), appending one
// benchrec.Record per run, and logs medians and the ratios.
func BenchmarkSSHD(b *testing.B) {
	ns := benchInts(b, "FLEETSH_BENCH_N", "50,200")
	fanouts := benchInts(b, "FLEETSH_BENCH_FANOUT", "64,256")
	repeat := benchRepeat(b)
	tools := benchToolList(b, "FLEETSH_BENCH_TOOLS", sshdBenchTools...)
	out := benchResults(b, "sshd")
	// bench/sshd/run.sh names the packages too.
	testutil.RequireCommands(b, "clustershell pdsh openssh-client", "/usr/bin/clush", "/usr/bin/pdsh", "ssh")
	sb := startSSHDBench(b)
	cores := runtime.NumCPU()
	b.Logf("sshd %s (MaxStartups 1024, kex %s), %d cores, results to %s", sb.srv.Addr, sshdBenchKex, cores, out)
	var recs []benchrec.Record
	for _, fanout := range fanouts {
		for _, n := range ns {
			for run := 1; run <= repeat; run++ {
				for i := range tools {
					tool := tools[(i+run-1)%len(tools)]
					rec := sb.run(b, tool, n, fanout, run, cores)
					b.Logf("%-15s N=%-5d fanout %-3d run %d: wall %6.2fs client %6.2fs server %6.2fs (sshd %6.2fs) limit %6.2fs ok=%v %s",
						tool, n, fanout, run, rec.WallS, rec.CPUS["client"], rec.CPUS["server"], rec.Extra["sshd_s"], rec.Extra["limit_s"], rec.OK, rec.Note)
					if err := benchrec.Append(out, rec); err != nil {
						b.Fatal(err)
					}
					recs = append(recs, rec)
				}
			}
		}
	}
	sshdBenchReport(b, recs)
	if path := os.Getenv("FLEETSH_BENCH_CPUPROFILE"); path != "" {
		sb.profile(b, path, slices.Max(ns), slices.Max(fanouts))
	}
}

// profile runs csub's sweep command line once more through csub.Main in
// this process, under the CPU profiler, to show where csub's client CPU
// goes: the profile holds csub's in-process fleet, its ssh connections and
// little else (this process only waits meanwhile).
func (sb *sshdBench) profile(b *testing.B, path string, n, fanout int) {
	env := map[string]string{}
	for _, kv := range sb.env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var stderr bytes.Buffer
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	code := csubcli.Main(sb.argv("csub", n, fanout)[1:], strings.NewReader(""), io.Discard, &stderr, func(k string) string { return env[k] })
	wall := time.Since(start)
	pprof.StopCPUProfile()
	if code != 0 {
		b.Errorf("csub in process: exit %d: %s", code, sshdBenchTail(stderr.String()))
	}
	b.Logf("CPU profile of csub in process, N=%d fanout %d (wall %v): %s", n, fanout, wall.Round(time.Millisecond), path)
}

// startSSHDBench starts sshd and writes the configuration every tool
// reads: an ssh_config sending any name to it, and an empty clush.conf
// directory and HOME, so that neither the user's ~/.ssh nor
// /etc/clustershell changes what runs.
func startSSHDBench(b *testing.B) *sshdBench {
	srv := sshdtest.StartWith(b, sshdtest.Options{MaxStartups: 1024, MaxSessions: 300, KexAlgorithms: sshdBenchKex})
	sb := &sshdBench{srv: srv, csub: filepath.Join(binaries(b), "csub"), dir: b.TempDir()}
	sb.sshCfg = filepath.Join(sb.dir, "ssh_config")
	if err := os.WriteFile(sb.sshCfg, []byte(srv.ClientHostBlock("*")), 0o600); err != nil {
		b.Fatal(err)
	}
	conf, home := filepath.Join(sb.dir, "clustershell"), filepath.Join(sb.dir, "home")
	for _, d := range []string{conf, home} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			b.Fatal(err)
		}
	}
	sb.env = hermeticEnv(home, conf,
		"XDG_STATE_HOME="+filepath.Join(sb.dir, "state"), "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		// pdsh's default arguments ("-2 -a -x -l%u %h") then this.
		"PDSH_SSH_ARGS_APPEND=-F "+sb.sshCfg)
	return sb
}

// argv is the command line of tool on n names at fanout. Every tool
// returns the largest exit code of the nodes (-S), 255 for a node it could
// not run on.
func (sb *sshdBench) argv(tool string, n, fanout int) []string {
	nodes := fmt.Sprintf("n[1-%d]", n)
	f := strconv.Itoa(fanout)
	switch tool {
	case "csub":
		return []string{sb.csub, "-S", "-f", f, "-o", "-F " + sb.sshCfg, "-w", nodes, "true"}
	case "csub -R openssh":
		return []string{sb.csub, "-S", "-R", "openssh", "-f", f, "-o", "-F " + sb.sshCfg, "-w", nodes, "true"}
	case "clush":
		return []string{"/usr/bin/clush", "-S", "-f", f, "-o", "-F " + sb.sshCfg, "-w", nodes, "true"}
	case "pdsh -R ssh":
		return []string{"/usr/bin/pdsh", "-S", "-R", "ssh", "-f", f, "-w", nodes, "true"}
	}
	panic("unknown tool " + tool)
}

// run times one run of tool. Client CPU is the tool's rusage as wait4
// gives it: its own and that of every descendant it waited for (the ssh
// processes of clush, pdsh and csub -R openssh). Machine busy time is read
// from /proc/stat around the run; server CPU is busy minus client (the
// bench process's own waiting is in it: it sleeps in wait4). sshd_s is
// sshd's CPU read directly (the listener's own and its reaped children's,
// once every connection of the run has ended), other_s what busy time
// neither accounts for: other processes on the machine, or a tool's
// descendants it did not wait for.
func (sb *sshdBench) run(b *testing.B, tool string, n, fanout, run, cores int) benchrec.Record {
	rec := benchrec.Record{Scenario: "sshd", Case: fmt.Sprintf("fanout %d", fanout), Tool: tool, N: n, Fanout: fanout, Run: run}
	argv := sb.argv(tool, n, fanout)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env, cmd.Dir = sb.env, sb.dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logStart := len(sb.srv.Logs())
	sshd0, err := sshdBenchProcCPU(sb.srv)
	if err != nil {
		b.Fatal(err)
	}
	over0 := sshdBenchListenOverflows()
	busy0 := sshdBenchBusy(b)
	start := time.Now()
	err = cmd.Start()
	if err == nil {
		err = cmd.Wait()
	}
	rec.WallS = time.Since(start).Seconds()
	busy := sshdBenchBusy(b) - busy0
	if cmd.Process != nil {
		// Nothing of the tool's may outlive the run.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	drained := sb.drain(30 * time.Second)
	sshd1, _ := sshdBenchProcCPU(sb.srv)
	var client time.Duration
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			client = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	server := busy - client.Seconds()
	limit := server / float64(cores)
	rec.CPUS = map[string]float64{"client": client.Seconds(), "server": server}
	rec.Extra = map[string]float64{
		"busy_s":             busy,
		"limit_s":            limit,
		"client_ms_per_node": client.Seconds() * 1000 / float64(n),
		"sshd_s":             sshd1 - sshd0,
		"other_s":            busy - client.Seconds() - (sshd1 - sshd0),
		"listen_overflows":   float64(sshdBenchListenOverflows() - over0),
	}
	if limit > 0 {
		rec.Extra["wall_over_limit"] = rec.WallS / limit
	}
	// The same limit from sshd's own CPU, which other processes on the
	// machine do not inflate.
	if sshd := sshd1 - sshd0; sshd > 0 {
		rec.Extra["limit_sshd_s"] = sshd / float64(cores)
		rec.Extra["wall_over_limit_sshd"] = rec.WallS / rec.Extra["limit_sshd_s"]
	}
	accepted := strings.Count(sb.srv.Logs()[logStart:], "Accepted publickey for ")
	var notes []string
	if err != nil {
		notes = append(notes, fmt.Sprintf("%v: %s", err, sshdBenchTail(stderr.String())))
	}
	if accepted != n {
		notes = append(notes, fmt.Sprintf("sshd accepted %d logins, not %d", accepted, n))
	}
	if stdout.Len() > 0 {
		notes = append(notes, "unexpected output: "+sshdBenchTail(stdout.String()))
	}
	if !drained {
		notes = append(notes, "sshd connections still open 30 s after the run")
	}
	rec.OK = len(notes) == 0
	rec.Note = strings.Join(notes, "; ")
	return rec
}

// drain waits until sshd has no connection process left, so that the
// next run starts on an idle server and sshd_s holds the whole run.
func (sb *sshdBench) drain(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for len(wexec.Descendants(sb.srv.PID())) > 0 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// sshdBenchBusy is the machine's non-idle CPU time so far, all CPUs, in
// seconds: /proc/stat's first line without idle and iowait (guest time is
// already in user).
func sshdBenchBusy(b *testing.B) float64 {
	busy, err := machineBusy()
	if err != nil {
		b.Fatal(err)
	}
	return busy
}

// sshdBenchProcCPU is sshd's CPU time so far, in seconds: the listener's
// own and that of the connection processes it reaped (each holding its
// own children's: the session's shell).
func sshdBenchProcCPU(srv *sshdtest.Server) (float64, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", srv.PID()))
	if err != nil {
		return 0, fmt.Errorf("sshd CPU: %w", err)
	}
	// After the command's ")": state is the 1st field; utime, stime,
	// cutime and cstime the 12th to the 15th, in USER_HZ ticks.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(f) < 15 {
		return 0, errors.New("sshd CPU: short /proc stat")
	}
	var ticks int64
	for _, v := range f[11:15] {
		x, _ := strconv.ParseInt(v, 10, 64)
		ticks += x
	}
	return float64(ticks) / 100, nil
}

// sshdBenchListenOverflows is the kernel's count of connections dropped
// because a listen queue was full (TcpExt ListenOverflows): sshd listens
// with a backlog of 128, and a fanout above it can overflow the queue,
// which costs the client a SYN retransmission (1 s).
func sshdBenchListenOverflows() int64 {
	data, err := os.ReadFile("/proc/net/netstat")
	if err != nil {
		return 0
	}
	lines := strings.Split(string(data), "\n")
	for i := 0; i+1 < len(lines); i += 2 {
		names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(names) == 0 || names[0] != "TcpExt:" || len(values) != len(names) {
			continue
		}
		if j := slices.Index(names, "ListenOverflows"); j > 0 {
			v, _ := strconv.ParseInt(values[j], 10, 64)
			return v
		}
	}
	return 0
}

func sshdBenchTail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 300 {
		s = "..." + s[len(s)-300:]
	}
	return s
}

// sshdBenchReport logs the medians of recs per case, N and tool, and the
// issue's targets at each case and N: csub's client CPU at most a tenth
// of pdsh's and of clush's, csub's wall at most 1.1 times the
// server-bound limit (its run's server CPU over the cores).
func sshdBenchReport(b *testing.B, recs []benchrec.Record) {
	points, err := benchrec.Medians(recs)
	if err != nil {
		b.Fatal(err)
	}
	type at struct {
		c string
		n int
	}
	byAt := map[at]map[string]benchrec.Point{}
	var order []at
	var sb strings.Builder
	fmt.Fprintf(&sb, "medians (limit: server CPU / cores; limit': sshd's own CPU / cores):\n%-10s %5s %-15s %4s %7s %8s %9s %8s %8s %8s %10s %11s\n",
		"case", "N", "tool", "runs", "wall_s", "client_s", "ms/node", "server_s", "sshd_s", "limit_s", "wall/limit", "wall/limit'")
	for _, p := range points {
		k := at{p.Case, p.N}
		if byAt[k] == nil {
			byAt[k] = map[string]benchrec.Point{}
			order = append(order, k)
		}
		byAt[k][p.Tool] = p
		fmt.Fprintf(&sb, "%-10s %5d %-15s %2d/%d %7.2f %8.2f %9.1f %8.2f %8.2f %8.2f %10.2f %11.2f\n",
			p.Case, p.N, p.Tool, p.Runs, p.Runs+p.Failed, p.WallS, p.CPUS["client"], p.Extra["client_ms_per_node"],
			p.CPUS["server"], p.Extra["sshd_s"], p.Extra["limit_s"], p.Extra["wall_over_limit"], p.Extra["wall_over_limit_sshd"])
	}
	sb.WriteString("targets (medians of this run):\n")
	for _, k := range order {
		tools := byAt[k]
		c, ok := tools["csub"]
		if !ok || c.Runs == 0 {
			continue
		}
		fmt.Fprintf(&sb, "%s N=%d:", k.c, k.n)
		for _, peer := range []string{"pdsh -R ssh", "clush"} {
			if p, ok := tools[peer]; ok && p.Runs > 0 && c.CPUS["client"] > 0 {
				r := p.CPUS["client"] / c.CPUS["client"]
				fmt.Fprintf(&sb, " %s/csub client CPU %.1fx (target >= 10: %s);", peer, r, sshdBenchVerdict(r >= 10))
			}
		}
		r, rs := c.Extra["wall_over_limit"], c.Extra["wall_over_limit_sshd"]
		fmt.Fprintf(&sb, " csub wall/limit %.2f (target <= 1.1: %s), against sshd's own CPU %.2f (%s)\n",
			r, sshdBenchVerdict(r > 0 && r <= 1.1), rs, sshdBenchVerdict(rs > 0 && rs <= 1.1))
	}
	b.Log(sb.String())
}

func sshdBenchVerdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}
