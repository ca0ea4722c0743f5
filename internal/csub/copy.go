package csub

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// File copies, clush's -c/--copy and --rcopy: the arguments are the
// sources, --dest the destination (by default the first source's
// directory), -p keeps modes and times. Each source is one job, run one
// after the other (clush runs one copy worker per source in the same
// task), with clush's output: errors as they come, exit codes, with -v a
// line per source copied, and the timeouts of the last one.
//
// Where the files are: a copy runs in the agent serving the node, which
// reads the sources (-c) or writes the copies (--rcopy) on its own disk.
// With the in-process fleet that is this machine, as with clush. With
// --fleet it is each node's gateway: csub refuses a copy then, unless
// --gateway-paths says that the paths are meant on the gateways (a
// shared file system, files staged there), since silently reading or
// writing the gateways' files where the user means their own would copy
// the wrong files or lose the copies.

// copyArgs checks the copy's arguments and fills in --dest as clush does,
// returning the -d line's description.
func copyArgs(s *settings, usageError func(string) error) (string, error) {
	if len(s.command) == 0 {
		return "", usageError("--[r]copy option requires at least one argument")
	}
	if s.fleet != "" && !s.gatewayPaths {
		what := "-c would read the sources"
		if s.rcopy {
			what = "--rcopy would write the copies under --dest"
		}
		return "", usageError(what + " on the gateways of the fleet, not here (add --gateway-paths if that is meant)")
	}
	if s.dest == "" {
		abs, err := filepath.Abs(s.command[0])
		if err != nil {
			return "", osError(err)
		}
		s.dest = filepath.Dir(abs)
		if s.copy {
			// clush appends '/' to mean a directory (for its tree mode).
			s.dest = pyJoin(s.dest, "")
		}
	}
	op := "copy"
	if s.rcopy {
		op = "rcopy"
	}
	return fmt.Sprintf("%s sources=%s dest=%s", op, pyListRepr(s.command), s.dest), nil
}

// checkCopyPaths is run_copy's and run_rcopy's checks of the local paths
// (not made with --gateway-paths: they are not local then).
func checkCopyPaths(s *settings) error {
	if s.gatewayPaths && s.fleet != "" {
		return nil
	}
	if s.copy {
		for _, src := range s.command {
			if _, err := os.Stat(src); err != nil {
				return &configError{msg: fmt.Sprintf("file \"%s\" not found", src)}
			}
		}
		return nil
	}
	fi, err := os.Stat(s.dest)
	if err != nil {
		return &configError{msg: fmt.Sprintf("directory \"%s\" not found", s.dest)}
	}
	if !fi.IsDir() {
		return &configError{msg: fmt.Sprintf("destination \"%s\" is not a directory", s.dest)}
	}
	return nil
}

// copySpec is the job copying source.
func copySpec(s *settings, nodes, source string) protocol.JobSpec {
	return protocol.JobSpec{
		Nodes:          nodes,
		Copy:           &protocol.CopySpec{Source: source, Dest: s.dest, Reverse: s.rcopy, Preserve: s.preserve},
		Worker:         s.worker,
		Fanout:         s.fanout,
		ConnectTimeout: s.connectTimeout,
		CommandTimeout: s.commandTimeout,
		// clush's rcopy keeps standard error apart whatever -B says.
		Stderr:    s.rcopy || !s.gatherAll,
		Info:      jobInfo(s),
		MaxOutput: s.maxOutput,
	}
}

// runCopy runs the copy jobs one after the other and returns the exit
// status: clush's rules over all of them.
func runCopy(ctx context.Context, s *settings, ns *nodeset.NodeSet, d *display, env *environ, intr <-chan struct{}) int {
	conn, subj, closeFleet, err := connect(ctx, s, env)
	if err != nil {
		d.o.flush()
		fmt.Fprintf(env.stderr, "%s: %v\n", progName, err)
		return 1
	}
	finished := false
	defer func() { closeFleet(finished) }()
	c := newClient(conn, subj, s, env)
	cr := &copyRun{dest: s.dest, reverse: s.rcopy, left: len(s.command)}
	n := ns.Len()
	var timer *runTimer
	var cur *renderer
	doneBefore := 0
	status := 0
	for _, src := range s.command {
		job, err := submit(ctx, c, copySpec(s, ns.String(), src), env, intr)
		if err != nil {
			d.o.flush()
			return exitSubmit(err, env)
		}
		r := newRenderer(d, job.Nodes())
		r.h = &copyHandler{directHandler: directHandler{r}, cr: cr, source: src}
		if timer == nil && d.wantRunTimer(true) {
			// One counter for all the copies, as clush's.
			timer = startRunTimer(d, n*len(s.command), func() int {
				if cur == nil {
					return doneBefore
				}
				return doneBefore + cur.res.nfinal()
			})
		}
		if timer != nil {
			timer.mu.Lock()
			cur = r
			timer.mu.Unlock()
			r.timer, r.sharedTimer = timer, true
		}
		st := stream(ctx, job, r, s, env, intr)
		job.Close()
		finished = r.res.accounted()
		if timer != nil {
			timer.mu.Lock()
			doneBefore += r.res.nfinal()
			cur = nil
			timer.mu.Unlock()
		}
		if st == 130 || !s.maxrc && st != 0 {
			return st // a Ctrl-C, or a broken stream (statuses are 0 without -S)
		}
		status = max(status, st)
	}
	if timer != nil {
		timer.mu.Lock()
		timer.halt()
		timer.mu.Unlock()
	}
	return status
}
