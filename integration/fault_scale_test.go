package integration

import (
	"bufio"
	"encoding/json"
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
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// scaleTopology spreads node[1-n] evenly over the fleet's four agents:
// a half to the group gw[1-2] (two agents), a quarter to gw3, and the
// last quarter, under no gateway, to the coordinator's local agent.
func scaleTopology(n int) string {
	return fmt.Sprintf("[routes]\nadmin: gw[1-3]\ngw[1-2]: node[1-%d]\ngw3: node[%d-%d]\n", n/2, n/2+1, 3*n/4)
}

// usage is what a process cost: its peak resident set (VmHWM) and its
// CPU time (user + system).
type usage struct {
	peakKB int64
	cpu    time.Duration
	// switches counts the process's context switches: sleeps are the
	// voluntary ones (a thread waited: a futex, epoll_wait), the others
	// preemptions (the kernel gave the core to another thread). A process
	// that sleeps and wakes often pays for it beyond its work.
	switches, sleeps int64
}

func (u usage) String() string {
	return fmt.Sprintf("peak RSS %d MiB, CPU %v", u.peakKB>>10, u.cpu.Round(10*time.Millisecond))
}

// procUsage reads a live process's usage from /proc.
func procUsage(t testing.TB, pid int) usage {
	t.Helper()
	var u usage
	var err error
	if u.peakKB, err = readVmHWM(pid); err != nil {
		t.Fatal(err)
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command's ")": state is the 1st, utime the 12th
	// and stime the 13th, in clock ticks (USER_HZ, 100 on Linux).
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	u.cpu = time.Duration(utime+stime) * 10 * time.Millisecond
	u.switches, u.sleeps = procSwitches(pid)
	return u
}

// procSwitches sums the context switches of a live process's threads
// (/proc/PID/task/*/status), all and the voluntary ones; a thread that
// already exited is not counted (Go's threads live as long as the
// process), nor one that cannot be read.
func procSwitches(pid int) (switches, sleeps int64) {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	for _, file := range tasks {
		status, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(status)) {
			if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
				c, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				switches += c
				sleeps += c
			} else if v, ok := strings.CutPrefix(line, "nonvoluntary_ctxt_switches:"); ok {
				c, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				switches += c
			}
		}
	}
	return switches, sleeps
}

// readVmHWM reads a live process's peak resident set, in kB.
func readVmHWM(pid int) (int64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmHWM", pid)
}

// runPeak runs cmd and returns its error and its peak resident set in kB,
// read from /proc while it runs: wait4's ru_maxrss would not do, as Linux
// carries into it, over exec, the size of the process it was forked from
// (this test process).
func runPeak(cmd *exec.Cmd) (error, int64) {
	if err := cmd.Start(); err != nil {
		return err, 0
	}
	stop := testutil.WatchPeak(20*time.Millisecond, func() (int64, bool) {
		kb, err := readVmHWM(cmd.Process.Pid)
		return kb, err == nil
	})
	err := cmd.Wait()
	return err, stop()
}

// selfUsage is the test process's own usage.
func selfUsage(t testing.TB) usage {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return usage{peakKB: ru.Maxrss, cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), switches: ru.Nvcsw + ru.Nivcsw, sleeps: ru.Nvcsw}
}

// csubRecord is a line of csub --json: an output line or a node's result.
type csubRecord struct {
	Type     string `json:"type"`
	Node     string `json:"node"`
	Stream   string `json:"stream"`
	Line     string `json:"line"`
	State    string `json:"state"`
	Detail   string `json:"detail"`
	Reason   string `json:"reason"`
	ExitCode *int   `json:"exit_code"`
	// States counts the nodes per state (the summary).
	States map[protocol.State]int `json:"states"`
}

// nodeEnd is how a node ended, as csub --json told it.
type nodeEnd struct {
	state  protocol.State
	detail string // the engine's reason within the state
	code   int    // -1: no exit code
	out    string // its stdout lines, joined by "|"
}

// csubJSON is what csub --json --summary said of a job.
type csubJSON struct {
	ends    map[string]nodeEnd
	msgs    map[string]string // each node's message (the result's reason)
	results map[string]int    // how many results each node had
	summary map[protocol.State]int
}

// readCsubJSON reads csub --json --summary output.
func readCsubJSON(t *testing.T, path string) csubJSON {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	j := csubJSON{ends: map[string]nodeEnd{}, msgs: map[string]string{}, results: map[string]int{}}
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var r csubRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("csub --json: %v: %s", err, sc.Bytes())
		}
		switch r.Type {
		case "line":
			if r.Stream == "stdout" {
				out[r.Node] = append(out[r.Node], r.Line)
			}
		case "result":
			j.results[r.Node]++
			code := -1
			if r.ExitCode != nil {
				code = *r.ExitCode
			}
			j.ends[r.Node] = nodeEnd{state: protocol.State(r.State), detail: r.Detail, code: code}
			j.msgs[r.Node] = r.Reason
		case "summary":
			j.summary = r.States
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for n, e := range j.ends {
		e.out = strings.Join(out[n], "|")
		j.ends[n] = e
	}
	return j
}

// TestFaultScaleMixed runs one job on thousands of simulated nodes
// (internal/nodesim) of which 5 % refuse connections, 5 % hang, 5 % fail
// authentication and 5 % close the connection mid-output, from csub
// through a coordinator and four agents: every node ends in its one true
// state, each ok node's output arrives whole, each midclose node's output
// up to the drop, within the bound of docs/RELIABILITY.md.
func TestFaultScaleMixed(t *testing.T) {
	skipShort(t)
	n := 2000
	if faultFull() {
		n = 10000
	}
	bound := scenarioBound(t)
	sim := nodesim.Start(t, nodesim.Config{})
	f := launchTopology(t, "", nil, scaleTopology(n), "--fanout", "64")
	nodes := fmt.Sprintf("node[1-%d]", n)
	// The hang nodes wait the whole connect timeout, which adds about one
	// timeout to the job. Every ok node must finish its handshake within
	// it, with 256 handshakes at once on a shared machine: the slowest
	// took 1.5 s on 2 cores at load 15, so 10 s keeps a wide margin (the
	// log line below says how wide).
	const connectTimeout = 10 * time.Second
	jsonPath := filepath.Join(t.TempDir(), "csub.json")
	stdout, err := os.Create(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	var stderr strings.Builder
	cmd := csubCmd(t, f.csubEnv(), "--fleet", f.natsURL, "-w", nodes, "-f", "64", "-t", fmt.Sprint(connectTimeout.Seconds()),
		"-O", "ssh_config="+sim.Env.ConfigPath, "--json", "--summary", "seq 20")
	cmd.Stdout, cmd.Stderr = stdout, &stderr
	began := time.Now()
	err, csubPeak := runPeak(cmd)
	took := time.Since(began)
	// clush's rule: 255 when some node's connection failed.
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 255) {
		t.Fatalf("csub: %v\n%s", err, stderr.String())
	}

	// Read the costs before anything stops.
	costs := []string{fmt.Sprintf("csub: %v", usage{peakKB: csubPeak, cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}),
		fmt.Sprintf("coordinator (NATS server, local agent): %v", procUsage(t, f.coord.cmd.Process.Pid))}
	for _, gw := range []string{"gw1", "gw2", "gw3"} {
		costs = append(costs, fmt.Sprintf("agent %s: %v", gw, procUsage(t, f.agents[gw].cmd.Process.Pid)))
	}
	costs = append(costs, fmt.Sprintf("test process (simulator): %v", selfUsage(t)))
	st := sim.Stats()
	j := readCsubJSON(t, jsonPath)
	t.Logf("%d nodes in %v (bound %v): %v; slowest ok handshake %v (connect timeout %v)\n%s", n, took.Round(time.Millisecond),
		bound, j.summary, st[nodesim.OK].SlowestHandshake.Round(time.Millisecond), connectTimeout, strings.Join(costs, "\n"))

	// What each class must end as: state, reason, exit code, output.
	seq := make([]string, 20)
	for i := range seq {
		seq[i] = strconv.Itoa(i + 1)
	}
	want := map[nodesim.Behaviour]nodeEnd{
		nodesim.OK:       {protocol.StateExited, "", 0, strings.Join(seq, "|")},
		nodesim.Refuse:   {protocol.StateConnect, "connection refused", 255, ""},
		nodesim.Hang:     {protocol.StateConnect, "connect timeout", 255, ""},
		nodesim.AuthFail: {protocol.StateAuth, "authentication failed", 255, ""},
		// The command ran and printed its first line, then the
		// connection closed without an exit status: the worker cannot
		// know how the command ended, so the node is a connect failure
		// whose reason and message say so, never an exit (255 is ssh's
		// status for a failed connection, as clush reports it).
		nodesim.MidClose: {protocol.StateConnect, "connection failed", 255, "1"},
	}
	wantStates, gotStates := map[protocol.State]int{}, map[protocol.State]int{}
	classes := map[nodesim.Behaviour]int{}
	bad := 0
	for name := range nodeset.MustParse(nodes).All() {
		b := nodesim.Class(name)
		classes[b]++
		wantStates[want[b].state]++
		got := j.ends[name]
		gotStates[got.state]++
		if j.results[name] != 1 || got != want[b] || (b == nodesim.MidClose && !strings.Contains(j.msgs[name], "closed before the command's exit status")) {
			if bad < 10 {
				t.Errorf("%s (%s): %d results, %+v (%q), want %+v", name, b, j.results[name], got, j.msgs[name], want[b])
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d nodes of %d did not end as their class promises", bad, n)
	}
	if len(j.results) != n {
		t.Errorf("results for %d nodes, want %d", len(j.results), n)
	}
	for _, b := range nodesim.Behaviours[1:] {
		if classes[b] != n/20 {
			t.Fatalf("%d %s nodes, want 5 %% of %d", classes[b], b, n)
		}
	}
	if fmt.Sprint(gotStates) != fmt.Sprint(wantStates) || fmt.Sprint(j.summary) != fmt.Sprint(wantStates) {
		t.Errorf("states %v (csub's summary %v), want %v", gotStates, j.summary, wantStates)
	}
	if took > bound {
		t.Errorf("the job took %v, over its bound %v", took, bound)
	}
}
