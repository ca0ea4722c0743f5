package csub

import (
	"os"
	"slices"
	"strconv"

	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// handler is one output mode, as ClusterShell's OutputHandler subclasses
// in CLI/Clush.py: it gets each node's lines, each node's end and the end
// of the command, and prints what clush prints at that point. The
// renderer keeps the results (exit codes, timeouts, buffered output)
// that handlers read.
type handler interface {
	// read is one line of node's standard output or error (ev_read).
	read(node uint32, kind protocol.Kind, line []byte)
	// hup is the end of node, except by a timeout (ev_hup); exited tells
	// whether rc is an exit status clush would report.
	hup(node uint32, rc int, exited bool)
	// close is the end of the command (ev_close).
	close()
}

func fmtCount(ns *nodeset.NodeSet) string {
	return ns.String() + " (" + strconv.Itoa(ns.Len()) + ")"
}

// directHandler is the default mode (DirectOutputHandler): lines as they
// come, "node: line", an exit code line as each node ends. With -P it is
// DirectProgressOutputHandler: the same, erasing the progress counter
// first.
type directHandler struct{ r *renderer }

func (h *directHandler) read(node uint32, kind protocol.Kind, line []byte) {
	h.r.progressClean()
	name := h.r.res.nodes[node]
	if kind == protocol.KindStderr {
		h.r.d.printLineError(name, line)
	} else {
		h.r.d.printLine(name, line)
	}
}

func (h *directHandler) hup(node uint32, rc int, exited bool) {
	if exited && rc > 0 {
		h.r.d.vprintErr(h.r.d.exitLevel(), "%s: %s: exited with exit code %d", progName, h.r.res.nodes[node], rc)
	}
}

func (h *directHandler) close() {
	h.r.progressClean()
	// Direct mode prints timeouts at verbosity quiet even with -S.
	h.r.printTimeouts(verbQuiet)
	h.r.printFailures(verbQuiet, false)
}

// outdirHandler is --outdir/--errdir (DirectOutputDirHandler): the
// direct mode, plus each node's standard output and error lines written
// to <dir>/<node> as they come.
type outdirHandler struct {
	directHandler
	files *outdirFiles
}

func (h *outdirHandler) read(node uint32, kind protocol.Kind, line []byte) {
	h.directHandler.read(node, kind, line)
	h.files.write(h.r.res.nodes[node], kind, line)
}

func (h *outdirHandler) close() {
	h.directHandler.close()
	h.files.close()
	if h.files.werr != nil && h.r.d.err == nil {
		h.r.d.err = osError(h.files.werr) // clush stops on it: exit 1
	}
}

// gatherHandler is -b/-B (GatherOutputHandler): standard error live,
// standard output gathered by identical output and exit code at the end.
type gatherHandler struct{ r *renderer }

func (h *gatherHandler) read(node uint32, kind protocol.Kind, line []byte) {
	d := h.r.d
	switch {
	case kind == protocol.KindStderr:
		h.r.progressClean()
		d.printLineError(h.r.res.nodes[node], line)
		h.r.progressDirty()
	case d.verbosity == verbVerb:
		// -v shows the lines live too, then gathered (exactly -v: not -d).
		d.printLine(h.r.res.nodes[node], line)
	}
}

func (h *gatherHandler) hup(uint32, int, bool) {}

func (h *gatherHandler) close() {
	h.r.progressFinalize()
	d, res := h.r.d, h.r.res
	groups := res.groups(true)
	for _, rc := range res.codes() {
		remain := map[uint32]bool{}
		for i := range res.nodes {
			if res.withRC(uint32(i)) && res.track.Code(uint32(i)) == rc {
				remain[uint32(i)] = true
			}
		}
		for _, g := range groups {
			if g.rc != rc {
				continue
			}
			d.printGather(res.nodeSet(g.nodes), g.msg)
			for _, n := range g.nodes {
				delete(remain, n)
			}
		}
		if len(remain) > 0 {
			left := make([]uint32, 0, len(remain))
			for n := range remain {
				left = append(left, n)
			}
			d.printGatherFinalize(res.nodeSet(left))
		}
	}
	d.resetDiff()
	h.closeCommon()
}

// closeCommon prints the exit code and timeout summaries of the gathering
// modes (GatherOutputHandler._close_common), then our failure lines.
func (h *gatherHandler) closeCommon() {
	d := h.r.d
	h.r.printExitCodes(d.verbosity > verbQuiet)
	h.r.printTimeouts(d.exitLevel())
	h.r.printFailures(d.exitLevel(), false)
}

// printExitCodes prints clush's line per non-zero exit code, with the
// nodes that exited with it: folded, or, with count and more than one
// node, counted.
func (r *renderer) printExitCodes(count bool) {
	d, res := r.d, r.res
	for _, rc := range res.rcOrder {
		if rc == 0 {
			continue
		}
		ns := res.nodeSet(res.rcNodes[rc])
		disp := ns.String()
		if count && ns.Len() > 1 {
			disp = fmtCount(ns)
		}
		d.vprintErr(d.exitLevel(), "%s: %s: exited with exit code %d", progName, disp, rc)
	}
}

// sortedHandler is -L (SortedOutputHandler): each node's output at the
// end, "node: line", nodes by exit code then in node set order.
type sortedHandler struct{ gatherHandler }

func (h *sortedHandler) close() {
	h.r.progressFinalize()
	res := h.r.res
	var idx []uint32
	for i := range res.nodes {
		if res.withRC(uint32(i)) {
			idx = append(idx, uint32(i))
		}
	}
	slices.SortStableFunc(idx, func(a, b uint32) int { return res.track.Code(a) - res.track.Code(b) })
	for _, n := range idx {
		if msg, ok := res.stdout.Message(n); ok {
			h.r.d.printGather(res.nodeSet([]uint32{n}), msg)
		}
	}
	h.closeCommon()
}

// liveGather is -bL (LiveGatherOutputHandler): line k is printed, with
// the folded set of the nodes that gave it, as soon as every node still
// running has produced its k-th line. A node that ends without giving the
// pending line stops being waited for.
type liveGather struct {
	gatherHandler
	alive   int    // nodes still waited for (clush's len(self._nodes))
	gone    []bool // ended before giving the pending line
	count   []int  // lines each node gave
	queue   []*engine.MsgTree[uint32]
	offload int // lines printed (popped from the queue)
}

func newLiveGather(r *renderer) *liveGather {
	n := len(r.res.nodes)
	return &liveGather{gatherHandler: gatherHandler{r}, alive: n, gone: make([]bool, n), count: make([]int, n)}
}

func (h *liveGather) read(node uint32, kind protocol.Kind, line []byte) {
	if kind != protocol.KindStdout {
		h.gatherHandler.read(node, kind, line)
		return
	}
	h.count[node]++
	k := h.count[node] - h.offload - 1
	for len(h.queue) <= k {
		h.queue = append(h.queue, &engine.MsgTree[uint32]{})
	}
	h.queue[k].Add(node, line)
	h.live()
}

func (h *liveGather) hup(node uint32, _ int, _ bool) {
	if len(h.queue) == 0 || h.gone[node] {
		return
	}
	if _, pending := h.queue[0].Message(node); !pending {
		h.gone[node] = true
		h.alive--
		h.live()
	}
}

func (h *liveGather) live() {
	for len(h.queue) > 0 && h.queue[0].Len() == h.alive {
		t := h.queue[0]
		h.queue[0] = nil
		h.queue = h.queue[1:]
		h.offload++
		h.r.progressClean()
		h.print(t)
		h.r.progressDirty()
	}
}

func (h *liveGather) print(t *engine.MsgTree[uint32]) {
	res := h.r.res
	var gs []group
	for msg, keys := range t.Walk() {
		slices.Sort(keys)
		gs = append(gs, group{nodes: keys, msg: msg})
	}
	slices.SortFunc(gs, res.byNodeSet)
	for _, g := range gs {
		h.r.d.printGather(res.nodeSet(g.nodes), g.msg)
	}
}

func (h *liveGather) close() {
	h.r.progressFinalize()
	for _, t := range h.queue {
		h.print(t)
	}
	h.queue = nil
	h.closeCommon()
}

// copyHandler is -c/--rcopy (CopyOutputHandler): the direct mode for
// the copies' messages, with -v a line per source copied, and the
// timeouts of the last copy. Each source is its own job (a worker in
// clush); cr is shared by them.
type copyHandler struct {
	directHandler
	cr     *copyRun
	source string
}

// copyRun is what the jobs of one copy share.
type copyRun struct {
	dest    string
	reverse bool
	left    int // copies not finished (clush's USER_copies)
}

func (h *copyHandler) close() {
	d, res := h.r.d, h.r.res
	if ok := res.rcNodes[0]; len(ok) > 0 {
		ns := res.nodeSet(ok)
		if h.cr.reverse {
			d.vprint(verbVerb, "%s:`%s' -> `%s'", ns, h.source, h.cr.dest)
		} else {
			d.vprint(verbVerb, "`%s' -> %s:`%s'", h.source, ns, h.cr.dest)
		}
	}
	h.cr.left--
	if h.cr.left == 0 {
		h.r.progressFinalize()
		h.r.printTimeouts(verbQuiet)
	}
	h.r.printFailures(verbQuiet, false)
}

// outdirFiles are the files of --outdir and --errdir, per node name.
type outdirFiles struct {
	out, err map[string]*os.File
	werr     error // the first write error, reported at the end (endStatus)
}

// openOutdirs creates the directories that do not exist and one file per
// node in each, as DirectOutputDirHandler does before the command runs
// (a node without output gets an empty file).
func openOutdirs(outdir, errdir string, nodes []string) (*outdirFiles, error) {
	f := &outdirFiles{}
	for _, dir := range []string{outdir, errdir} {
		if dir == "" {
			continue
		}
		if _, err := os.Stat(dir); err != nil {
			if err := os.MkdirAll(dir, 0o777); err != nil {
				return nil, osError(err)
			}
		}
	}
	for _, d := range []struct {
		dir string
		m   *map[string]*os.File
	}{{outdir, &f.out}, {errdir, &f.err}} {
		if d.dir == "" {
			continue
		}
		*d.m = make(map[string]*os.File, len(nodes))
		for _, n := range nodes {
			fh, err := os.Create(pyJoin(d.dir, n))
			if err != nil {
				f.close()
				return nil, osError(err)
			}
			(*d.m)[n] = fh
		}
	}
	return f, nil
}

func (f *outdirFiles) write(node string, kind protocol.Kind, line []byte) {
	m := f.out
	if kind == protocol.KindStderr {
		m = f.err
	}
	if fh := m[node]; fh != nil {
		if _, err := fh.Write(append(line[:len(line):len(line)], '\n')); err != nil && f.werr == nil {
			f.werr = err
		}
	}
}

func (f *outdirFiles) close() {
	for _, m := range []map[string]*os.File{f.out, f.err} {
		for _, fh := range m {
			if err := fh.Close(); err != nil && f.werr == nil {
				f.werr = err
			}
		}
	}
}
