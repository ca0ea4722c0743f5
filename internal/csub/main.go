// Package csub is the csub command: clush's command line and output on
// top of a fleetsh fleet. It parses clush 1.9.1's options (with
// internal/optparse, so usage, help and errors read the same), reads
// clush.conf from clush's places, resolves the target nodes and their
// groups locally, submits one job over NATS (to the fleet given by
// --fleet or FLEETSH_FLEET, else to an in-process fleet started for the
// run) and renders the job's merged event stream exactly as clush prints
// a command's output, with "csub" where clush prints its own name
// (integration/csub_diff_test.go compares the two on over 100 command lines).
//
// # Structure
//
// options.go declares clush's options in clush's order and reads
// clush.conf (config.go: [Main], -O, -m modes and confdir, with
// internal/pyfmt.ConfigParser as Python's); nodes.go computes the node
// set (-w, -x, -g, -X, -a, --hostfile, --pick, -s, --groupsconf);
// setup.go reads the rest of clush.conf in clush's order and the
// standard input; copy.go runs -c and --rcopy, one job per source.
//
// One renderer serves every output mode: it reads the stream's events,
// reassembles lines, keeps the results clush's Task keeps (exit codes,
// timeouts, standard output stored once per distinct output), and passes
// node events to the handler of the mode, the counterpart of each
// ClusterShell OutputHandler (direct, --outdir, -b gathered, -L sorted,
// -bL live gathered, copies, JSON lines). display.go is ClusterShell's
// Display (labels, header blocks, colors, -r folding, --diff through
// internal/pydifflib, verbosity); runtimer.go is clush's progress
// counter (-P, and with -b or -L after 1.33 s). spec.go describes csub's
// and clubak's command lines (options from the parsers themselves,
// subcommands from Subcommands()) for their man pages and shell
// completion (internal/mangen), printed with the hidden --help-spec.
//
// jobs.go runs the subcommands that ask a fleet's coordinator rather
// than run a command (jobs, attach; agents.go: agents; status.go: status),
// and Subcommands holds their help.
//
// The same display serves clubak (ClubakMain, clubak*.go, cmd/clubak),
// ClusterShell's clubak: it gathers "node: line" input in an
// engine.MsgTree and prints it in clubak's modes (docs/clubak.md).
//
// # Where csub differs from clush
//
//   - The tree mode options (--topology, --remote, --grooming) are not
//     accepted: topology is the coordinator's (topology.conf). -E is
//     accepted and ignored.
//   - A value given on the command line (-f, -l, -o, -t, -u, --color,
//     -S, -O) wins over the -m mode's, and a mode's fanout, color and
//     node_count apply; clush 1.9.1 lets the mode win over the command
//     line, and ignores those three.
//   - -O KEY=VALUE with a key clush.conf does not know sets that task
//     info key of the job (ssh_config, ssh_known_hosts, USER_*...).
//   - With the native ssh worker (the default), -o and ssh_options may
//     hold only the OpenSSH options it implements (-F, -i, -J, -l, -p, -q,
//     -o Key=Value for its keys, see pkg/workers/ssh): any other is
//     refused before the job is submitted, pointing to -R openssh.
//   - A copy reads (-c) and writes (--rcopy) files here, as clush does;
//     with --fleet they move through the fleet (each source stored once
//     in the coordinator's store and fetched once per gateway; each
//     node's copy sent back through it), unless --gateway-paths says the
//     paths are on the gateways. With the exec worker, --rcopy makes
//     <dest>/<name>.<node> (clush 1.9.1 runs cp with its arguments
//     swapped).
//   - Standard input streams to the nodes as with clush, but in bounded
//     memory (docs/csub.md): a node reading none of it while others do is
//     cut off after engine.StdinStall, and past 16 MiB nodes started late
//     (fanout, re-dispatch) end in error rather than get part of it.
//   - A job has at most 1 000 000 nodes (FLEETSH_MAX_NODES, and the
//     fleet's coordinator's own limit): a larger set is refused at once,
//     counted before it is expanded (clush expands whatever it is given).
//   - -d prints clush's lines and its workers' (EXECCLIENT, SSHCLIENT,
//     "node1: b'ok'" for each line read): the agents send those in the
//     job's stream when the job's "debug" info key is on (KindDebug
//     records, in their order with the output). The native ssh worker has
//     no ssh command line to show: its SSHCLIENT lines say what it
//     connects to instead. A line a node read after a fleet retry may
//     show twice.
//   - With -R exec, a node name holding shell syntax (quotes, ';', '$',
//     blanks...) is quoted where %h or %hosts puts it in the command, so
//     that it cannot run anything; clush inserts it as it is. Usual names
//     (letters, digits, -._:@+,/[]) are inserted byte for byte, as by
//     clush. With the ssh, openssh, rsh and pdsh workers such a name, or
//     one starting with '-', is refused ("hostname contains invalid
//     characters", as OpenSSH 9.6 refuses it).
//   - fd_max sets csub's own open files limit, which the in-process
//     fleet's commands inherit; with --fleet the agents keep theirs. -d's
//     "Changing max open files soft limit from N" names the limit Go
//     raised it to at start-up, not the one csub was started with.
//
// # Beyond clush
//
// The fleet can end a node in ways an ssh client cannot (its gateway was
// lost, no agent serves it, the job was cancelled, the worker could not
// run), and it knows connection, authentication and host key failures by
// name where clush only sees ssh exit with status 255. After clush's own
// exit code and timeout summaries, csub prints on standard error one line
// per such state and reason with the folded set of its nodes (a node's
// own name in its reason written %h; past three distinct reasons, the
// other nodes share a line with one of theirs as an example):
//
//	csub: node[3-4]: gateway lost: agent gw1-a stopped heartbeating
//	csub: node[7,9]: connect failure: ssh: Could not resolve hostname %h: Name or service not known
//
// Connection, authentication and host key failures otherwise look as in
// clush (the worker's ssh-like stderr line, "exited with exit code 255",
// grouped by exit code with -b); the fleet's own failures get no exit
// code line, since no command exited. All of them count as exit status
// 255 for -S. --json gives each failed node's message as "reason" and
// the engine's finer reason within its state as "detail" ("host key
// changed" or "host key unknown" in "host key refused").
//
// With the native ssh worker, a command stopped by -u or Ctrl-C is killed
// on its node (clush leaves it running); --json's final state says
// "command timeout: killed on the node (process group N)" or "... may
// still run on the node: <why>" (docs/csub.md lists the limits).
//
// On a terminal (tty.go), csub without a command is clush's interactive
// prompt (interactive.go: each line one job on the session's fleet), and
// a run shows a live progress line on standard error, with Ctrl-T naming
// the nodes still running (progress.go); neither exists without a
// terminal, so output compared with clush's never has them.
package csub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"os/user"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/internal/clispec"
	"github.com/fleetsh/fleetsh/internal/optparse"
	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/fleet/client"
	"github.com/fleetsh/fleetsh/pkg/fleet/embedded"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// progName is the name csub prints where clush prints "clush".
const progName = "csub"

// Timeouts of the run outside the job itself.
const (
	// connectTimeout bounds the connection to an external fleet: csub is
	// interactive, so an unreachable --fleet fails fast.
	connectTimeout = 5 * time.Second
	// interruptGrace is how long a Ctrl-C waits for the cancelled job's
	// stream to end, so the nodes that did not complete can be named.
	interruptGrace = 5 * time.Second
	// finishedCloseWait bounds the wait for the in-process fleet to stop
	// once the job is over.
	finishedCloseWait = 50 * time.Millisecond
)

type environ struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	term           *terminal // the user's terminal (tty.go); nil in tests
	// watching is set once a Ctrl-C is read from intr (a job streams, or
	// a prompt waits): before, Main's Ctrl-C ends csub at once.
	watching atomic.Bool
	// limits is the process's open files limit, which clush.conf's fd_max
	// sets (fdlimit.go); nil in tests: the test binary's is left alone.
	limits rlimits
	// runTimerDelay is when clush's progress counter first shows; zero:
	// clush's 1.33 s. Tests whose expected output has no counter make it
	// long, as a loaded machine may otherwise take 1.33 s to run them.
	runTimerDelay time.Duration
	// stallTimeout is client.Client.StallTimeout (zero: its 5 s): tests
	// of a stream that breaks make it short.
	stallTimeout time.Duration
	// setGCPercent is debug.SetGCPercent, nil in tests (the test binary's
	// collector is left alone) and when the user set GOGC: see
	// gatherGCPercent.
	setGCPercent func(int) int
	// now is csub's clock (time.Now when nil): tests fix it, so that
	// the ages `csub agents` and `csub status` print are stable, and its
	// location is the zone they print times in.
	now func() time.Time
}

// clock returns the time by env's clock.
func (e *environ) clock() time.Time {
	if e.now != nil {
		return e.now()
	}
	return time.Now()
}

// gatherGCPercent is the collector's GOGC while csub gathers output (-b,
// -L): the gathered output is most of the live heap and has no pointers,
// so a collection costs little however large it is, while GOGC's default
// 100 lets the heap grow to twice it before collecting: 50 keeps csub's
// peak at about 1.5 times what it gathered (docs/bench/outmem.md).
const gatherGCPercent = 50

func (e *environ) lookup(k string) (string, bool) {
	v := e.getenv(k)
	return v, v != ""
}

// Main runs csub with args (without the program name) and returns its exit
// status. getenv supplies FLEETSH_FLEET, FLEETSH_PREFIX, COLUMNS, USER and
// the variables locating groups.conf. A SIGINT (Ctrl-C) cancels the job.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if clispec.Serve(args, stdout, cliSpec) {
		return 0
	}
	sigs := make(chan os.Signal, 2)
	// Started with SIGINT ignored (a background job of a script), clush
	// (Python) keeps ignoring it: so does csub.
	if !signal.Ignored(os.Interrupt) {
		signal.Notify(sigs, os.Interrupt)
		defer signal.Stop(sigs)
	}
	intr := make(chan struct{}, 2)
	done := make(chan struct{})
	defer close(done)
	env := &environ{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv,
		term: newTerminal(stdin, stdout, stderr), limits: processLimits{}}
	if getenv("GOGC") == "" {
		env.setGCPercent = debug.SetGCPercent
	}
	defer env.term.close()
	go func() {
		for {
			select {
			case <-sigs:
				if !env.watching.Load() {
					// Nothing was submitted yet (options, node sets,
					// groups, standard input, connecting): nothing to
					// cancel or report but clush's line.
					env.term.close()
					fmt.Fprintln(stderr, "Keyboard interrupt.")
					os.Exit(128 + int(syscall.SIGINT))
				}
				select {
				case intr <- struct{}{}:
				default:
				}
			case <-done:
				return
			}
		}
	}()
	return run(context.Background(), args, env, intr)
}

// run is Main with the interrupts (Ctrl-C) coming from intr, so tests can
// send them.
func run(ctx context.Context, args []string, env *environ, intr <-chan struct{}) int {
	if status, ok := subcommand(ctx, args, env, intr); ok {
		return status
	}
	s, p, err := parseArgs(args, env)
	if err != nil {
		return exitStatus(err, env)
	}
	if s.wait {
		return exitStatus(p.Error(waitOnlyWithStatus), env)
	}
	if (s.gather || s.lineMode) && env.setGCPercent != nil {
		env.setGCPercent(gatherGCPercent)
	}
	// Output erases the progress line first (progress.go).
	o := newOutputs(env.term.wrap(env.stdout, true), env.term.wrap(env.stderr, false))
	defer o.flush()
	d := newDisplay(s, o)
	d.timerDelay = env.runTimerDelay
	// clush turns Python's logging on at DEBUG level with -d and logs
	// this line first.
	d.vprintErr(verbDebug, "DEBUG:root:%s: STARTING DEBUG", progName)
	ns, err := targetNodes(s, env, d, p.Error)
	if err == nil {
		err = configure(s, env, d) // the rest of clush.conf (setup.go)
	}
	if err != nil {
		o.flush()
		return exitStatus(err, env)
	}
	if s.worker != "" && s.fleet == "" && !slices.Contains(engine.Drivers(), s.worker) {
		// The in-process agent has exactly the drivers linked here; say it
		// as clush does rather than let the agent refuse every shard. (A
		// fleet's agents may have others: they judge for themselves.)
		fmt.Fprintf(env.stderr, "ERROR: Could not load worker '%s'\n", s.worker)
		return 1
	}
	if len(s.command) == 0 && !s.copying() {
		// No command: clush's interactive mode when standard input and
		// output are the terminal (interactive.go); otherwise clush runs
		// the empty command, each node's login shell reading csub's
		// standard input.
		env.watching.Store(true) // the prompt reads Ctrl-C
		if status, ok := interactive(ctx, s, ns, d, env, intr, p.Error); ok {
			return status
		}
		env.watching.Store(false)
	}
	op := commandOp(s)
	if s.copying() {
		if op, err = copyArgs(s, p.Error); err != nil {
			o.flush()
			return exitStatus(err, env)
		}
	}
	debugLine(s, d, ns.String(), op)
	if err == nil {
		err = checkJob(s, s.copying())
	}
	if err == nil && s.copying() {
		err = checkCopyPaths(s)
	}
	if err == nil && !s.copying() {
		s.stdin, err = readInput(s, env)
	}
	o.flush()
	if err != nil {
		return exitStatus(err, env)
	}
	if s.copying() {
		return endStatus(runCopy(ctx, s, ns, d, env, intr), s, d, env)
	}

	c, closeFleet, err := openFleet(ctx, s, env)
	if err != nil {
		fmt.Fprintf(env.stderr, "%s: %v\n", progName, err)
		return 1
	}
	finished := false
	defer func() { closeFleet(finished) }()
	status, finished := runJob(ctx, c, s, ns, d, env, intr)
	return endStatus(status, s, d, env)
}

// runJob submits s.command on ns and renders the job until its end: the
// one command of a run, or one line of the interactive prompt. finished
// says every node ended (nothing of the job runs any more).
func runJob(ctx context.Context, c *client.Client, s *settings, ns *nodeset.NodeSet, d *display, env *environ, intr <-chan struct{}) (status int, finished bool) {
	files, err := outdirFor(d, ns)
	if err != nil {
		d.o.flush()
		return exitStatus(err, env), true
	}
	// clush arms its progress counter before it starts the command, so
	// its worker's set-up counts: csub's starts before the submission.
	var early *earlyTimer
	if !s.json {
		early = startEarlyTimer(d, ns.Len())
	}
	job, err := submit(ctx, c, jobSpec(s, ns.String()), env, intr)
	if err != nil {
		early.stop()
		d.o.flush()
		return exitSubmit(err, env), false
	}
	defer job.Close()
	if s.stdin != nil {
		sctx, stopStdin := context.WithCancel(ctx)
		defer stopStdin()
		// It stays blocked in a read of a stdin that never ends after the
		// job is over: csub exits without it, as clush does.
		go job.SendStdin(sctx, s.stdin) //nolint:errcheck // the job's stream reports what went wrong
	}
	r := newRenderer(d, job.Nodes())
	if files != nil {
		r.h = &outdirHandler{directHandler{r}, files}
	}
	if s.json {
		r.h = newJSONHandler(r)
	}
	early.attach(r)
	status = stream(ctx, job, r, s, env, intr)
	return status, r.res.accounted()
}

// jobSpec maps clush's options to the job.
func jobSpec(s *settings, nodes string) protocol.JobSpec {
	spec := protocol.JobSpec{
		Nodes:          nodes,
		Command:        strings.Join(s.fullCommand(), " "),
		Stdin:          s.stdin != nil,
		Worker:         s.worker,
		Fanout:         s.fanout,
		ConnectTimeout: s.connectTimeout,
		CommandTimeout: s.commandTimeout,
		// -B merges standard error into the gathered output (clush's
		// task default "stderr" off).
		Stderr: !s.gatherAll,
		// Agents may send identical output once, at each node's end,
		// when nothing is printed live: not with -bL (line by line as
		// nodes give them) nor -v (lines shown live as well).
		Gather:    (s.gather || s.lineMode) && !(s.gather && s.lineMode) && s.verbosity != verbVerb,
		MaxOutput: s.maxOutput,
	}
	spec.Info = jobInfo(s)
	return spec
}

// stream renders the job's output until its end, or until a Ctrl-C: then
// it cancels the job, renders what comes within interruptGrace and names
// the nodes that did not complete.
func stream(ctx context.Context, job *client.Job, r *renderer, s *settings, env *environ, intr <-chan struct{}) int {
	o := r.d.o
	began := time.Now()
	rctx, stop, interrupted := untilInterrupt(ctx, intr)
	defer stop()
	// The progress line and Ctrl-T on a terminal (progress.go).
	env.term.begin(job.Nodes(), s.verbosity > verbQuiet && !r.d.wantRunTimer(false), !s.nostdin)
	defer env.term.end()
	for {
		b, err := job.Next(rctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			if rctx.Err() != nil && ctx.Err() == nil && interrupted() {
				return interrupt(ctx, job, r, env, intr, s.interaction)
			}
			status := lostStream(r, job, err, s, began, env)
			if err := o.flush(); err != nil {
				return writeFailed(job, err, env)
			}
			return status
		}
		env.term.batch(b)
		if err := r.batch(b); err != nil {
			return writeFailed(job, err, env)
		}
	}
	status := endStream(r, job, s, began)
	if err := o.flush(); err != nil {
		return writeFailed(job, err, env)
	}
	return status
}

// reportCancel says when the job was cancelled by a request other than
// this csub's own Ctrl-C (which exits 130 through interrupt): by another
// csub, an admin, the coordinator's reason naming who when it knows.
// The exit status is then 255 (results.fleetFailed).
func reportCancel(r *renderer, id string) {
	who, ok := r.res.cancelledBy()
	if !ok {
		return
	}
	msg := fmt.Sprintf("%s: job %s was cancelled", progName, id)
	if who != "" {
		msg += " by " + who
	}
	r.d.vprintErr(verbQuiet, "%s", msg)
}

// interrupt is the Ctrl-C path (clush exits 130 with "Keyboard
// interrupt"): cancel, drain the stream for a while (a second Ctrl-C
// stops waiting), then report as clush does with a user at the terminal
// (tty) or without (renderer.interrupt).
func interrupt(ctx context.Context, job *client.Job, r *renderer, env *environ, intr <-chan struct{}, tty bool) int {
	o := r.d.o
	running := env.term.running() // before the cancel ends them
	r.stopping = true
	cctx, cancel := context.WithTimeout(ctx, interruptGrace)
	defer cancel()
	go func() {
		select {
		case <-intr:
			cancel()
		case <-cctx.Done():
		}
	}()
	if err := job.Cancel(cctx); err != nil && cctx.Err() == nil {
		r.flush()
		fmt.Fprintf(env.stderr, "%s: %v\n", progName, err)
	}
	for {
		b, err := job.Next(cctx)
		if err != nil {
			break // the end, the grace period, or a broken stream: report
		}
		if r.batch(b) != nil {
			break
		}
	}
	r.interrupt(tty)
	o.flush()
	if tty {
		env.term.printRunning(running)
	}
	return 128 + int(syscall.SIGINT)
}

// writeFailed stops after standard output or error broke (a closed pipe:
// csub ... | head): the job is cancelled, as clush's nodes would get
// SIGPIPE, and csub exits 1 without a message for a broken pipe.
func writeFailed(job *client.Job, err error, env *environ) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = job.Cancel(ctx)
	if !errors.Is(err, syscall.EPIPE) {
		fmt.Fprintf(env.stderr, "ERROR: %v\n", err)
	}
	return 1
}

// exitStatus reports err as clush does and returns the exit status.
func exitStatus(err error, env *environ) int {
	var ee *optparse.ExitError
	if errors.As(err, &ee) {
		return ee.Status
	}
	fmt.Fprintln(env.stderr, errorLine(err))
	return 1
}

// submit submits spec; a Ctrl-C meanwhile gives up (and cancels the job,
// in case the coordinator took it but its answer did not arrive yet).
func submit(ctx context.Context, c *client.Client, spec protocol.JobSpec, env *environ, intr <-chan struct{}) (*client.Job, error) {
	env.watching.Store(true)
	if spec.ID == "" {
		spec.ID = client.NewID()
	}
	sctx, stop, interrupted := untilInterrupt(ctx, intr)
	defer stop()
	job, err := c.Submit(sctx, spec)
	stop()
	if interrupted() {
		if job != nil {
			job.Close()
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_ = c.Cancel(cctx, spec.ID)
		return nil, errSubmitInterrupted
	}
	return job, err
}

// errSubmitInterrupted is a Ctrl-C before the job's output began.
var errSubmitInterrupted = errors.New("Keyboard interrupt.")

// exitSubmit reports a failed submit and returns csub's exit status.
func exitSubmit(err error, env *environ) int {
	if errors.Is(err, errSubmitInterrupted) {
		fmt.Fprintln(env.stderr, err)
		return 128 + int(syscall.SIGINT)
	}
	var re *client.RefusedError
	if errors.As(err, &re) && re.Code == protocol.CodeDenied {
		err = errors.New(re.Reason) // the policy's one line says it all
	}
	fmt.Fprintf(env.stderr, "%s: %v\n", progName, err)
	return 1
}

// openFleet connects to the fleet (see connect) and returns the run's
// client on it, which names the fleet as the user gave it in its errors
// and refuses node sets over the limit before expanding them.
// closeFleet(finished) tears the connection down.
func openFleet(ctx context.Context, s *settings, env *environ) (c *client.Client, closeFleet func(finished bool), err error) {
	conn, subj, closeFleet, err := connect(ctx, s, env)
	if err != nil {
		return nil, nil, err
	}
	c = &client.Client{Conn: conn, Subjects: subj, User: s.fleetUser, Logger: logger(env), StallTimeout: env.stallTimeout}
	if c.User == "" {
		// The in-process fleet, or an external one without identities
		// (which trusts anyone who reaches it).
		c.User = userName(env)
	}
	if s.fleet != "" {
		c.Fleet = redact(s.fleet)
		c.Reconnect = s.reconnect
	} else {
		// The in-process coordinator lives and dies with csub: nothing
		// to wait for when it does not answer.
		c.Reconnect = -1
	}
	c.MaxNodes, _ = maxNodes(env) // checked by targetNodes
	return c, closeFleet, nil
}

// connect returns a connection to the fleet: the --fleet URL, or an
// in-process fleet started for this run. closeFleet(finished) tears it
// down; finished says every node of the job has ended.
func connect(ctx context.Context, s *settings, env *environ) (nc *nats.Conn, subj protocol.Subjects, closeFleet func(finished bool), err error) {
	subj = protocol.Subjects{Prefix: s.prefix}
	log := logger(env)
	if s.fleet == "" {
		limit, err := maxNodes(env)
		if err != nil {
			return nil, subj, nil, err
		}
		// The in-process agent's capacity is the job's fanout: the
		// agent caps a shard's fanout at its capacity (64 by default),
		// which would make -f 256 run 64 at a time.
		f, err := embedded.Start(ctx, embedded.Options{Prefix: s.prefix, Logger: log, MaxJobNodes: limit, Fanout: s.fanout})
		if err != nil {
			return nil, subj, nil, fmt.Errorf("cannot start the in-process fleet: %w", err)
		}
		return f.Conn(), subj, func(finished bool) {
			done := make(chan error, 1)
			go func() { done <- f.Close() }()
			// After a job whose nodes all ended nothing of ours runs any
			// more, and the fleet's teardown can take seconds (the agent
			// retries a shard summary the stopped coordinator will never
			// ack): do not make the user wait for it. Otherwise wait, so
			// that commands still running are killed before csub exits.
			var timeout <-chan time.Time
			if finished {
				timeout = time.After(finishedCloseWait)
			}
			select {
			case err := <-done:
				if err != nil {
					log.Error("in-process fleet", "err", err)
				}
			case <-timeout:
			}
		}, nil
	}
	fa, err := resolveFleetAuth(s, env)
	if err != nil {
		return nil, subj, nil, err
	}
	if fa.user == "" && fa.creds.Seed != "" {
		// --fleet-creds without a fleet.yaml: the login name, which the
		// server refuses unless it is the credential's user id.
		fa.user = userName(env)
	}
	s.fleetUser = fa.user
	creds, err := auth.ClientOptions(subj, auth.Identity{Role: auth.Submitter, ID: fa.user}, "csub", fa.creds)
	if err != nil {
		return nil, subj, nil, err
	}
	// The long-lived fleet processes' options (reconnect, pings), but no
	// retry of the first connection: a wrong --fleet must fail now.
	opts := append(wire.Options("csub", log), nats.RetryOnFailedConnect(false), nats.Timeout(connectTimeout))
	nc, err = nats.Connect(s.fleet, append(opts, creds...)...)
	if err != nil {
		return nil, subj, nil, fmt.Errorf("cannot connect to the fleet at %s: %v (check --fleet or %s)", redact(s.fleet), err, envFleet)
	}
	return nc, subj, func(bool) {
		_ = nc.FlushTimeout(time.Second) // the last ack
		nc.Close()
	}, nil
}

// redact hides passwords of the URLs in a NATS server list.
func redact(servers string) string {
	parts := strings.Split(servers, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}

// logger returns where the fleet's own logs go: errors only on standard
// error, unless FLEETSH_LOG names a level (debug, info, warn, error).
func logger(env *environ) *slog.Logger {
	level := slog.LevelError
	if v := env.getenv("FLEETSH_LOG"); v != "" {
		_ = level.UnmarshalText([]byte(v))
	}
	return slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: level}))
}

// userName names the submitter in the job (the registry and audit log).
func userName(env *environ) string {
	for _, k := range []string{"USER", "LOGNAME"} {
		if v := env.getenv(k); v != "" {
			return userToken(v)
		}
	}
	if u, err := user.Current(); err == nil {
		return userToken(u.Username)
	}
	return ""
}

// userToken makes a login name a fleet user id (protocol.ValidID): a
// subject token of letters, digits, '-' and '_' ("john.doe" is
// "john_doe").
func userToken(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b[:min(len(b), 64)])
}
