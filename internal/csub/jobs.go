package csub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/fleetsh/fleetsh/pkg/fleet/client"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Subcommands that talk to a fleet's job registry rather than run a
// command. They are recognised only as csub's first argument, so a
// command named "jobs" still runs with `csub -w ... jobs`.
//
//	csub jobs [--fleet URL] [--prefix P]            list the coordinator's jobs
//	csub attach [options] JOB                       replay a job's output, then follow it
//
// attach takes csub's output options (-b, -B, -L, -N, -q, -S, -v, --json,
// --summary) and renders the job as if it had been submitted with them;
// Ctrl-C detaches and leaves the job running. Both need a fleet (--fleet
// or FLEETSH_FLEET): the in-process fleet of a one-shot csub has no jobs
// after it exits.
func subcommand(ctx context.Context, args []string, env *environ, intr <-chan struct{}) (int, bool) {
	if len(args) == 0 {
		return 0, false
	}
	switch args[0] {
	case "jobs":
		return runJobs(ctx, args[1:], env), true
	case "attach":
		return runAttach(ctx, args[1:], env, intr), true
	}
	return 0, false
}

// fleetClient connects to the configured fleet for a subcommand.
func fleetClient(ctx context.Context, s *settings, env *environ, what string) (*client.Client, func(), error) {
	if s.fleet == "" {
		return nil, nil, fmt.Errorf("%s needs a fleet: give --fleet URL or set %s (a csub without one runs its own fleet, which keeps no jobs)", what, envFleet)
	}
	conn, subj, closeFleet, err := connect(ctx, s, env)
	if err != nil {
		return nil, nil, err
	}
	return &client.Client{Conn: conn, Subjects: subj, User: userName(env)}, func() { closeFleet(true) }, nil
}

func runJobs(ctx context.Context, args []string, env *environ) int {
	s, p, err := parseArgs(args, env)
	if err != nil {
		return exitStatus(err, env)
	}
	if len(s.command) > 0 {
		return exitStatus(p.Error(fmt.Sprintf("jobs: unexpected argument %q", s.command[0])), env)
	}
	c, done, err := fleetClient(ctx, s, env, "csub jobs")
	if err != nil {
		fmt.Fprintf(env.stderr, "%s: %v\n", progName, err)
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
			j.Total, finalCount(j), jobState(j), oneLine(j.Command))
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

func oneLine(cmd string) string {
	cmd = strings.ReplaceAll(cmd, "\n", " ")
	if len(cmd) > 60 {
		cmd = cmd[:57] + "..."
	}
	return cmd
}

func runAttach(ctx context.Context, args []string, env *environ, intr <-chan struct{}) int {
	s, p, err := parseArgs(args, env)
	if err != nil {
		return exitStatus(err, env)
	}
	if len(s.command) != 1 {
		return exitStatus(p.Error("attach: give exactly one job id (see csub jobs)"), env)
	}
	id := s.command[0]
	c, done, err := fleetClient(ctx, s, env, "csub attach")
	if err != nil {
		fmt.Fprintf(env.stderr, "%s: %v\n", progName, err)
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
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	detached := make(chan struct{})
	go func() {
		select {
		case <-intr:
			close(detached)
			stop()
		case <-rctx.Done():
		}
	}()
	for {
		b, err := job.Next(rctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			o.flush()
			select {
			case <-detached:
				fmt.Fprintf(env.stderr, "%s: detached from job %s (it goes on; csub attach %s follows it again)\n", progName, id, id)
				return 128 + int(syscall.SIGINT)
			default:
			}
			fmt.Fprintf(env.stderr, "%s: %v\n", progName, err)
			return 1
		}
		r.batch(b)
		if err := o.flush(); err != nil {
			return 1
		}
	}
	r.finish()
	if s.summary {
		printSummary(r, s, time.Since(began))
	}
	o.flush()
	return r.res.exitStatus(s.maxrc)
}
