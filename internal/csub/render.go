package csub

import (
	"bytes"
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// stateUnreported ends a node the coordinator closed the stream without
// an end for (the protocol forbids it; the line says so if it happens).
const stateUnreported protocol.State = "no final state reported"

// reportsRC tells whether a final state comes with an exit status clush
// would show ("exited with exit code"): the command's own, or ssh's 255
// for the connection failures where clush runs ssh and sees it exit 255.
// The fleet's own failures (lost gateway, no agent, cancel, error) carry
// Code 255 for -S but no command exited: they get only their state line.
func reportsRC(st protocol.State) bool {
	switch st {
	case protocol.StateExited, protocol.StateConnect, protocol.StateAuth, protocol.StateHostKey:
		return true
	}
	return false
}

// results is what ClusterShell's Task keeps about a command's nodes and
// the output modes read: exit codes, timeouts, and with -b/-L the
// standard output of each node (each node's output in one buffer, folded
// with the identical ones as the node ends: engine.Outputs).
type results struct {
	nodes    []string
	track    *protocol.Tracker // each node's final state and code
	rcOrder  []int             // exit codes in the order first seen (clush's dict order)
	rcNodes  map[int][]uint32  // nodes per exit code, for reportsRC states
	timeouts []uint32          // in the order they timed out
	fails    []*failGroup      // other final states, in the order first seen
	stdout   *engine.Outputs[uint32]
	maxRC    int
	hasRC    bool
	// cuts holds the cap of each node whose output was cut (outcap.go).
	cuts map[uint32]int64
}

func newResults(nodes []string, buffer bool) *results {
	r := &results{nodes: nodes, track: protocol.NewTracker(len(nodes)), rcNodes: make(map[int][]uint32)}
	if buffer {
		r.stdout = &engine.Outputs[uint32]{}
	}
	return r
}

// withRC reports whether node ended with an exit status (any final state
// but a timeout), the nodes clush iterates when it gathers.
func (r *results) withRC(node uint32) bool {
	st := r.track.State(node)
	return st != "" && st != protocol.StateTimeout
}

// ended reports whether node has its final state.
func (r *results) ended(node uint32) bool { return r.track.Phase(node) == protocol.PhaseEnded }

// nfinal returns the number of nodes with a final state.
func (r *results) nfinal() int { return r.track.Count(protocol.PhaseEnded) }

// nodeSet folds node indexes into a node set.
func (r *results) nodeSet(idx []uint32) *nodeset.NodeSet {
	ns := nodeset.New()
	for _, i := range idx {
		_ = ns.AddNode(r.nodes[i]) // names come from a parsed set: always valid
	}
	return ns
}

// group is one gathered output: the nodes that gave msg.
type group struct {
	rc    int
	nodes []uint32 // ascending, i.e. in node set order
	msg   []byte
}

// codes returns the exit codes of the nodes that have one, ascending
// (clush's sorted(worker.iter_retcodes())).
func (r *results) codes() []int {
	var out []int
	for i := range r.nodes {
		if c := r.track.Code(uint32(i)); r.withRC(uint32(i)) && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// byNodeSet is ClusterShell's bufnodeset_cmpkey: larger node sets first,
// then by the name of their first node (a string comparison).
func (r *results) byNodeSet(a, b group) int {
	if c := cmp.Compare(len(b.nodes), len(a.nodes)); c != 0 {
		return c
	}
	return cmp.Compare(r.nodes[a.nodes[0]], r.nodes[b.nodes[0]])
}

// groups returns the distinct standard outputs and their nodes. With
// byRC, nodes are also split by exit status (nodes without one left out)
// and groups come by exit status, then node set, as clush -b prints them
// (GatherOutputHandler.ev_close); otherwise by node set only, as clush
// prints what it has after a Ctrl-C.
func (r *results) groups(byRC bool) []group {
	var out []group
	if r.stdout == nil {
		return nil
	}
	for msg, keys := range r.stdout.Walk() {
		slices.Sort(keys)
		if !byRC {
			out = append(out, group{nodes: keys, msg: msg})
			continue
		}
		start := len(out)
		for _, k := range keys {
			if !r.withRC(k) {
				continue
			}
			rc := r.track.Code(k)
			i := slices.IndexFunc(out[start:], func(g group) bool { return g.rc == rc })
			if i < 0 {
				out = append(out, group{rc: rc, msg: msg})
				i = len(out) - 1 - start
			}
			out[start+i].nodes = append(out[start+i].nodes, k)
		}
	}
	slices.SortFunc(out, func(a, b group) int {
		if c := cmp.Compare(a.rc, b.rc); c != 0 {
			return c
		}
		return r.byNodeSet(a, b)
	})
	return out
}

// end records node's final state. It returns false for a node that had
// ended already (a duplicate end is ignored).
func (r *results) end(node uint32, st protocol.State, code int, reason string) bool {
	if st == "" {
		st = protocol.StateError
	}
	if !r.track.End(node, st, code) {
		return false
	}
	switch {
	case st == protocol.StateTimeout:
		r.timeouts = append(r.timeouts, node)
		return true
	case !r.hasRC || code > r.maxRC:
		r.maxRC, r.hasRC = code, true
	}
	if reportsRC(st) {
		if _, ok := r.rcNodes[code]; !ok {
			r.rcOrder = append(r.rcOrder, code)
		}
		r.rcNodes[code] = append(r.rcNodes[code], node)
	}
	if st != protocol.StateExited {
		i := slices.IndexFunc(r.fails, func(g *failGroup) bool { return g.state == st })
		if i < 0 {
			r.fails = append(r.fails, &failGroup{state: st})
			i = len(r.fails) - 1
		}
		r.fails[i].add(node, r.nodes[node], reason)
	}
	return true
}

// forgetCancelled makes the cancelled nodes nodes without a final state,
// as clush's commands killed by a Ctrl-C are: no exit status, no
// summary line.
func (r *results) forgetCancelled() {
	for i := range r.nodes {
		if r.track.State(uint32(i)) == protocol.StateCancel {
			r.track.Unend(uint32(i))
		}
	}
	r.fails = slices.DeleteFunc(r.fails, func(g *failGroup) bool { return g.state == protocol.StateCancel })
}

// cancelledBy reports whether some node was cancelled, and who cancelled
// the job when the coordinator's reason names them ("job cancelled by
// alice", alone or after the agent's own words).
func (r *results) cancelledBy() (who string, cancelled bool) {
	for _, g := range r.fails {
		if g.state != protocol.StateCancel {
			continue
		}
		cancelled = true
		for _, rn := range g.reasons {
			if _, by, ok := strings.Cut(rn.reason, cancelledByPrefix); ok {
				// A user id: letters, digits, '-' and '_' (protocol.ValidID).
				end := strings.IndexFunc(by, func(c rune) bool { return !nameByte(byte(c)) || c >= 0x80 })
				if end < 0 {
					end = len(by)
				}
				return by[:end], true
			}
		}
	}
	return "", cancelled
}

// cancelledByPrefix begins the coordinator's words for the nodes of a job
// someone cancelled.
const cancelledByPrefix = "job cancelled by "

// unfinished returns the nodes without a final state, plus the cancelled
// ones when cancelled is set: the nodes a Ctrl-C stopped.
func (r *results) unfinished(cancelled bool) []uint32 {
	var idx []uint32
	for i := range r.nodes {
		if st := r.track.State(uint32(i)); st == "" || cancelled && st == protocol.StateCancel {
			idx = append(idx, uint32(i))
		}
	}
	return idx
}

// exitStatus is clush's: 0, or with -S the largest exit status, 255 when
// any node timed out; 255 when the fleet failed some node (fleetFailed),
// a job cancelled by someone else included.
func (r *results) exitStatus(maxrc bool) int {
	switch {
	case r.fleetFailed():
		// Nodes the fleet could not run at all (no agent for their
		// gateway group, their agent died, the agent could not start the
		// worker) have no clush counterpart; a script must not read 0.
		return 255
	case !maxrc:
		return 0
	case len(r.timeouts) > 0:
		return 255
	case r.hasRC:
		return r.maxRC
	}
	return 0
}

// fleetFailed reports whether some node ended in a state of the fleet's
// own: no agent, gateway lost, error, cancelled, or no final state at
// all (reported, or known: its stream was lost).
func (r *results) fleetFailed() bool {
	for _, g := range r.fails {
		switch g.state {
		case protocol.StateNoAgent, protocol.StateLost, protocol.StateError, stateUnreported, stateUnaccounted:
			return true
		case protocol.StateCancel:
			// Left after a Ctrl-C only by a node that ended cancelled
			// before it (forgetCancelled): a cancel that is not the
			// user's own must not read as success.
			return true
		}
	}
	return false
}

// renderer turns the job's merged event stream into clush's output: it
// reassembles lines, keeps the results, and passes node events to the
// handler of the output mode.
type renderer struct {
	d       *display
	res     *results
	h       handler
	partial map[uint64][]byte // node<<1|stderr: a line cut across records
	// timer is clush's progress counter (runtimer.go), nil when off;
	// sharedTimer says the jobs of a copy share it (its last job's
	// handler stops it).
	timer       *runTimer
	sharedTimer bool
	// stopping is set on Ctrl-C: the nodes the cancel ends get no hup,
	// as clush's killed commands get no ev_hup.
	stopping bool
	// pull writes the copies of a reverse copy through a fleet (nil
	// otherwise).
	pull *pull
}

// newRenderer picks the output handler as clush's run_command does.
func newRenderer(d *display, nodes []string) *renderer {
	r := &renderer{d: d, res: newResults(nodes, d.gather || d.lineMode)}
	switch {
	case d.gather && d.lineMode:
		r.h = newLiveGather(r)
	case d.lineMode:
		r.h = &sortedHandler{gatherHandler{r}}
	case d.gather:
		r.h = &gatherHandler{r}
	default:
		r.h = &directHandler{r}
	}
	return r
}

// earlyTimer is clush's progress counter started before the renderer
// exists (before the job is submitted, as clush arms it before it starts
// its command); it counts no node finished until attached.
type earlyTimer struct {
	t *runTimer
	r *renderer // with t.mu held
}

// startEarlyTimer starts the counter of a command on total nodes when
// clush would show one (see wantRunTimer); nil otherwise.
func startEarlyTimer(d *display, total int) *earlyTimer {
	if !d.wantRunTimer(false) {
		return nil
	}
	e := &earlyTimer{}
	e.t = startRunTimer(d, total, func() int {
		if e.r == nil {
			return 0
		}
		return e.r.res.nfinal()
	})
	return e
}

// attach makes the counter r's: it counts r's finished nodes, and r's
// handlers clean and finalize it.
func (e *earlyTimer) attach(r *renderer) {
	if e == nil {
		return
	}
	e.t.mu.Lock()
	defer e.t.mu.Unlock()
	e.r, r.timer = r, e.t
}

// stop stops a counter that will have no renderer (the job was refused).
func (e *earlyTimer) stop() {
	if e == nil {
		return
	}
	e.t.mu.Lock()
	defer e.t.mu.Unlock()
	e.t.halt()
	e.t.clean()
}

// batch renders one batch of the stream and writes it out; the error is
// the outputs' (a broken pipe).
func (r *renderer) batch(b *protocol.EventBatch) error {
	r.lock()
	defer r.unlock()
	for i := range b.Events {
		r.record(&b.Events[i])
	}
	return r.d.o.flush()
}

// flush writes out what is buffered, holding the progress counter off:
// its goroutine writes to the same buffers.
func (r *renderer) flush() error {
	r.lock()
	defer r.unlock()
	return r.d.o.flush()
}

func (r *renderer) record(rec *protocol.Event) {
	switch rec.Kind {
	case protocol.KindStdout, protocol.KindStderr:
		for _, n := range rec.Nodes {
			r.data(n, rec.Kind, rec.Data, rec.Partial)
		}
	case protocol.KindStart:
		if s, ok := r.h.(starter); ok {
			for _, n := range rec.Nodes {
				s.start(n, rec.At)
			}
		}
	case protocol.KindWritten:
		r.progressWritten(rec.Written())
	case protocol.KindDebug:
		r.debug(rec.Data)
	case protocol.KindCut:
		for _, n := range rec.Nodes {
			r.cut(n, rec)
		}
	case protocol.KindTree:
		if ref, ok := rec.Tree(); ok && r.pull != nil {
			for _, n := range rec.Nodes {
				r.pull.tree(n, ref)
			}
		}
	case protocol.KindEnd:
		for _, n := range rec.Nodes {
			if r.pull != nil {
				held, err := r.pull.holdEnd(n, rec)
				if held {
					continue
				}
				if err != nil {
					r.pull.apply(n, rec, err)
					continue
				}
			}
			r.endNode(n, rec)
		}
	}
}

// endNode ends node with the end record rec.
func (r *renderer) endNode(n uint32, rec *protocol.Event) {
	if r.end(n, rec.State, rec.Code, string(rec.Data)) {
		if e, ok := r.h.(ender); ok {
			e.ended(n, rec)
		}
	}
}

// starter is a handler that wants to know when each node starts.
type starter interface {
	start(node uint32, at time.Time)
}

// ender is a handler that wants every node's final record (timeouts and
// failures included, which hup does not see).
type ender interface {
	ended(node uint32, rec *protocol.Event)
}

func partKey(node uint32, kind protocol.Kind) uint64 {
	k := uint64(node) << 1
	if kind == protocol.KindStderr {
		k |= 1
	}
	return k
}

// data splits a record's data into lines; a partial last line waits for
// the rest in the node's next record of the same stream.
func (r *renderer) data(node uint32, kind protocol.Kind, data []byte, partial bool) {
	if r.res.ended(node) {
		return // output after the end: the coordinator drops it; so do we
	}
	key := partKey(node, kind)
	owned := false // data is ours, not the batch's
	if head, ok := r.partial[key]; ok {
		delete(r.partial, key)
		data, owned = append(head, data...), true
	}
	for {
		line, rest, more := bytes.Cut(data, []byte{'\n'})
		if !more && partial {
			if r.partial == nil {
				r.partial = make(map[uint64][]byte)
			}
			// A line of many records grows in place (append's doubling):
			// copying it at each record would cost its length squared.
			if !owned {
				line = bytes.Clone(line)
			}
			r.partial[key] = line
			return
		}
		r.line(node, kind, line)
		if !more {
			return
		}
		// The rest is a tail of data: keeping it would keep the lines
		// before it.
		data, owned = rest, false
	}
}

func (r *renderer) line(node uint32, kind protocol.Kind, line []byte) {
	if kind == protocol.KindStdout && r.res.stdout != nil {
		r.res.stdout.Add(node, line)
	}
	r.h.read(node, kind, line)
}

// debug prints a worker's debug line (-d) as clush's print_debug does:
// on standard output as it comes, the progress counter left as it is.
// With --json it goes to standard error, out of the JSON lines.
func (r *renderer) debug(line []byte) {
	w := r.d.o.stdout()
	if _, ok := r.h.(*jsonHandler); ok {
		w = r.d.o.stderr()
	}
	w.Write(line)
	w.WriteByte('\n')
}

// end records node's final state; it returns false for a duplicate.
func (r *renderer) end(node uint32, st protocol.State, code int, reason string) bool {
	// A line cut by a node that then ended is all there will be of it.
	for _, kind := range []protocol.Kind{protocol.KindStdout, protocol.KindStderr} {
		if head, ok := r.partial[partKey(node, kind)]; ok {
			delete(r.partial, partKey(node, kind))
			r.line(node, kind, head)
		}
	}
	if !r.res.end(node, st, code, reason) {
		return false
	}
	if r.res.stdout != nil {
		r.res.stdout.End(node) // its output is whole: fold it
	}
	// clush gets no ev_hup for a node that timed out.
	if st != protocol.StateTimeout && !(r.stopping && st == protocol.StateCancel) {
		r.h.hup(node, code, reportsRC(st))
	}
	return true
}

// finish is the end of the stream (the batch marked Last): every node has
// its final state, and the output mode prints its summary.
func (r *renderer) finish() {
	if r.pull != nil {
		r.pull.wait() // the nodes whose copies are being written end then
	}
	r.lock()
	defer r.unlock()
	if !r.sharedTimer {
		defer r.stopTimer()
	}
	if idx := r.res.unfinished(false); len(idx) > 0 {
		for _, n := range idx {
			r.res.end(n, stateUnreported, 255, "")
		}
	}
	r.h.close()
}

// printTimeouts prints clush's timeout summary line.
func (r *renderer) printTimeouts(level int) {
	if len(r.res.timeouts) > 0 {
		r.d.vprintErr(level, "%s: %s: command timeout", progName, r.res.nodeSet(r.res.timeouts))
	}
}

// interrupt prints what clush prints when Ctrl-C stops a command.
//
// With a user at the terminal (tty: clush's user_interaction, its
// ttyloop's KeyboardInterrupt handling): with -b/-B, a warning and the
// gathered output so far (by node set, exit codes unknown for some), the
// exit code and timeout summaries; then the nodes that did not complete.
//
// Otherwise clush_excepthook: the engine closes the killed commands
// without an exit status, so the output mode ends as it always does
// (ev_close: counter finalized, gathered output, exit codes and timeouts)
// with only the nodes that had ended, then "Keyboard interrupt.".
func (r *renderer) interrupt(tty bool) {
	if r.pull != nil {
		r.pull.stop()
	}
	r.lock()
	defer r.unlock()
	if !tty {
		if !r.sharedTimer {
			defer r.stopTimer()
		}
		r.res.forgetCancelled()
		r.h.close()
		r.d.vprintErr(verbQuiet, "Keyboard interrupt.")
		return
	}
	r.stopTimer()
	d, res := r.d, r.res
	if d.gather {
		for i, g := range res.groups(false) {
			if i == 0 {
				d.vprintErr(verbStd, "Warning: Caught keyboard interrupt!")
			}
			d.printGather(res.nodeSet(g.nodes), g.msg)
		}
		// Unlike at the normal end, clush counts nodes here even with -q.
		r.printExitCodes(true)
		r.printTimeouts(d.exitLevel())
	}
	r.printFailures(d.exitLevel(), true)
	if idx := res.unfinished(true); len(idx) > 0 {
		d.vprintErr(verbQuiet, "Keyboard interrupt (%s did not complete).", res.nodeSet(idx))
	} else {
		d.vprintErr(verbQuiet, "Keyboard interrupt.")
	}
}

// stopTimer stops the progress counter where it is (the end of the
// stream, a Ctrl-C).
func (r *renderer) stopTimer() {
	if r.timer != nil {
		r.timer.halt()
	}
}
