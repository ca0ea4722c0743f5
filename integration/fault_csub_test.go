package integration

// Fault scenarios of the submitter (issue 13, item 4): a csub that stops
// reading (SIGSTOP past the coordinator's DetachAfter, then SIGCONT) and
// one that disconnects (SIGKILL mid-job). Real coordinator, agents and
// csub processes, real SSH (internal/sshtest); each csub run is compared
// byte for byte with an undisturbed run of the same job.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// csubFaultJob is the job of the csub scenarios: every node prints 10
// bursts of lines (about 100 000 lines over the job's nodes), then three
// nodes in four (by their shell's pid) wait for the file gate (the
// scenario's fault happens meanwhile), print about 6 MiB over the job's
// nodes, and all exit 3. It is read with -L (each node's lines in node
// order: the output does not depend on timing) and -S (the exit status is
// the nodes' 3). What the waiting nodes print after the gate (4.5 MiB on
// average, over 1 MiB unless fewer than 6 of 32 wait) is more than the
// coordinator's window of output batches (16 of at most 64 KiB): a csub
// that does not ack cannot have been sent it all, so once its stream is
// dropped it must attach again to finish. CI: 32 nodes (16 of each
// gateway group); full: 1 020. It returns the node count and the lines
// the job prints.
func csubFaultJob(gate string) (total, lines int, args []string) {
	nodes, total := "node[685-716]", 32
	if faultFull() {
		nodes, total = "node[1-1000],local[1-20]", 1020
	}
	const bursts = 10
	burst := max(1, 10000/total)
	after := (6 << 20) / len("after 12345\n") / total
	return total, (bursts*burst + after) * total, []string{"-L", "-S", "-w", nodes, fmt.Sprintf(
		`i=0; while [ $i -lt %d ]; do i=$((i+1)); j=0; while [ $j -lt %d ]; do j=$((j+1)); echo line $i.$j; done; done; `+
			`if [ $(($$ %% 4)) != 0 ]; then while [ ! -e '%s' ]; do sleep 0.1; done; fi; seq -f 'after %%05g' %d; exit 3`,
		bursts, burst, gate, after)}
}

// runCmd runs a csub command (csubCmd) to its end.
func runCmd(t *testing.T, cmd *exec.Cmd) procResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return procResult{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

// bgCsub is a csub process the test signals; it is killed (by its
// process group) when the test ends.
type bgCsub struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
	exited         time.Time // when it exited (set before done closes)
}

// startBgCsub starts a csub command (csubCmd) and leaves it running.
func startBgCsub(t *testing.T, cmd *exec.Cmd) *bgCsub {
	t.Helper()
	c := &bgCsub{cmd: cmd, done: make(chan struct{})}
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = c.cmd.Wait()
		c.exited = time.Now()
		close(c.done)
	}()
	t.Cleanup(func() {
		c.signal(syscall.SIGKILL)
		<-c.done
	})
	return c
}

func (c *bgCsub) signal(sig syscall.Signal) { _ = syscall.Kill(-c.cmd.Process.Pid, sig) }

// wait waits for csub's exit; a test deadline (not a timed assertion)
// keeps a hang from lasting for ever.
func (c *bgCsub) wait(t *testing.T) procResult {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(5 * time.Minute):
		c.signal(syscall.SIGKILL)
		<-c.done
		t.Fatalf("csub still running after 5 minutes; stderr:\n%s", c.stderr.String())
	}
	return procResult{c.cmd.ProcessState.ExitCode(), c.stdout.String(), c.stderr.String()}
}

// runningJob waits until the fleet's registry has a job of the tester
// submitted after since and not done, and returns its id.
func runningJob(t *testing.T, f *testFleet, since time.Time) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		jobs, err := f.client.Jobs(ctx)
		cancel()
		for _, j := range jobs {
			if err == nil && !j.Done && j.Submitted.After(since) {
				return j.ID
			}
		}
	}
	t.Fatal("csub's job never showed in the registry")
	return ""
}

// jobStatus asks the registry about job id, naming stream (or "").
func jobStatus(t *testing.T, f *testFleet, id, stream string) protocol.JobStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var r protocol.JobsReply
	err := wire.Request(ctx, f.client.Conn, protocol.Subjects{}.Jobs("tester"), protocol.TypeJobsRequest,
		protocol.JobsRequest{Kind: protocol.JobsStatus, Job: id, Brief: true, Stream: stream}, &r)
	if err != nil || r.Error != "" || len(r.Jobs) != 1 {
		t.Fatalf("status of %s: %v %s", id, err, r.Error)
	}
	return r.Jobs[0]
}

// awaitJob polls job id's status until cond holds (a test deadline keeps
// a hang from lasting for ever).
func awaitJob(t *testing.T, f *testFleet, id, stream, what string, cond func(protocol.JobStatus) bool) protocol.JobStatus {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		st := jobStatus(t, f, id, stream)
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: %s not within 5 minutes (%+v)", id, what, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkFinals checks the registry's exact per-state counts: every node
// exited (status 3).
func checkFinals(t *testing.T, st protocol.JobStatus, total int) {
	t.Helper()
	if st.Total != total || len(st.Finals) != 1 || st.Finals[protocol.StateExited] != total {
		t.Errorf("registry: %d nodes, finals %v; want %d exited", st.Total, st.Finals, total)
	}
}

// attachedAgain is csub's log line saying it attached again, and from
// which record.
var attachedAgain = regexp.MustCompile(`stream attached again.* from=\d+`)

// logLine is a line of csub's own log (FLEETSH_LOG).
var logLine = regexp.MustCompile(`time=[^\n]*\n`)

// sameRun compares a csub run with the reference run of the same job:
// exit status, standard output byte for byte, standard error but for
// clush's progress counter (its counts depend on timing) and csub's log.
func sameRun(t *testing.T, what string, got, ref procResult) {
	t.Helper()
	canon := func(s string) string { return csubProgress.ReplaceAllString(logLine.ReplaceAllString(s, ""), "") }
	if got.status != ref.status || got.stdout != ref.stdout || canon(got.stderr) != canon(ref.stderr) {
		t.Errorf("%s differs from the undisturbed run:\nstatus %d, want %d\nstdout (%d bytes, want %d):\n%.600s\nstderr:\n%s\nwant stderr:\n%s",
			what, got.status, ref.status, len(got.stdout), len(ref.stdout), got.stdout, got.stderr, ref.stderr)
	}
}

// reference runs the scenario's job undisturbed.
func reference(t *testing.T, f *testFleet, args []string, lines int) procResult {
	t.Helper()
	began := time.Now()
	ref := runCmd(t, csubCmd(t, f.csubEnv(), args...))
	if ref.status != 3 || bytes.Count([]byte(ref.stdout), []byte("\n")) != lines {
		t.Fatalf("reference run: status %d, %d bytes of output; stderr:\n%s", ref.status, len(ref.stdout), ref.stderr)
	}
	t.Logf("reference run: %v", time.Since(began).Round(time.Millisecond))
	return ref
}

// csubScenario is a fleet, its reference run of csubFaultJob, and a csub
// running the same job, which waits at its gate for the scenario's fault.
type csubScenario struct {
	f     *testFleet
	bound time.Duration // the scenario's, from docs/RELIABILITY.md
	total int
	args  []string
	ref   procResult
	c     *bgCsub
	id    string // its job
	gate  string
}

// startCsubScenario starts the fleet, runs the reference and starts the
// scenario's csub (with env added); it returns once a node of the job
// ended, others waiting at its gate.
func startCsubScenario(t *testing.T, env ...string) *csubScenario {
	t.Helper()
	skipShort(t)
	sc := &csubScenario{bound: scenarioBound(t), f: startFleet(t, ""), gate: filepath.Join(t.TempDir(), "gate")}
	open := filepath.Join(t.TempDir(), "open")
	if err := os.WriteFile(open, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, lines, refArgs := csubFaultJob(open)
	sc.ref = reference(t, sc.f, refArgs, lines)
	sc.total, _, sc.args = csubFaultJob(sc.gate)
	since := time.Now()
	sc.c = startBgCsub(t, csubCmd(t, append(sc.f.csubEnv(), env...), sc.args...))
	sc.id = runningJob(t, sc.f, since)
	awaitJob(t, sc.f, sc.id, "", "a node's end", func(st protocol.JobStatus) bool { return st.Finals[protocol.StateExited] > 0 })
	return sc
}

// open lets the job go on past its first lines.
func (sc *csubScenario) open(t *testing.T) {
	t.Helper()
	if err := os.WriteFile(sc.gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFaultCsubStopsReading: csub is suspended (SIGSTOP) until the
// coordinator has dropped its stream (it stopped acking for DetachAfter,
// 15 s), then continued: it attaches again from the last record it had,
// and prints exactly what an undisturbed run prints, with its exit status,
// within the bound after both the SIGCONT and the job's end.
func TestFaultCsubStopsReading(t *testing.T) {
	// Its log says when it attaches again (sameRun leaves the log out).
	sc := startCsubScenario(t, "FLEETSH_LOG=info")
	f, c, id := sc.f, sc.c, sc.id
	c.signal(syscall.SIGSTOP)
	stopped := time.Now()
	sc.open(t)
	// The job goes on; the coordinator drops the silent reader.
	awaitJob(t, f, id, id, "stream dropped", func(st protocol.JobStatus) bool { return st.Stream == protocol.StreamGone })
	t.Logf("stream dropped %v after SIGSTOP", time.Since(stopped).Round(time.Millisecond))
	c.signal(syscall.SIGCONT)
	resumed := time.Now()
	got := c.wait(t)
	st := jobStatus(t, f, id, "")
	from := resumed
	if st.Ended.After(from) {
		from = st.Ended
	}
	took := c.exited.Sub(from)
	t.Logf("csub done %v after SIGCONT (%v after the later of SIGCONT and the job's end; bound %v)",
		c.exited.Sub(resumed).Round(time.Millisecond), took.Round(time.Millisecond), sc.bound)
	if took > sc.bound {
		t.Errorf("csub exited %v after SIGCONT and the job's end, over the bound %v", took, sc.bound)
	}
	if m := attachedAgain.FindString(got.stderr); m == "" {
		t.Errorf("csub did not attach again:\n%s", got.stderr)
	} else {
		t.Logf("csub: %s", m)
	}
	sameRun(t, "the suspended csub's run", got, sc.ref)
	checkFinals(t, st, sc.total)
}

// TestFaultCsubDisconnects: csub is killed (SIGKILL) mid-job; the job runs
// to its end all the same, and `csub attach` prints its whole output and
// final states as an undisturbed run does, within the bound.
func TestFaultCsubDisconnects(t *testing.T) {
	sc := startCsubScenario(t)
	sc.c.signal(syscall.SIGKILL)
	killed := time.Now()
	sc.open(t)
	sc.c.wait(t)
	st := awaitJob(t, sc.f, sc.id, "", "done", func(st protocol.JobStatus) bool { return st.Done })
	t.Logf("job done %v after csub's SIGKILL", time.Since(killed).Round(time.Millisecond))
	checkFinals(t, st, sc.total)
	began := time.Now()
	got := runCmd(t, csubCmd(t, sc.f.csubEnv(), append([]string{"attach", sc.id}, sc.args[:2]...)...))
	took := time.Since(began)
	t.Logf("csub attach: %v (bound %v)", took.Round(time.Millisecond), sc.bound)
	if took > sc.bound {
		t.Errorf("csub attach took %v, over the bound %v", took, sc.bound)
	}
	sameRun(t, fmt.Sprintf("csub attach %s", sc.id), got, sc.ref)
}
