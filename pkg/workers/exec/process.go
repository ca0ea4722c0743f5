package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/fleetsh/fleetsh/pkg/engine"
)

// readSize is the size of one read from a child's pipe, ClusterShell's
// os.read(fd, 65536).
const readSize = 64 << 10

// drainGrace is how long Run keeps reading a killed job's pipes before it
// closes them. Killing the process group closes every pipe the group held;
// only a process that left the group (setsid, a daemon) can keep one open,
// and Run must not wait for it.
const drainGrace = 500 * time.Millisecond

// Process is one local process run for a job: the exec driver's
// "/bin/sh -c", the openssh driver's ssh or scp, rsh, pdsh. Every
// process-based driver starts its processes through it, as ClusterShell's
// workers all derive from ExecClient, so that they share one behaviour for
// streams, process groups, cancellation and exit codes.
type Process struct {
	// Args is the argv; Args[0] is looked up in PATH when it holds no '/'.
	Args []string
	// Env holds "KEY=value" entries added to the current environment
	// (pdsh's PDSH_SSH_ARGS_APPEND); nil leaves it as it is.
	Env []string
	// Stdin is copied to the process; nil gives it an empty stdin.
	Stdin io.Reader
	// Stdout receives the process's standard output. Stderr receives its
	// standard error; when Stderr is nil both go to one pipe read into
	// Stdout, so their relative order is the order the process wrote them
	// in (ClusterShell's stderr=False dups stderr onto the stdout pipe).
	Stdout, Stderr io.Writer
	// Observe, when not nil, receives how long starting the process took
	// (engine.StageSpawn): the job's Observe.
	Observe func(stage engine.Stage, d time.Duration)
}

// Run starts p, copies its streams until they end and the process exits,
// and returns how it ended. node names the node in errors.
//
// The process leads a new process group so that when ctx is done the whole
// tree it started is killed with SIGKILL, not only its first process (a
// shell's children would otherwise keep running and keep its pipes open);
// descendants that left the group (pdsh puts each of its children in a
// session of its own) are killed too, see killTree.
// Run then waits for the process and returns a *engine.NodeError whose
// reason is ReasonCommandTimeout when ctx's cause is a deadline,
// the reason of an engine.NodeError cause when there is one, and
// ReasonAborted otherwise.
//
// Like ClusterShell, Run waits for end of file on the output pipes, not
// only for the process to exit: "sleep 100 &" holds the job for 100
// seconds unless ctx ends it. A process killed by a signal reports
// 128+signal. A process that cannot be started reports exit code 255 (what
// ClusterShell's forked child exits with when exec fails) with
// ReasonLocal.
//
// When Stdin blocks in Read after the process has exited, the goroutine
// copying it stays blocked until that Read returns and then stops: Run
// does not wait for it, and the data read then is dropped.
func (p *Process) Run(ctx context.Context, node string) engine.Result {
	if len(p.Args) == 0 {
		return LocalError(node, errors.New("empty command line"))
	}
	if ctx.Err() != nil {
		return CancelResult(ctx, node)
	}
	cmd := osexec.Command(p.Args[0], p.Args[1:]...)
	if p.Env != nil {
		cmd.Env = append(os.Environ(), p.Env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}

	// The pipes are ours, not os/exec's: its copying goroutines would make
	// Wait block on a writer or a reader we cannot interrupt.
	var (
		toClose  []*os.File // parent's copies of the child's ends
		readers  []*os.File // parent's read ends
		outputs  []io.Writer
		stdinW   *os.File
		closeAll = func() {
			for _, f := range toClose {
				f.Close()
			}
			for _, f := range readers {
				f.Close()
			}
			if stdinW != nil {
				stdinW.Close()
			}
		}
	)
	addOutput := func(w io.Writer) (*os.File, error) {
		r, wf, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		toClose = append(toClose, wf)
		readers = append(readers, r)
		outputs = append(outputs, w)
		return wf, nil
	}
	stdout := p.Stdout
	if stdout == nil {
		stdout = io.Discard
	}
	w, err := addOutput(stdout)
	if err != nil {
		closeAll()
		return LocalError(node, err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if p.Stderr != nil {
		if cmd.Stderr, err = addOutput(p.Stderr); err != nil {
			closeAll()
			return LocalError(node, err)
		}
	}
	if p.Stdin != nil {
		if f, ok := p.Stdin.(*os.File); ok {
			cmd.Stdin = f
		} else {
			r, wf, err := os.Pipe()
			if err != nil {
				closeAll()
				return LocalError(node, err)
			}
			toClose = append(toClose, r)
			stdinW = wf
			cmd.Stdin = r
		}
	}

	spawn := time.Now()
	if err := cmd.Start(); err != nil {
		closeAll()
		return Result255(node, fmt.Errorf("cannot run %s: %w", p.Args[0], err))
	}
	if p.Observe != nil {
		p.Observe(engine.StageSpawn, time.Since(spawn))
	}
	for _, f := range toClose {
		f.Close()
	}
	pgid := cmd.Process.Pid

	var stdinOnce sync.Once
	closeStdin := func() {
		if stdinW != nil {
			stdinOnce.Do(func() { stdinW.Close() })
		}
	}
	if stdinW != nil {
		go func() {
			// An error here is the child closing its stdin or exiting
			// (EPIPE), or closeStdin: ClusterShell drops the data too.
			io.Copy(stdinW, p.Stdin)
			closeStdin()
		}()
	}

	var wg sync.WaitGroup
	for i, r := range readers {
		wg.Add(1)
		go func(r *os.File, w io.Writer) {
			defer wg.Done()
			copyOut(w, r)
		}(r, outputs[i])
	}
	ioDone := make(chan struct{})
	go func() { wg.Wait(); close(ioDone) }()

	exited := make(chan struct{})
	go func() {
		cmd.Wait() // the status is in cmd.ProcessState
		close(exited)
	}()

	killed := false
	for exitedC, ioC := exited, ioDone; exitedC != nil || ioC != nil; {
		select {
		case <-exitedC:
			exitedC = nil
			closeStdin()
		case <-ioC:
			ioC = nil
		case <-ctx.Done():
			killed = true
			// Once the leader is reaped its PID may belong to somebody
			// else: then only its group, which still holds the PID while
			// it has members, is killed.
			reaped := false
			select {
			case <-exited:
				reaped = true
			default:
			}
			killTree(pgid, !reaped)
			exitedC, ioC = nil, nil
		}
	}
	if killed {
		<-exited
		closeStdin()
		t := time.NewTimer(drainGrace)
		select {
		case <-ioDone:
		case <-t.C:
			for _, r := range readers {
				r.Close() // unblocks the reads: os.Pipe files are pollable
			}
			<-ioDone
		}
		t.Stop()
	}
	for _, r := range readers {
		r.Close()
	}
	if killed {
		return CancelResult(ctx, node)
	}
	return engine.Result{ExitCode: ExitCode(cmd.ProcessState)}
}

// copyOut copies a pipe to w until end of file. A failing w does not stop
// the copy: the child must not block on a full pipe because nobody reads.
func copyOut(w io.Writer, r io.Reader) {
	buf := make([]byte, readSize)
	broken := false
	for {
		n, err := r.Read(buf)
		if n > 0 && !broken {
			if _, werr := w.Write(buf[:n]); werr != nil {
				broken = true
			}
		}
		if err != nil {
			return
		}
	}
}

// ExitCode is the exit status of a finished process as ClusterShell
// reports it: the status it exited with, or 128+signal when a signal
// killed it (bash's convention, observed as 137 for "kill -9 $$").
func ExitCode(ps *os.ProcessState) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// CancelResult is the result of a job stopped because ctx is done: a
// *engine.NodeError with no exit status (ExitCode -1). Its reason is
// ReasonCommandTimeout when ctx's cause is a deadline, the reason of the
// cause when the engine cancelled with a *engine.NodeError, and
// ReasonAborted otherwise.
func CancelResult(ctx context.Context, node string) engine.Result {
	cause := context.Cause(ctx)
	reason := engine.ReasonAborted
	switch {
	case errors.Is(cause, context.DeadlineExceeded):
		reason = engine.ReasonCommandTimeout
	case engine.ReasonOf(cause) != "":
		reason = engine.ReasonOf(cause)
	}
	return engine.Result{ExitCode: -1, Err: &engine.NodeError{Node: node, Reason: reason, Err: cause}}
}

// LocalError is the result of a job that failed on this machine before
// anything ran (a bad placeholder, no pipe): ReasonLocal and exit code 1,
// the status clush itself exits with for such errors.
func LocalError(node string, err error) engine.Result {
	return engine.Result{ExitCode: 1, Err: &engine.NodeError{Node: node, Reason: engine.ReasonLocal, Err: err}}
}

// Result255 is the result of a job whose program could not be started:
// ReasonLocal and exit code 255, what ClusterShell reports for a missing
// ssh_path (its forked child exits 255 when exec fails).
func Result255(node string, err error) engine.Result {
	return engine.Result{ExitCode: 255, Err: &engine.NodeError{Node: node, Reason: engine.ReasonLocal, Err: err}}
}

// killTree kills with SIGKILL the process group pgid and, when withTree is
// set (the leader, whose PID is pgid, is not reaped yet), every descendant
// of its leader, including those that moved to another group or session.
// It stops them all first (SIGSTOP) so that none can fork a child between
// the moment it is found and the moment it is killed. Descendants are
// found through /proc's parent links; where there is no /proc only the
// group is killed. Every PID it signals was started by the leader.
//
// The group is killed even when its leader has exited: its children may
// still hold the output pipes.
func killTree(pgid int, withTree bool) {
	if !withTree {
		syscall.Kill(-pgid, syscall.SIGKILL)
		return
	}
	syscall.Kill(-pgid, syscall.SIGSTOP)
	seen := map[int]bool{}
	for range 10 {
		added := false
		for _, pid := range Descendants(pgid) {
			if !seen[pid] {
				seen[pid] = true
				added = true
				syscall.Kill(pid, syscall.SIGSTOP)
			}
		}
		if !added {
			break
		}
	}
	syscall.Kill(-pgid, syscall.SIGKILL)
	for pid := range seen {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// Descendants returns the PIDs of the processes below pid (children,
// grandchildren...), read from /proc; nil where there is no /proc.
func Descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command name may hold spaces and parentheses: the fields
		// after the last ')' are "state ppid ...".
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(b[i+1:])
		if len(f) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(string(f[1])); err == nil {
			children[ppid] = append(children[ppid], p)
		}
	}
	var out []int
	for queue := []int{pid}; len(queue) > 0; queue = queue[1:] {
		for _, c := range children[queue[0]] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}
