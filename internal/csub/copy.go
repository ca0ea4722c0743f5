package csub

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fleetsh/fleetsh/pkg/fleet/client"
	"github.com/fleetsh/fleetsh/pkg/fleet/files"
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
// Where the files are: with the in-process fleet, the agent serving the
// nodes is this process, which reads the sources (-c) and writes the
// copies (--rcopy) here, as clush does. With --fleet, csub stores each
// source in the fleet first (pkg/fleet/files: content-addressed chunks
// in the coordinator's store, only those the store lacks), and each
// agent fetches it once and copies it to its nodes; a reverse copy's
// agents send each node's copy back through the store and csub writes
// it here (pull.go). --gateway-paths keeps the paths on the gateways
// instead (a shared file system, files staged there): the agents read
// the sources and write the copies on their own disks.

// copyArgs checks the copy's arguments and fills in --dest as clush does,
// returning the -d line's description.
func copyArgs(s *settings, usageError func(string) error) (string, error) {
	if len(s.command) == 0 {
		return "", usageError("--[r]copy option requires at least one argument")
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

// throughFleet says the copy's files move through the fleet (--fleet
// without --gateway-paths).
func throughFleet(s *settings) bool { return s.fleet != "" && !s.gatewayPaths }

// copySpec is the job copying source; tree is source as stored in the
// fleet (a push through it).
func copySpec(s *settings, nodes, source string, tree *protocol.TreeRef) protocol.JobSpec {
	return protocol.JobSpec{
		Nodes: nodes,
		Copy: &protocol.CopySpec{Source: source, Dest: s.dest, Reverse: s.rcopy, Preserve: s.preserve,
			Tree: tree, Collect: s.rcopy && throughFleet(s)},
		// A copy through the fleet is safe to repeat: the nodes of a
		// gateway lost while copying go to another agent of its group.
		RerunOnLoss:    throughFleet(s),
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
	c, closeFleet, err := openFleet(ctx, s, env)
	if err != nil {
		d.o.flush()
		fmt.Fprintf(env.stderr, "%s: %v\n", progName, err)
		return 1
	}
	finished := false
	defer func() { closeFleet(finished) }()
	cr := &copyRun{dest: s.dest, reverse: s.rcopy, left: len(s.command)}
	n := ns.Len()
	var timer *runTimer
	var cur *renderer
	doneBefore := 0
	status := 0
	for _, src := range s.command {
		var tree *protocol.TreeRef
		if throughFleet(s) && !s.rcopy {
			ref, err := pushTree(ctx, c, src, env)
			if err != nil {
				d.o.flush()
				fmt.Fprintf(env.stderr, "%s: %v\n", progName, err)
				return 1
			}
			tree = &ref
		}
		job, err := submit(ctx, c, copySpec(s, ns.String(), src, tree), env, intr)
		if err != nil {
			d.o.flush()
			return exitSubmit(err, env)
		}
		r := newRenderer(d, job.Nodes())
		r.h = &copyHandler{directHandler: directHandler{r}, cr: cr, source: src}
		if throughFleet(s) && s.rcopy {
			from := &files.Client{Conn: c.Conn, Subject: c.Subjects.Files(c.User), Job: job.ID()}
			r.pull = newPull(ctx, r, from, s.dest, src, s.preserve)
		}
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

// pushTree stores src in the fleet's file store, sending only the chunks
// the store lacks, and returns its reference for the job.
func pushTree(ctx context.Context, c *client.Client, src string, env *environ) (protocol.TreeRef, error) {
	to := &files.Client{Conn: c.Conn, Subject: c.Subjects.Files(c.User)}
	ref, st, err := files.Push(ctx, src, to, files.PushOptions{})
	if err != nil {
		return ref, fmt.Errorf("store %s in the fleet: %w", src, err)
	}
	logger(env).Debug("source stored in the fleet", "source", src, "tree", ref.Digest.String(), "files", st.Files,
		"bytes", st.Bytes, "sent_chunks", st.SentChunks, "sent_bytes", st.SentBytes)
	return ref, nil
}
