package csub

import (
	"context"
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

// Subcommand describes one of csub's subcommands: its help, which
// `csub NAME --help` prints and docs/csub.md and manual pages repeat.
type Subcommand struct {
	Name     string // the word that selects it: "jobs"
	Synopsis string // its command line
	Summary  string // what it does, in a sentence
	// Options are the options it reads beyond the fleet's (--fleet,
	// --fleet-creds, --fleet-ca, --prefix, --conf), each with its help.
	Options [][2]string
	// Exit says what its exit status means.
	Exit string
}

// Subcommands lists csub's subcommands. Each talks to a fleet's
// coordinator rather than runs a command, and is the first argument
// that is not an option when the options select no node, so a command
// named "jobs" still runs with `csub -w ... jobs`. Options may come
// before and after it, as clush's options around a command's arguments.
// Each needs a fleet (--fleet or FLEETSH_FLEET): the in-process fleet of
// a one-shot csub has no jobs and no agents after it exits.
func Subcommands() []Subcommand {
	return []Subcommand{
		{Name: "jobs", Synopsis: "csub [options] jobs [options]",
			Summary: "List the coordinator's jobs, oldest first: id, user, submitted, nodes, nodes done, status, command.",
			Options: [][2]string{{"--json", `one JSON object per job ("type":"job"), a line each`}},
			Exit:    "0 listed; 1 no fleet, or the coordinator did not answer; 2 usage error."},
		{Name: "attach", Synopsis: "csub [options] attach [options] JOB",
			Summary: "Replay what job JOB printed so far, then follow it to its end, rendered as if it had been submitted " +
				"with the output options given; Ctrl-C detaches and leaves the job running.",
			Options: [][2]string{{"-b, -B, -L, -N, -q, -S, -v, --json, --summary", "render the job as csub's output options do"},
				{"--fleet-reconnect DURATION", "how long to keep trying when the coordinator cannot be reached"}},
			Exit: "the job's, by csub's rules for a job it ran; 1 no fleet or no such job; 2 usage error; 130 detached."},
		{Name: "agents", Synopsis: "csub [options] agents [options]",
			Summary: "List the coordinator's agents by gateway group: id, gateway name, groups served, last heartbeat, " +
				"shards and nodes running, fanout, load average, release, and whether each is live, draining or lost.",
			Options: [][2]string{{"--json", "one JSON array of agents, by id (docs/csub.md lists its fields)"}},
			Exit:    "0 listed; 1 no fleet, the coordinator did not answer, or the policy denies you the agents; 2 usage error."},
		{Name: "status", Synopsis: "csub [options] status [options] JOB",
			Summary: "Say where job JOB stands: id, user, command, submitted and ended, done or running, and the folded " +
				"node set of each final state (of each exit status for the exited nodes).",
			Options: [][2]string{{"--json", "one JSON object (docs/csub.md lists its fields)"},
				{"--wait", "wait for the job to end (asking the coordinator every second), then print its status; " +
					"Ctrl-C stops waiting and leaves the job running"},
				{"--fleet-reconnect DURATION", "with --wait, how long to keep waiting while the coordinator cannot be reached " +
					"or does not know the job (a failover)"}},
			Exit: fmt.Sprintf("%d done and every node exited 0; %d done and some node failed; %d usage error; "+
				"%d still running (never with --wait); %d no status (no fleet, no such job, the coordinator did not answer); "+
				"130 stopped waiting (Ctrl-C).", statusOK, statusFailed, statusUsage, statusRunning, statusUnknown)},
	}
}

func subcommandNamed(name string) bool {
	return slices.ContainsFunc(Subcommands(), func(s Subcommand) bool { return s.Name == name })
}

// asksHelp reports whether args, a subcommand's, hold -h or --help
// before any "--".
func asksHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "--help":
			return true
		}
	}
	return false
}

// writeSubcommandHelp prints the help of subcommand name (csub NAME
// --help), wrapped as csub --help is.
func writeSubcommandHelp(w io.Writer, name string) {
	i := slices.IndexFunc(Subcommands(), func(s Subcommand) bool { return s.Name == name })
	sc := Subcommands()[i]
	const width = 79
	para := func(text, indent string) {
		for _, l := range optparse.Wrap(text, width, indent) {
			fmt.Fprintln(w, l)
		}
	}
	fmt.Fprintf(w, "Usage: %s\n\n", sc.Synopsis)
	para(sc.Summary, "")
	fmt.Fprintln(w, "\nOptions:")
	opts := append(slices.Clip(sc.Options), [2]string{"--fleet URL, --fleet-creds FILE, --fleet-ca FILE, --prefix PREFIX, --conf FILE",
		"the fleet to ask, as for a command (csub --help)"})
	for _, o := range opts {
		fmt.Fprintf(w, "  %s\n", o[0])
		para(o[1], "        ")
	}
	fmt.Fprintln(w)
	para("Exit status: "+sc.Exit, "")
}

// subcommand runs the subcommand args name, if they name one (see
// Subcommands).
func subcommand(ctx context.Context, args []string, env *environ, intr <-chan struct{}) (int, bool) {
	if !slices.ContainsFunc(args, subcommandNamed) {
		return 0, false
	}
	// A silent parse: --help and errors are for the path that follows.
	quiet := &environ{stdin: env.stdin, stdout: io.Discard, stderr: io.Discard, getenv: env.getenv}
	s, _, err := parseArgs(args, quiet)
	if err != nil || len(s.command) == 0 || s.selectsNodes() {
		return 0, false // not a subcommand: the usual path reports errors
	}
	name := s.command[0]
	if !subcommandNamed(name) {
		return 0, false
	}
	at := len(args) - len(s.command)
	if asksHelp(args[at+1:]) {
		writeSubcommandHelp(env.stdout, name)
		return 0, true
	}
	rest := append(slices.Clip(args[:at]), args[at+1:]...)
	s, operands, p, err := parseInterspersed(rest, env)
	if err != nil {
		return exitStatus(err, env), true
	}
	if s.wait && name != "status" {
		return exitStatus(p.Error(waitOnlyWithStatus), env), true
	}
	switch name {
	case "jobs":
		return runJobs(ctx, s, operands, p, env), true
	case "agents":
		return runAgents(ctx, s, operands, p, env), true
	case "status":
		return runStatus(ctx, s, operands, p, env, intr), true
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
	c, closeFleet, err := openFleet(ctx, s, env)
	if err != nil {
		fmt.Fprintf(env.stderr, "%s: %v\n", progName, err)
		return nil, nil, false
	}
	return c, func() { closeFleet(true) }, true
}

// askFleet makes the one request of a subcommand that takes no operand:
// it refuses operands, connects to the fleet and asks with a bounded
// wait. On failure it says why and returns the exit status, ok false.
func askFleet[T any](ctx context.Context, s *settings, operands []string, p *optparse.Parser, env *environ, name string,
	ask func(*client.Client, context.Context) (T, error)) (v T, status int, ok bool) {
	if len(operands) > 0 {
		return v, exitStatus(p.Error(fmt.Sprintf("%s: unexpected argument %q", name, operands[0])), env), false
	}
	c, done, ok := fleetClient(ctx, s, env, "csub "+name)
	if !ok {
		return v, 1, false
	}
	defer done()
	rctx, cancel := context.WithTimeout(ctx, registryTimeout)
	defer cancel()
	v, err := ask(c, rctx)
	if err != nil {
		fmt.Fprintf(env.stderr, "%s: %v\n", progName, err)
		return v, 1, false
	}
	return v, 0, true
}

func runJobs(ctx context.Context, s *settings, operands []string, p *optparse.Parser, env *environ) int {
	jobs, status, ok := askFleet(ctx, s, operands, p, env, "jobs", (*client.Client).Jobs)
	if !ok {
		return status
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
		sayJobError(err, id, env)
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
