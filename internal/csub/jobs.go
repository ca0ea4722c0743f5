package csub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/fleetsh/fleetsh/internal/optparse"
	"github.com/fleetsh/fleetsh/pkg/fleet/client"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Subcommands that talk to a fleet's job registry rather than run a
// command. The first argument that is not an option names one when the
// options select no node, so a command named "jobs" still runs with
// `csub -w ... jobs`. Options may come before and after it, as clush's
// options around a command's arguments:
//
//	csub [options] jobs [options]            list the coordinator's jobs
//	csub [options] attach [options] JOB      replay a job's output, then follow it
//
// attach takes csub's output options (-b, -B, -L, -N, -q, -S, -v, --json,
// --summary) and renders the job as if it had been submitted with them;
// Ctrl-C detaches and leaves the job running. Both need a fleet (--fleet
// or FLEETSH_FLEET): the in-process fleet of a one-shot csub has no jobs
// after it exits.
func subcommand(ctx context.Context, args []string, env *environ, intr <-chan struct{}) (int, bool) {
	if !slices.Contains(args, "jobs") && !slices.Contains(args, "attach") {
		return 0, false
	}
	// A silent parse: --help and errors are for the path that follows.
	quiet := &environ{stdin: env.stdin, stdout: io.Discard, stderr: io.Discard, getenv: env.getenv}
	s, _, err := parseArgs(args, quiet)
	if err != nil || len(s.command) == 0 || s.selectsNodes() {
		return 0, false // not a subcommand: the usual path reports errors
	}
	name := s.command[0]
	if name != "jobs" && name != "attach" {
		return 0, false
	}
	at := len(args) - len(s.command)
	rest := append(slices.Clip(args[:at]), args[at+1:]...)
	s, operands, p, err := parseInterspersed(rest, env)
	if err != nil {
		return exitStatus(err, env), true
	}
	if name == "jobs" {
		return runJobs(ctx, s, operands, p, env), true
	}
	return runAttach(ctx, s, operands, p, env, intr), true
}

// selectsNodes reports whether options name target nodes.
func (s *settings) selectsNodes() bool {
	return len(s.nodes) > 0 || len(s.groups) > 0 || s.all || len(s.hostfiles) > 0
}

// parseInterspersed parses args with options anywhere among the
// operands, as optparse does unless told otherwise (csub's parser stops
// at the command, whose own options are not csub's): each operand is
// taken out and the rest parsed again; "--" ends the options.
func parseInterspersed(args []string, env *environ) (*settings, []string, *optparse.Parser, error) {
	var operands []string
	for {
		s, p, err := parseArgs(args, env)
		if err != nil {
			return nil, nil, p, err
		}
		at := len(args) - len(s.command)
		if len(s.command) == 0 || at > 0 && args[at-1] == "--" {
			return s, append(operands, s.command...), p, nil
		}
		operands = append(operands, s.command[0])
		args = append(slices.Clip(args[:at]), args[at+1:]...)
	}
}

// fleetClient connects to the configured fleet for a subcommand; when it
// cannot, it says why on standard error and ok is false.
func fleetClient(ctx context.Context, s *settings, env *environ, what string) (c *client.Client, done func(), ok bool) {
	if s.fleet == "" {
		fmt.Fprintf(env.stderr, "%s: %s needs a fleet: give --fleet URL or set %s (a csub without one runs its own fleet, which keeps no jobs)\n", progName, what, envFleet)
		return nil, nil, false
	}
	conn, subj, closeFleet, err := connect(ctx, s, env)
	if err != nil {
		fmt.Fprintf(env.stderr, "%s: %v\n", progName, err)
		return nil, nil, false
	}
	return newClient(conn, subj, s, env), func() { closeFleet(true) }, true
}

func runJobs(ctx context.Context, s *settings, operands []string, p *optparse.Parser, env *environ) int {
	if len(operands) > 0 {
		return exitStatus(p.Error(fmt.Sprintf("jobs: unexpected argument %q", operands[0])), env)
	}
	c, done, ok := fleetClient(ctx, s, env, "csub jobs")
	if !ok {
		return 1
	}
	defer done()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	jobs, err := c.Jobs(rctx)
	if err != nil {
		fmt.Fprintf(env.stderr, "%s: %v\n", progName, err)
		return 1
	}
	if s.json {
		for _, j := range jobs {
			writeJSON(env.stdout, struct {
				Type string `json:"type"`
				protocol.JobStatus
			}{"job", j})
		}
		return 0
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tUSER\tSUBMITTED\tNODES\tDONE\tSTATUS\tCOMMAND")
	for _, j := range jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", j.ID, j.User, j.Submitted.Local().Format("2006-01-02 15:04:05"),
			j.Total, finalCount(j), jobState(j), oneLine(jobWhat(j)))
	}
	if err := tw.Flush(); err != nil {
		return 1
	}
	return 0
}

func finalCount(j protocol.JobStatus) int {
	n := 0
	for _, c := range j.Finals {
		n += c
	}
	return n
}

// jobState says whether a job runs, and how the finished ones ended.
func jobState(j protocol.JobStatus) string {
	if !j.Done {
		return "running"
	}
	var parts []string
	keys := make([]string, 0, len(j.Finals))
	for st := range j.Finals {
		keys = append(keys, string(st))
	}
	sort.Strings(keys)
	for _, st := range keys {
		parts = append(parts, fmt.Sprintf("%d %s", j.Finals[protocol.State(st)], st))
	}
	return "done (" + strings.Join(parts, ", ") + ")"
}

// jobWhat says what a job runs: its command, or its copy as
// "copy SOURCE -> DEST" (-c) or "rcopy SOURCE -> DEST" (--rcopy).
func jobWhat(j protocol.JobStatus) string {
	if c := j.Copy; c != nil {
		verb := "copy"
		if c.Reverse {
			verb = "rcopy"
		}
		return fmt.Sprintf("%s %s -> %s", verb, c.Source, c.Dest)
	}
	return j.Command
}

func oneLine(cmd string) string {
	cmd = strings.ReplaceAll(cmd, "\n", " ")
	if len(cmd) > 60 {
		cmd = cmd[:57] + "..."
	}
	return cmd
}

func runAttach(ctx context.Context, s *settings, operands []string, p *optparse.Parser, env *environ, intr <-chan struct{}) int {
	if len(operands) != 1 {
		return exitStatus(p.Error("attach: give exactly one job id (see csub jobs)"), env)
	}
	id := operands[0]
	env.watching.Store(true) // Ctrl-C detaches (below)
	c, done, ok := fleetClient(ctx, s, env, "csub attach")
	if !ok {
		return 1
	}
	defer done()
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	job, err := c.Attach(actx, id)
	cancel()
	if err != nil {
		if errors.Is(err, client.ErrUnknownJob) {
			fmt.Fprintf(env.stderr, "%s: no job %q on this fleet (csub jobs lists them)\n", progName, id)
			return 1
		}
		fmt.Fprintf(env.stderr, "%s: %v\n", progName, err)
		return 1
	}
	defer job.Close()
	o := newOutputs(env.stdout, env.stderr)
	defer o.flush()
	r := newRenderer(newDisplay(s, o), job.Nodes())
	if s.json {
		r.h = newJSONHandler(r)
	}
	began := time.Now()
	rctx, stop, detached := untilInterrupt(ctx, intr)
	defer stop()
	for {
		b, err := job.Next(rctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			o.flush()
			if detached() {
				fmt.Fprintf(env.stderr, "%s: detached from job %s (it goes on; csub attach %s follows it again)\n", progName, id, id)
				return 128 + int(syscall.SIGINT)
			}
			status := lostStream(r, job, err, s, began, env)
			o.flush()
			return status
		}
		r.batch(b)
		if err := o.flush(); err != nil {
			return 1
		}
	}
	status := endStream(r, job, s, began)
	o.flush()
	return status
}
