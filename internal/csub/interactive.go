package csub

// Interactive mode: csub with nodes and no command, standard input and
// output the foreground terminal, is clush's prompt (CLI/Clush.py
// ttyloop):
//
//	$ csub -w node[1-3]
//	Enter 'quit' to leave this interactive mode
//	Working with nodes: node[1-3]
//	csub> uname -r
//	node1: 6.1.0
//	...
//
// Each line runs on the current nodes as one job, submitted and rendered
// as a one-shot run's (runJob), on one fleet for the whole session (the
// in-process fleet is started once). The prompt's commands are clush's:
// "?" shows the nodes, "+NODES" adds, "-NODES" removes, "@NODES" sets
// them (node set syntax, groups included), "=" toggles gathering (-b),
// "!CMD" runs CMD locally with output labelled LOCAL, "quit" (any case) or
// Ctrl-D leaves.
//
// The prompt reads "csub> ": csub prints its name wherever clush prints
// its own, and the prompt is what tells the user which tool is listening;
// what users type is the same. The line editor is golang.org/x/term's
// (arrows, Ctrl-A/E/K/U/W, Up/Down and Ctrl-P/N through the history),
// whose history is kept in ~/.csub_history (the last history_size lines,
// clush.conf's key, 100 by default), one line per entry like the GNU
// readline file clush writes to ~/.clush_history: csub keeps its own file
// so that the two tools never rewrite each other's.
//
// Where csub differs from clush, on purpose:
//   - Ctrl-C during a command cancels that job, prints the interrupt
//     message, and comes back to the prompt; clush exits (status 130). A
//     user hitting Ctrl-C twice to stop a command would otherwise lose the
//     session, so Ctrl-C at the prompt abandons the line, like a shell,
//     where clush exits too.
//   - Node sets typed after +, - and @ keep their case: clush lowercases
//     the whole line first, which breaks upper case group names.
//   - An empty node set, or "!" alone, print a message: clush runs the
//     command locally, resp. crashes.
//   - Empty lines and a line repeating the previous one are not added to
//     the history.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/fleetsh/fleetsh/pkg/fleet/client"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

const (
	// prompt is clush's "clush> " with csub's name.
	prompt = progName + "> "
	// historyName is the history file in $HOME (clush: .clush_history).
	historyName = ".csub_history"
	// defaultHistorySize is clush.conf's history_size default.
	defaultHistorySize = 100
	// localKey labels the output of "!cmd" (clush's worker key LOCAL).
	localKey = "LOCAL"
	// localKillDelay is how long a local command interrupted by Ctrl-C
	// (SIGINT) has before it is killed.
	localKillDelay = 2 * time.Second
)

// errInterrupted is a Ctrl-C at the prompt.
var errInterrupted = errors.New("interrupted")

// interactive runs csub without a command. When standard input is not the
// foreground terminal it returns ok false: the caller then runs clush's
// empty command (the remote login shell reading standard input).
func interactive(ctx context.Context, s *settings, ns *nodeset.NodeSet, d *display, env *environ, intr <-chan struct{},
	usageError func(string) error) (status int, ok bool) {
	t := env.term
	if t == nil || t.in == nil && t.lines == nil {
		return 0, false
	}
	if s.nostdin {
		d.o.flush()
		return exitStatus(usageError("illegal option `--nostdin' in that case"), env), true
	}
	readLine := t.lines
	if readLine == nil {
		if !t.interactiveTTY(env.stdout) {
			// clush: a terminal to read commands from but none to show
			// their output on.
			d.o.flush()
			fmt.Fprintln(env.stderr, "ERROR: interactive mode requires a tty")
			return 1, true
		}
		readLine = newEditor(t, env, s).readLine
	}
	return endStatus(runSession(ctx, s, ns, d, env, intr, readLine), s, d, env), true
}

// session is one interactive session: the current nodes and display, the
// fleet the commands go to.
type session struct {
	ctx    context.Context
	s      *settings
	d      *display
	env    *environ
	intr   <-chan struct{}
	ns     *nodeset.NodeSet
	parser *nodeset.Parser
	c      *client.Client
	nsInfo bool // print "Working with nodes" before the next prompt
	status int  // the last command's status (-S)
	done   bool // every node of the last job ended
}

// runSession is ttyloop: read lines with readLine until quit or EOF.
func runSession(ctx context.Context, s *settings, ns *nodeset.NodeSet, d *display, env *environ, intr <-chan struct{}, readLine func(string) (string, error)) int {
	s.interaction = true // a user at the prompt: Ctrl-C reports as ttyloop does
	ss := &session{ctx: ctx, s: s, d: d, env: env, intr: intr, ns: ns.Clone(), nsInfo: true, done: true,
		parser: d.parser} // targetNodes' (--groupsconf, -s)
	if ss.parser == nil {
		ss.parser = &nodeset.Parser{Resolver: nodeset.NewLazyResolver(nodeset.DefaultConfigPaths(env.lookup)...)}
	}
	ss.d.vprint(verbStd, "Enter 'quit' to leave this interactive mode")
	c, closeFleet, err := openFleet(ctx, s, env)
	if err != nil {
		d.o.flush()
		fmt.Fprintf(env.stderr, "%s: %v\n", progName, err)
		return 1
	}
	defer func() { closeFleet(ss.done) }()
	ss.c = c
	for {
		if ss.nsInfo {
			ss.d.vprint(verbQuiet, "Working with nodes: %s", ss.ns)
			ss.nsInfo = false
		}
		d.o.flush()
		line, err := readLine(prompt)
		switch {
		case errors.Is(err, errInterrupted):
			continue
		case err != nil:
			// Ctrl-D (or the terminal gone): clush prints a newline.
			ss.d.vprint(verbQuiet, "")
			d.o.flush()
			return ss.exitStatus()
		}
		if ss.handle(line) {
			d.o.flush()
			return ss.exitStatus()
		}
	}
}

// exitStatus is clush's at the end of a session: 0, or with -S the last
// command's.
func (ss *session) exitStatus() int {
	if ss.s.maxrc {
		return ss.status
	}
	return 0
}

// handle runs one line as ttyloop does; it returns true to quit.
func (ss *session) handle(cmd string) (quit bool) {
	lower := strings.ToLower(cmd)
	ss.nsInfo = true
	var err error
	switch {
	case strings.HasPrefix(cmd, "+"):
		err = ss.parser.Update(ss.ns, cmd[1:])
	case strings.HasPrefix(cmd, "-"):
		var o *nodeset.NodeSet
		if o, err = ss.parser.Parse(cmd[1:]); err == nil {
			ss.ns.DifferenceUpdate(o)
		}
	case strings.HasPrefix(cmd, "@"):
		var o *nodeset.NodeSet
		if o, err = ss.parser.Parse(cmd[1:]); err == nil {
			ss.ns = o
		}
	case cmd == "=":
		ss.nsInfo = false
		ss.toggleGather()
		return false
	case strings.HasPrefix(cmd, "?"):
		// just show the nodes
	default:
		ss.nsInfo = false
	}
	if err != nil {
		ss.d.vprintErr(verbQuiet, "%s: nodeset parse error (ignoring)", progName)
	}
	if ss.nsInfo {
		return false
	}
	switch {
	case strings.HasPrefix(cmd, "!"):
		if strings.TrimSpace(cmd[1:]) != "" {
			ss.runLocal(cmd[1:])
		}
	case lower == "quit":
		return true
	case cmd == "":
	default:
		ss.runRemote(cmd)
	}
	return false
}

// toggleGather is "=": gathered output (-b) on or off.
func (ss *session) toggleGather() {
	ss.d.gather = !ss.d.gather
	ss.s.gather = ss.d.gather
	if ss.d.gather {
		ss.d.vprint(verbStd, "Switching to gathered output format")
	} else {
		ss.d.vprint(verbStd, "Switching to standard output format")
	}
}

// drainIntr forgets interrupts that came while no command ran (a SIGINT
// sent to csub at the prompt), so that they do not stop the next one.
func (ss *session) drainIntr() {
	for len(ss.intr) > 0 {
		<-ss.intr
	}
}

// runRemote runs cmd on the current nodes as one job.
func (ss *session) runRemote(cmd string) {
	if ss.ns.Len() == 0 {
		ss.d.vprintErr(verbQuiet, "%s: No node to run on.", progName)
		return
	}
	ss.s.command = []string{cmd} // the mode's command_prefix goes first (fullCommand)
	ss.d.o.flush()
	if err := checkJob(ss.s, false); err != nil {
		// A one-shot run fails before it starts (exit 1): the prompt
		// stays.
		fmt.Fprintln(ss.env.stderr, errorLine(err))
		return
	}
	ss.drainIntr()
	// Out of the prompt's raw mode: Ctrl-C must be a signal again even
	// when no key reader takes the terminal (stderr not a terminal).
	ss.env.term.setMode(modeOrig)
	ss.status, ss.done = runJob(ss.ctx, ss.c, ss.s, ss.ns, ss.d, ss.env, ss.intr)
}

// runLocal is "!cmd": cmd run by /bin/sh here, its lines labelled LOCAL
// and rendered as clush's direct output mode (clush uses it for LOCAL
// whatever the gathering). The command gets no standard input, as in
// clush; Ctrl-C interrupts it (SIGINT to its process group, then SIGKILL).
func (ss *session) runLocal(cmd string) {
	d := ss.d
	gather, lineMode := d.gather, d.lineMode
	d.gather, d.lineMode = false, false
	defer func() { d.gather, d.lineMode = gather, lineMode }()
	d.o.flush()
	ss.drainIntr()
	// Ctrl-C is a signal again, not echoed ("^C" before the exit line);
	// keys typed meanwhile stay for the next prompt.
	ss.env.term.setMode(modeRun)

	r := newRenderer(d, []string{localKey})
	c := osexec.Command("/bin/sh", "-c", cmd)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	chunks := make(chan protocol.Event)
	outR, outW, err := os.Pipe()
	if err != nil {
		d.vprintErr(verbQuiet, "%s: %v", progName, err)
		return
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		d.vprintErr(verbQuiet, "%s: %v", progName, err)
		return
	}
	c.Stdout, c.Stderr = outW, errW
	err = c.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		d.vprintErr(verbQuiet, "%s: %v", progName, err)
		return
	}
	for _, p := range []struct {
		f    *os.File
		kind protocol.Kind
	}{{outR, protocol.KindStdout}, {errR, protocol.KindStderr}} {
		go func() {
			defer p.f.Close()
			buf := make([]byte, 32<<10)
			for {
				n, err := p.f.Read(buf)
				if n > 0 {
					chunks <- dataRecord(p.kind, buf[:n])
				}
				if err != nil {
					chunks <- protocol.Event{} // this stream's end
					return
				}
			}
		}()
	}
	var kill <-chan time.Time
	for open := 2; open > 0; {
		select {
		case rec := <-chunks:
			if rec.Kind == 0 {
				open--
				continue
			}
			r.batch(&protocol.EventBatch{Events: []protocol.Event{rec}})
			d.o.flush()
		case <-ss.intr:
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGINT)
			kill = time.After(localKillDelay)
		case <-kill:
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		}
	}
	code := 0
	if err := c.Wait(); err != nil {
		code = 255
		var ee *osexec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int(ws.Signal()) // as a shell reports it
			}
		}
	}
	r.batch(&protocol.EventBatch{Events: []protocol.Event{{Kind: protocol.KindEnd, Nodes: []uint32{0},
		State: protocol.StateExited, Code: code}}})
	r.finish()
	d.o.flush()
	ss.status = r.res.exitStatus(ss.s.maxrc)
}

// dataRecord is a chunk of the local command's output as a stream record
// for node 0: whole lines, the last one partial unless the chunk ends a
// line (records carry lines without their final newline).
func dataRecord(kind protocol.Kind, chunk []byte) protocol.Event {
	rec := protocol.Event{Kind: kind, Nodes: []uint32{0}}
	if n := len(chunk); chunk[n-1] == '\n' {
		rec.Data = bytes.Clone(chunk[:n-1])
	} else {
		rec.Data, rec.Partial = bytes.Clone(chunk), true
	}
	return rec
}

// editor reads the prompt's lines on the terminal with x/term's line
// editor, over standard input in raw mode.
type editor struct {
	t    *terminal
	rw   *editorIO
	vt   *term.Terminal // nil after a Ctrl-C: a fresh one starts clean
	hist *history
}

// editorIO is the editor's side of the terminal. x/term's editor ends
// ReadLine with io.EOF on Ctrl-C as on Ctrl-D, so Read notes the Ctrl-C
// (and drops what follows it, typed ahead of the new prompt).
type editorIO struct {
	in    io.Reader
	out   io.Writer
	ctrlC bool
	// heldCtrlC is a Ctrl-C read behind other keys and not given yet:
	// x/term returns at a Ctrl-C without echoing the keys of the same
	// read, so those go first, alone.
	heldCtrlC bool
}

func (e *editorIO) Read(p []byte) (int, error) {
	if e.heldCtrlC && len(p) > 0 {
		e.heldCtrlC, e.ctrlC = false, true
		p[0] = 3
		return 1, nil
	}
	n, err := e.in.Read(p)
	if i := bytes.IndexByte(p[:n], 3); i > 0 {
		e.heldCtrlC = true
		return i, err
	} else if i == 0 {
		e.ctrlC = true
		n = 1
	}
	return n, err
}

func (e *editorIO) Write(p []byte) (int, error) { return e.out.Write(p) }

func newEditor(t *terminal, env *environ, s *settings) *editor {
	path := ""
	if home := env.getenv("HOME"); home != "" {
		path = filepath.Join(home, historyName)
	}
	size := defaultHistorySize
	if s.cfg != nil {
		// clush 1.9.1 reads the key but never applies it (its history
		// file grows without end): csub applies it.
		if n, err := s.cfg.getInt("history_size", true); err == nil {
			size = n
		}
	}
	h := newHistory(path, size)
	return &editor{t: t, rw: &editorIO{in: t.in, out: env.stdout}, hist: h}
}

func (e *editor) readLine(p string) (string, error) {
	e.t.lineStart()
	e.t.setMode(modePrompt)
	if e.vt == nil {
		e.vt = term.NewTerminal(e.rw, p)
		e.vt.History = e.hist
	}
	e.vt.SetPrompt(p)
	if w, h, err := term.GetSize(int(e.t.in.Fd())); err == nil {
		_ = e.vt.SetSize(w, h)
	}
	e.rw.ctrlC = false
	line, err := e.vt.ReadLine()
	if errors.Is(err, term.ErrPasteIndicator) {
		err = nil // a pasted line is a line
	}
	if err == io.EOF && e.rw.ctrlC {
		_, _ = io.WriteString(e.rw, "^C\r\n")
		e.vt = nil
		return "", errInterrupted
	}
	return line, err
}
