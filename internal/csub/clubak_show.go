package csub

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"syscall"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// errClubakWrite is a write to a closed pipe, which clubak does not
// report.
var errClubakWrite = errors.New("broken pipe")

// clubakOut is clubak's standard output. The display writes each block
// into stage; commit passes it on unless folding its node set with -r
// failed, where clubak stops before writing the block.
type clubakOut struct {
	w     *bufio.Writer
	stage bytes.Buffer
	err   error // first write error
}

func newClubakOut(w io.Writer) *clubakOut {
	return &clubakOut{w: bufio.NewWriterSize(&errWriter{w: w}, 64<<10)}
}

// commit writes the staged block out, or with the display's -r error
// drops it and returns that error.
func (c *clubakOut) commit(d *display) error {
	_ = d.o.flush() // into stage (and the display's stderr)
	if d.err != nil {
		c.stage.Reset()
		return d.err
	}
	_, err := c.stage.WriteTo(c.w)
	return err
}

// flush writes out what is buffered.
func (c *clubakOut) flush() error { return c.w.Flush() }

// errWriter turns write errors into clubak's: silence for a closed pipe,
// "ERROR: [Errno N] ..." for the others.
type errWriter struct{ w io.Writer }

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	var errno syscall.Errno
	switch {
	case err == nil:
	case errors.Is(err, syscall.EPIPE):
		err = errClubakWrite
	case errors.As(err, &errno):
		err = &osErrorT{fmt.Sprintf("[Errno %d] %s", int(errno), strerror(errno))}
	default:
		err = &osErrorT{err.Error()}
	}
	return n, err
}

// keyList is a label of raw keys (Display._KeySet): joined with ",".
type keyList []string

func (k keyList) String() string { return strings.Join(k, ",") }
func (k keyList) Len() int       { return len(k) }

// show prints the gathered tree as clubak's display() does.
func (g *gatherer) show(d *display, out *clubakOut) error {
	switch gather := d.gather || d.regroup; {
	case g.o.trace:
		return g.showTrace(d, out)
	case gather && g.nodesetKeys():
		return g.showGathered(d, out)
	case gather:
		// Raw keys in the tree's order; clubak joins the keys of one
		// output in a Python set's order, which varies from run to run:
		// here they come in the order they first appeared.
		for l := range g.tree.WalkTree() {
			if len(l.Keys) == 0 {
				continue
			}
			slices.Sort(l.Keys)
			if err := g.print(d, out, g.keyNames(l.Keys), l.Keys[0]); err != nil {
				return err
			}
		}
	case g.nodesetKeys():
		// Each node, in node set order.
		all := nodeset.New()
		for _, name := range g.names {
			if err := all.AddNode(name); err != nil {
				return err
			}
		}
		for name := range all.All() {
			k, ok := g.index[name]
			if !ok {
				return fmt.Errorf("node %q of the node set of the keys is not a key", name)
			}
			if err := g.print(d, out, keyList{name}, k); err != nil {
				return err
			}
		}
	default:
		for k, name := range g.names {
			if err := g.print(d, out, keyList{name}, uint32(k)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (g *gatherer) keyNames(keys []uint32) keyList {
	names := make(keyList, len(keys))
	for i, k := range keys {
		names[i] = g.names[k]
	}
	return names
}

// print prints the message of key under label (Display.print_gather).
// With -F a message is one line holding newlines, and --diff compares it
// as such, as clubak does.
func (g *gatherer) print(d *display, out *clubakOut, label nodeLabel, key uint32) error {
	msg, _ := g.tree.Message(key)
	if g.o.fast && d.diff && !d.lineMode {
		d.printDiff(label, []string{strings.ToValidUTF8(string(msg), "")})
	} else {
		d.printGather(label, msg)
	}
	return out.commit(d)
}

// showGathered prints each distinct output once under the node set that
// gave it, larger node sets first, then by their first node
// (nodeset_cmpkey).
func (g *gatherer) showGathered(d *display, out *clubakOut) error {
	type group struct {
		ns    *nodeset.NodeSet
		first string
		key   uint32
	}
	var groups []group
	for _, keys := range g.tree.Walk() {
		ns := nodeset.New()
		for _, k := range keys {
			if err := ns.AddNode(g.names[k]); err != nil {
				return err
			}
		}
		gr := group{ns: ns, key: keys[0]}
		for name := range ns.All() {
			gr.first = name
			break
		}
		groups = append(groups, gr)
	}
	slices.SortFunc(groups, func(a, b group) int {
		if c := cmp.Compare(b.ns.Len(), a.ns.Len()); c != 0 {
			return c
		}
		return cmp.Compare(a.first, b.first)
	})
	for i := range groups {
		if err := g.print(d, out, groups[i].ns, groups[i].key); err != nil {
			return err
		}
		groups[i].ns = nil
	}
	return nil
}

// showTrace is clubak's display_tree (-T): the tree's lines depth first,
// each indented by its depth among the headers, a header (the node set
// of every key that went through the line) where the tree branches.
func (g *gatherer) showTrace(d *display, out *clubakOut) error {
	type traceLine struct {
		line            string
		depth, children int
		lo, hi          int // the keys of its subtree: keys[lo:hi]
	}
	var lines []traceLine
	var keys []uint32
	for l := range g.tree.WalkTree() {
		lines = append(lines, traceLine{line: l.Line, depth: l.Depth, children: l.Children, lo: len(keys)})
		keys = append(keys, l.Keys...)
	}
	// A subtree ends at the next line of the same or a lesser depth.
	var open []int
	for i := range lines {
		for len(open) > 0 && lines[open[len(open)-1]].depth >= lines[i].depth {
			lines[open[len(open)-1]].hi = lines[i].lo
			open = open[:len(open)-1]
		}
		open = append(open, i)
	}
	for _, i := range open {
		lines[i].hi = len(keys)
	}
	togh, reldepth := true, -2
	reldepths := make(map[int]int)
	for _, l := range lines {
		w := d.o.stdout()
		if togh {
			if r, ok := reldepths[l.depth]; ok {
				reldepth = r
			} else {
				reldepth += 2
				reldepths[l.depth] = reldepth
			}
			sub := slices.Clone(keys[l.lo:l.hi])
			slices.Sort(sub)
			ns, err := g.parser.ParseList(g.keyNames(sub))
			if err != nil {
				return err
			}
			if d.lineMode {
				w.WriteString(ns.String() + ":\n")
			} else {
				w.WriteString(d.formatHeaderIndent(ns, reldepth))
			}
		}
		w.WriteString(strings.Repeat(" ", reldepth))
		w.WriteString(l.line)
		w.WriteByte('\n')
		if err := out.commit(d); err != nil {
			return err
		}
		togh = l.children != 1
	}
	return nil
}
