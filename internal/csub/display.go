package csub

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// headerSep is Display.SEP, the dashes around a gathered block's header.
const headerSep = "---------------"

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

// display is ClusterShell's CLI/Display.py: how lines, gathered blocks
// and messages look, whatever output mode produced them.
type display struct {
	o         *outputs
	label     bool // not -N
	gather    bool // -b or -B
	lineMode  bool // -L
	maxrc     bool // -S: exit code lines need verbosity std
	verbosity int
	nodeCount bool // clush.conf node_count (yes; -O later)
}

func newDisplay(s *settings, o *outputs) *display {
	return &display{o: o, label: s.label, gather: s.gather, lineMode: s.lineMode,
		maxrc: s.maxrc, verbosity: s.verbosity, nodeCount: true}
}

// printLine is Display.print_line: "node: line" on standard output.
func (d *display) printLine(node string, line []byte) {
	w := d.o.stdout()
	if d.label {
		w.WriteString(node)
		w.WriteString(": ")
	}
	w.Write(line)
	w.WriteByte('\n')
}

// printLineError is Display.print_line_error, on standard error.
func (d *display) printLineError(node string, line []byte) {
	w := d.o.stderr()
	if d.label {
		w.WriteString(node)
		w.WriteString(": ")
	}
	w.Write(line)
	w.WriteByte('\n')
}

// printGather is Display.print_gather: a header block and the content,
// or the content's lines each labelled with the node set in line mode.
// msg is the lines joined by '\n', without a final one (MsgTree's bytes).
func (d *display) printGather(ns *nodeset.NodeSet, msg []byte) {
	w := d.o.stdout()
	if d.lineMode {
		label := ns.String() + ": "
		for {
			line, rest, more := bytes.Cut(msg, []byte{'\n'})
			if d.label {
				w.WriteString(label)
			}
			w.Write(line)
			w.WriteByte('\n')
			if !more {
				break
			}
			msg = rest
		}
		return
	}
	if d.label {
		w.WriteString(d.formatHeader(ns))
	}
	w.Write(msg)
	w.WriteByte('\n')
}

// formatHeader is Display.format_header (without indent and colors).
func (d *display) formatHeader(ns *nodeset.NodeSet) string {
	count := ""
	if n := ns.Len(); d.verbosity >= verbStd && d.nodeCount && n > 1 {
		count = " (" + strconv.Itoa(n) + ")"
	}
	return headerSep + "\n" + ns.String() + count + "\n" + headerSep + "\n"
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
