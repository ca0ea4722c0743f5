package csub

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/fleetsh/fleetsh/internal/pydifflib"
	"github.com/fleetsh/fleetsh/internal/pyfmt"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// headerSep is Display.SEP, the dashes around a gathered block's header.
const headerSep = "---------------"

// Display's ANSI colors (COLOR_*_FMT).
const (
	colorResult  = "\033[92m"
	colorStdout  = "\033[94m"
	colorStderr  = "\033[91m"
	colorDiffHdr = "\033[1m"
	colorDiffHnk = "\033[96m"
	colorDiffAdd = "\033[92m"
	colorDiffDel = "\033[91m"
	colorEnd     = "\033[0m"
)

// outputs buffers standard output and standard error separately and
// keeps their relative order: switching from one to the other flushes
// the first, so a terminal showing both sees lines in the order csub
// wrote them (clush writes stderr lines as they come, too).
type outputs struct {
	out, err *bufio.Writer
	last     *bufio.Writer
	werr     error // first write error (a closed pipe): the run stops
}

func newOutputs(stdout, stderr io.Writer) *outputs {
	return &outputs{out: bufio.NewWriterSize(stdout, 64<<10), err: bufio.NewWriterSize(stderr, 16<<10)}
}

func (o *outputs) use(w *bufio.Writer) *bufio.Writer {
	if o.last != nil && o.last != w {
		o.note(o.last.Flush())
	}
	o.last = w
	return w
}

func (o *outputs) note(err error) {
	if err != nil && o.werr == nil {
		o.werr = err
	}
}

// stdout and stderr return the writers to use for the next write.
func (o *outputs) stdout() *bufio.Writer { return o.use(o.out) }
func (o *outputs) stderr() *bufio.Writer { return o.use(o.err) }

// flush writes out what is buffered (at the end of each batch, so live
// lines do not wait for more).
func (o *outputs) flush() error {
	if o.last != nil {
		o.note(o.last.Flush())
	}
	o.note(o.out.Flush())
	o.note(o.err.Flush())
	return o.werr
}

// display is ClusterShell's CLI/Display.py: how lines, gathered blocks,
// diffs and messages look, whatever output mode produced them.
type display struct {
	o         *outputs
	label     bool // not -N
	gather    bool // -b, -B or --diff
	lineMode  bool // -L
	diff      bool // --diff
	maxrc     bool // -S: exit code lines need verbosity std
	progress  bool // -P
	verbosity int
	nodeCount bool // clush.conf node_count
	color     bool
	// timerDelay is when clush's progress counter first shows
	// (runtimer.go); zero: clush's 1.33 s.
	timerDelay time.Duration

	// -r folds header node sets with the groups of groupsource (-s; ""
	// the default source), -G without "@source:".
	regroup     bool
	groupsource string
	noprefix    bool
	parser      *nodeset.Parser
	// err is the first error of a -r fold (a failing group source):
	// clush stops there with it, csub reports it at the end.
	err error

	outdir, errdir string // --outdir, --errdir

	// diffRef is the first gathered output of a --diff run, which the
	// others are compared with.
	diffRef *diffRef
}

type diffRef struct {
	ns    nodeLabel
	lines []string
}

// nodeLabel is what a header or line label names: a node set, or the raw
// keys clubak could not read as one (ClusterShell's Display._KeySet).
type nodeLabel interface {
	String() string
	Len() int
}

func newDisplay(s *settings, o *outputs) *display {
	return &display{o: o, label: s.label, gather: s.gather, lineMode: s.lineMode, diff: s.diff,
		maxrc: s.maxrcOpt, progress: s.progress, verbosity: s.verbosity, nodeCount: s.nodeCount, color: s.color,
		regroup: s.regroup, groupsource: s.groupsource, noprefix: s.groupbase,
		outdir: s.outdir, errdir: s.errdir}
}

// paint wraps text in an ANSI color when colors are on.
func (d *display) paint(color, text string) string {
	if !d.color {
		return text
	}
	return color + text + colorEnd
}

// formatNodeset is Display._format_nodeset: the set folded with node
// groups under -r.
func (d *display) formatNodeset(ns nodeLabel) string {
	set, ok := ns.(*nodeset.NodeSet)
	if !d.regroup || d.parser == nil || !ok {
		return ns.String()
	}
	s, err := d.parser.Regroup(set, d.groupsource, d.noprefix)
	if err != nil {
		if d.err == nil {
			d.err = err
		}
		return ns.String()
	}
	return s
}

// printLine is Display.print_line: "node: line" on standard output.
func (d *display) printLine(node string, line []byte) {
	d.writeLine(d.o.stdout(), colorStdout, node, line)
}

// printLineError is Display.print_line_error, on standard error.
func (d *display) printLineError(node string, line []byte) {
	d.writeLine(d.o.stderr(), colorStderr, node, line)
}

// writeLine writes line and a newline to w, after "node: " painted with
// color when lines are labelled.
func (d *display) writeLine(w *bufio.Writer, color, node string, line []byte) {
	if d.label {
		w.WriteString(d.paint(color, node+": "))
	}
	w.Write(line)
	w.WriteByte('\n')
}

// printGather is Display.print_gather: a header block and the content,
// the content's lines each labelled with the node set in line mode, or
// with --diff the difference with the first output printed. msg is the
// lines joined by '\n', without a final one (MsgTree's bytes).
func (d *display) printGather(ns nodeLabel, msg []byte) {
	switch {
	case d.lineMode:
		d.printLines(ns, msg)
	case d.diff:
		d.printDiff(ns, splitLines(msg))
	default:
		w := d.o.stdout()
		w.WriteString(d.formatHeader(ns))
		w.Write(msg)
		w.WriteByte('\n')
	}
}

// printGatherFinalize is Display.print_gather_finalize: with --diff, the
// nodes of an exit code that gave no output are compared too.
func (d *display) printGatherFinalize(ns *nodeset.NodeSet) {
	if d.diff && !d.lineMode && d.diffRef != nil {
		d.printDiff(ns, nil)
	}
}

// resetDiff is Display.flush: the next output is a new reference.
func (d *display) resetDiff() { d.diffRef = nil }

// printLines is Display._print_lines (-L): each line labelled.
func (d *display) printLines(ns nodeLabel, msg []byte) {
	w := d.o.stdout()
	label := ""
	if d.label {
		label = d.paint(colorStdout, d.formatNodeset(ns)+": ")
	}
	for {
		line, rest, more := bytes.Cut(msg, []byte{'\n'})
		w.WriteString(label)
		w.Write(line)
		w.WriteByte('\n')
		if !more {
			return
		}
		msg = rest
	}
}

// splitLines is a gathered output's lines, decoded as clush decodes
// them for difflib (UTF-8, invalid bytes dropped).
func splitLines(msg []byte) []string {
	lines := strings.Split(string(msg), "\n")
	for i, l := range lines {
		lines[i] = strings.ToValidUTF8(l, "")
	}
	return lines
}

// printDiff is Display._print_diff: the first output is the reference;
// each other one prints as a unified diff against it.
func (d *display) printDiff(ns nodeLabel, lines []string) {
	if d.diffRef == nil {
		d.diffRef = &diffRef{ns: ns, lines: lines}
		return
	}
	ref, cur := d.formatNodeset(d.diffRef.ns), d.formatNodeset(ns)
	if d.verbosity >= verbStd && d.nodeCount {
		if n := d.diffRef.ns.Len(); n > 1 {
			ref += " (" + strconv.Itoa(n) + ")"
		}
		if n := ns.Len(); n > 1 {
			cur += " (" + strconv.Itoa(n) + ")"
		}
	}
	w := d.o.stdout()
	for _, line := range pydifflib.UnifiedDiff(d.diffRef.lines, lines, ref, cur) {
		switch {
		case strings.HasPrefix(line, "---") || strings.HasPrefix(line, "+++"):
			// Content lines that start so are treated as headers too.
			line = d.paint(colorDiffHdr, pyfmt.RStrip(line))
		case strings.HasPrefix(line, "@@"):
			line = d.paint(colorDiffHnk, line)
		case strings.HasPrefix(line, "+"):
			line = d.paint(colorDiffAdd, line)
		case strings.HasPrefix(line, "-"):
			line = d.paint(colorDiffDel, line)
		}
		w.WriteString(line)
		w.WriteByte('\n')
	}
}

// formatHeader is Display.format_header: the header block, or nothing
// without labels (-N).
func (d *display) formatHeader(ns nodeLabel) string { return d.formatHeaderIndent(ns, 0) }

// formatHeaderIndent is format_header with its indent (clubak -T).
func (d *display) formatHeaderIndent(ns nodeLabel, indent int) string {
	if !d.label {
		return ""
	}
	count := ""
	if n := ns.Len(); d.verbosity >= verbStd && d.nodeCount && n > 1 {
		count = " (" + strconv.Itoa(n) + ")"
	}
	ind := strings.Repeat(" ", indent)
	return d.paint(colorStdout, ind+headerSep+"\n"+ind+d.formatNodeset(ns)+count+"\n"+ind+headerSep) + "\n"
}

// vprint is Display.vprint: msg and a newline on standard output when
// the verbosity is at least level.
func (d *display) vprint(level int, format string, args ...any) {
	if d.verbosity >= level {
		fmt.Fprintf(d.o.stdout(), format+"\n", args...)
	}
}

// vprintErr is Display.vprint_err: msg and a newline on standard error
// when the verbosity is at least level.
func (d *display) vprintErr(level int, format string, args ...any) {
	if d.verbosity >= level {
		fmt.Fprintf(d.o.stderr(), format+"\n", args...)
	}
}

// exitLevel is the verbosity clush prints "exited with exit code" and
// timeout summaries at: always, except that -S makes them informative
// (hidden by -q) since the exit status carries the code.
func (d *display) exitLevel() int {
	if d.maxrc {
		return verbStd
	}
	return verbQuiet
}
