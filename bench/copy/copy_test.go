// Package copybench is the "copy" bench scenario of issue 16: one file of
// 136 MB (random bytes) copied to 142 nodes of one throwaway OpenSSH sshd
// on 127.0.0.1 by ClusterShell's clush --copy, pdcp -R ssh and csub
// through a fleet (a coordinator and two gateway agents, 71 nodes each),
// one after the other in one run. Each node has a key of its own whose
// forced command runs its session in a directory of its own (see
// dispatch), so every copy lands apart and is checked (cksum) before the
// next tool starts. Run it with bash bench/copy/run.sh.
package copybench

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/benchrec"
	"github.com/fleetsh/fleetsh/internal/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	fleetBins.Remove()
	os.Exit(code)
}

// connectTimeout is every tool's connect timeout (-t), in seconds: the
// copies load the 2 cores so much (a load of 60 to 80 on the first run,
// 64 scp, ssh, sshd and sftp-server processes at once) that a handshake
// may outlast the tools' default 10 s; with it, pdcp left 10 of 142
// nodes without a copy (and exited 0) where clush lost none.
const connectTimeout = "60"

// copyTools are the rows, in the order they run.
var copyTools = []string{"clush", "pdcp", "fleet"}

func BenchmarkCopy(b *testing.B) {
	n := testutil.EnvInt(b, "FLEETSH_BENCH_N", 142)
	size := testutil.EnvInt(b, "FLEETSH_BENCH_COPY_MB", 136) * 1_000_000
	fanout := testutil.EnvInt(b, "FLEETSH_BENCH_FANOUT", 64)
	repeat := testutil.EnvInt(b, "FLEETSH_BENCH_REPEAT", 1)
	tools := copyTools
	if v := os.Getenv("FLEETSH_BENCH_TOOLS"); v != "" {
		tools = strings.Split(v, ",")
	}
	out := os.Getenv("FLEETSH_BENCH_OUT")
	if out == "" {
		out = filepath.Join("..", "results", "copy.jsonl") // tests run in bench/copy
	}
	testutil.RequireCommands(b, "clustershell pdsh openssh-client coreutils", "/usr/bin/clush", "/usr/bin/pdcp", "ssh", "cksum")
	b.ResetTimer()
	for b.Loop() {
		ns := startNodes(b, n)
		src := filepath.Join(b.TempDir(), "src.bin")
		writeRandom(b, src, size)
		want := cksum(b, src)
		env := toolEnv(b, ns)
		var fl *fleet
		for run := 1; run <= repeat; run++ {
			for _, tool := range tools {
				rec := benchrec.Record{Scenario: "copy", Case: fmt.Sprintf("%d MB", size/1_000_000), Tool: tool, N: n,
					Fanout: fanout, Run: run, Extra: map[string]float64{}}
				var argv []string
				switch tool {
				case "clush":
					argv = []string{"/usr/bin/clush", "-S", "-f", strconv.Itoa(fanout), "-t", connectTimeout, "-o", "-F " + ns.sshCfg,
						"-w", fmt.Sprintf("node[1-%d]", n), "--copy", src, "--dest", "copy"}
				case "pdcp":
					argv = []string{"/usr/bin/pdcp", "-R", "ssh", "-f", strconv.Itoa(fanout), "-t", connectTimeout, "-w", fmt.Sprintf("node[1-%d]", n), src, "copy"}
				case "fleet":
					if fl == nil {
						fl = startFleet(b, ns, n, fanout, size)
					}
					rec.Tool = "csub --fleet (2 gateways)"
					argv = []string{fl.csub, "--fleet", fl.url, "-S", "-t", connectTimeout, "-w", fmt.Sprintf("node[1-%d]", n), "-c", src, "--dest", "copy"}
				default:
					b.Fatalf("FLEETSH_BENCH_TOOLS: unknown tool %q (want some of %v)", tool, copyTools)
				}
				var before map[string]connBytes
				var logs map[string]int64
				var cpu0 map[string]time.Duration
				if tool == "fleet" {
					before, logs, cpu0 = fl.bytes(b), fl.logSizes(b), fl.cpu(b)
				}
				t0 := time.Now()
				wall, cpu, stderr, err := runTool(env, argv)
				stderr = dropCounter(stderr)
				rec.WallS, rec.CPUS = wall.Seconds(), map[string]float64{"client": cpu.Seconds()}
				if tool == "fleet" {
					fl.report(b, before, fl.bytes(b), &rec, size)
					fl.phases(b, logs, t0, &rec)
					var parts []string
					for name, c := range fl.cpu(b) {
						rec.CPUS[name] = (c - cpu0[name]).Seconds()
						parts = append(parts, fmt.Sprintf("%s %.1f s", name, rec.CPUS[name]))
					}
					slices.Sort(parts)
					fmt.Printf("%-28s CPU: %s\n", "", strings.Join(parts, ", "))
				}
				good, bad := ns.settle(b, filepath.Base(src), want)
				rec.OK = err == nil && good == n
				rec.Extra["nodes_ok"] = float64(good)
				rec.Note = loadNote()
				if err != nil {
					rec.Note += fmt.Sprintf("; %v: %s", err, testutil.LastLine(stderr))
				}
				if len(bad) > 0 {
					rec.Note += fmt.Sprintf("; %d bad copies, first %s", len(bad), bad[0])
					if line, _, _ := strings.Cut(stderr, "\n"); line != "" {
						rec.Note += "; the tool's first error: " + line
					}
				}
				fmt.Printf("%-28s wall %7.2f s  client CPU %6.2f s  copies checked %d/%d%s\n", rec.Tool, rec.WallS,
					cpu.Seconds(), good, n, nbytes(rec))
				if err := benchrec.Append(out, rec); err != nil {
					b.Fatal(err)
				}
				if tool == "fleet" && !rec.OK {
					// The fleet row has no excuse left (copies through the
					// fleet work): a failed copy fails the run.
					b.Errorf("%s: %s\n%s", rec.Tool, rec.Note, stderr[max(0, len(stderr)-4000):])
				}
			}
		}
	}
}

func nbytes(r benchrec.Record) string {
	v, ok := r.Extra["nats_bytes"]
	if !ok {
		return ""
	}
	return fmt.Sprintf("  NATS %.1f MB (%.2f copies)", v/1e6, r.Extra["nats_copies"])
}

// writeRandom writes size random bytes to path.
func writeRandom(b *testing.B, path string, size int) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, int64(size)); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// toolEnv is the environment of the tools: an empty HOME and
// clustershell configuration directory, so that neither ~/.ssh nor
// /etc/clustershell changes what runs, and pdsh pointed at the config.
func toolEnv(b *testing.B, ns *nodes) []string {
	home, conf := filepath.Join(ns.dir, "home"), filepath.Join(ns.dir, "clustershell")
	for _, d := range []string{home, conf} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			b.Fatal(err)
		}
	}
	return []string{"PATH=/usr/bin:/bin", "HOME=" + home, "LANG=C.UTF-8", "CLUSTERSHELL_CFGDIR=" + conf,
		"XDG_STATE_HOME=" + filepath.Join(ns.dir, "state"), "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"PDSH_SSH_ARGS_APPEND=-F " + ns.sshCfg}
}

// runTool runs argv and returns its wall time, its CPU time (with the
// children it waited for: ssh, scp) and its standard error. A hang
// catcher kills its process group after 30 minutes.
func runTool(env, argv []string) (time.Duration, time.Duration, string, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, "", err
	}
	t := time.AfterFunc(30*time.Minute, func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	err := cmd.Wait()
	t.Stop()
	wall := time.Since(start)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return wall, 0, stderr.String(), err
	}
	ps := cmd.ProcessState
	return wall, ps.UserTime() + ps.SystemTime(), stderr.String(), err
}

// loadNote is "load X", X the load average over the last minute as
// /proc/loadavg says it.
func loadNote() string {
	data, _ := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); len(f) > 0 {
		return "load " + f[0]
	}
	return "load unknown"
}

// dropCounter removes from a tool's standard error the counter clush and
// csub redraw in place ("csub:  12/142" then a carriage return): of each
// line, only what follows its last carriage return (and erase sequence)
// stays, and a line that is nothing else goes.
func dropCounter(s string) string {
	var kept []string
	for _, line := range strings.Split(s, "\n") {
		line = strings.ReplaceAll(line, "\x1b[K", "")
		if i := strings.LastIndexByte(line, '\r'); i >= 0 {
			line = line[i+1:]
		}
		if line != "" {
			kept = append(kept, line)
		}
	}
	return strings.Join(kept, "\n")
}
