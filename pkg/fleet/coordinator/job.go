package coordinator

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/fleetsh/fleetsh/pkg/fleet/store"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// job is one submitted job: its nodes' states, its shards, and its output
// stream to the submitter. Every field is guarded by mu.
type job struct {
	c       *Coordinator
	mu      sync.Mutex
	spec    protocol.JobSpec
	set     *nodeset.NodeSet
	rule    string // the policy rule that allowed the job
	nodes   []string
	track   *protocol.Tracker // each node's phase and final state
	owners  []*shard          // the shard attempt that runs each node
	shards  map[string]*shard // by shard key (job/shard/attempt)
	nshards int               // shard ids handed out

	created, ended time.Time
	cancelled      bool
	cancelledBy    string    // who asked for the cancel ("" unknown)
	cancelAt       time.Time // deadline for agents to confirm a cancel

	// output streams: the submitter's (primary), and any attached
	// followers; log keeps what was emitted for followers attaching later.
	primary   *follower
	followers []*follower
	log       []protocol.Event
	// logIdx[k] is log[k]'s record index: the records emitted before it
	// (protocol.EventBatch.First). Lines not kept (MaxReplay, trimReplay)
	// leave gaps, which an attach shows its reader. A job restored after
	// a restart must keep the indexes its readers saw: they attach again
	// from the index of the last record they had.
	logIdx []uint64
	// emitted counts the records emitted so far: the index of the next.
	emitted uint64
	// unstored are the records emitted and not yet handed to the
	// followers, which wait for the journal (release); released is the
	// index under which every record was handed.
	unstored []pendingRecord
	released uint64
	logBytes int
	logFull  bool      // output lines stopped being logged (MaxReplay)
	deferred []*shard  // shards whose ack waits for the output backlog to drain
	stdin    *stdinLog // the standard input (nil: the job has none)
	// pushed is the chunks of a push's tree, pulled those of the copies
	// a reverse copy collected: what agents and the submitter may read
	// of the file store (files.go).
	pushed, pulled treeIndex

	// jw queues the job's journal entries (nil without Config.Store),
	// rec is its registry record (journal.go, resume.go).
	jw  *jwriter
	rec *store.Record
}

// shard is one attempt of a shard on one agent.
type shard struct {
	id      string
	attempt int
	key     string
	group   string
	agent   string
	nodes   []uint32 // job node indexes: shard node i is job node nodes[i]
	fold    string   // the folded set of nodes the shard message carries
	dead    bool     // its agent was declared lost, or it was replaced
	done    bool     // its summary was reconciled
	reorder protocol.Reorder[*protocol.EventBatch]
	acked   uint64 // last seq acked to the agent
	ackedAt time.Time
	// stored is the last seq whose effect the journal holds (what may be
	// acked); without a store, the last merged.
	stored uint64
	// journaled is closed once the shard's dispatch is stored (nil: no
	// store, or restored from the journal).
	journaled chan struct{}
	// accepted: its agent took it; doneStored: the journal holds its end.
	accepted, doneStored bool
	// stdinSent is the last stdin chunk the agent took; stdinDone: the
	// shard needs no more (EOF sent, its commands ended, or it failed).
	stdinSent uint64
	stdinDone bool
	// progressAt is when the shard last made progress: dispatched, or a
	// batch merged (see progress.go).
	progressAt time.Time
}

func newJob(c *Coordinator, spec protocol.JobSpec, nodes []string) *job {
	j := &job{
		c:       c,
		spec:    spec,
		nodes:   nodes,
		track:   protocol.NewTracker(len(nodes)),
		owners:  make([]*shard, len(nodes)),
		shards:  make(map[string]*shard),
		created: time.Now(),
	}
	if spec.Stdin {
		j.stdin = newStdinLog()
	}
	j.primary = newFollower(j, spec.User, spec.ID)
	j.followers = []*follower{j.primary}
	return j
}

// newShard makes a shard attempt for nodes (job indexes); id "" = a new
// shard id. Call with j.mu held.
func (j *job) newShard(id string, attempt int, group, agent string, nodes []uint32) *shard {
	if id == "" {
		j.nshards++
		id = fmt.Sprintf("s%d", j.nshards)
	}
	s := &shard{id: id, attempt: attempt, key: protocol.ShardKey(j.spec.ID, id, attempt),
		group: group, agent: agent, nodes: nodes, progressAt: time.Now()}
	j.shards[s.key] = s
	for _, n := range nodes {
		j.track.Dispatch(n)
		j.owners[n] = s
	}
	return s
}

// runs reports whether node n is still to end and shard s runs it (a
// node moves to another attempt when its agent is lost). Call with j.mu
// held.
func (j *job) runs(s *shard, n uint32) bool {
	return j.owners[n] == s && j.track.Phase(n) != protocol.PhaseEnded
}

// unended returns the nodes without a final state. Call with j.mu held.
func (j *job) unended() []uint32 {
	var idx []uint32
	for i := range j.nodes {
		if j.track.Phase(uint32(i)) != protocol.PhaseEnded {
			idx = append(idx, uint32(i))
		}
	}
	return idx
}

// finish gives node i its final state (once) and queues the record that
// tells the submitter. Call with j.mu held.
func (j *job) finish(i uint32, st protocol.State, code int, msg string) {
	if !j.track.End(i, st, code) {
		return
	}
	j.c.ends.ended(st, code, 1)
	j.emit(protocol.Event{Kind: protocol.KindEnd, Nodes: []uint32{i}, State: st, Code: code, At: time.Now(), Data: []byte(msg)})
}

// finishMany ends a set of nodes with one record.
func (j *job) finishMany(idx []uint32, st protocol.State, msg string) {
	code := 0
	if st != protocol.StateExited {
		code = 255
	}
	var ended []uint32
	for _, i := range idx {
		if j.track.End(i, st, code) {
			ended = append(ended, i)
		}
	}
	if len(ended) == 0 {
		return
	}
	j.c.ends.ended(st, code, len(ended))
	// A record's nodes are ascending (its encoding's runs): the nodes of
	// several shards, or of a shard in its agent's order, are not.
	j.emit(protocol.Event{Kind: protocol.KindEnd, Nodes: sortIdx(ended), State: st, Code: code, At: time.Now(), Data: []byte(msg)})
}

// emit queues a record for the submitter and the followers, and logs
// it for followers to come. Call with j.mu held.
func (j *job) emit(r protocol.Event) {
	size := r.Size()
	idx := j.emitted
	j.emitted++
	if r.Kind == protocol.KindStart || r.Kind == protocol.KindEnd || r.Kind == protocol.KindCut || r.Kind == protocol.KindTree ||
		j.logBytes+size <= j.c.cfg.MaxReplay {
		// Starts, cuts, trees and ends are always kept: a follower must
		// see every node's final state, whether its output was cut, and
		// where its copy is, even when the lines were too many to keep.
		j.log = append(j.log, r)
		j.logIdx = append(j.logIdx, idx)
		j.logBytes += size
		j.journalRecord(idx, r, size)
	} else if !j.logFull {
		j.logFull = true
		j.c.log.Warn("job output over the replay limit: attaching later shows final states only for what follows", "job", j.spec.ID, "limit", j.c.cfg.MaxReplay)
	}
	if j.jw != nil {
		// A reader gets a record only once the journal holds its index
		// (release): a restarted coordinator gives the records it never
		// stored new indexes, and a reader that had them would skip or
		// repeat others when it attaches again from the count it has.
		j.jw.cur(0)
		j.unstored = append(j.unstored, pendingRecord{idx: idx, r: r, size: size})
		return
	}
	for _, f := range j.followers {
		f.push(r, idx, size)
	}
	j.released = j.emitted
}

// pendingRecord is an output record the journal does not hold yet.
type pendingRecord struct {
	idx  uint64
	r    protocol.Event
	size int
}

// release hands the followers the records of index under upTo, which the
// journal now holds. Call with j.mu held.
func (j *job) release(upTo uint64) {
	n := 0
	for ; n < len(j.unstored) && j.unstored[n].idx < upTo; n++ {
		p := j.unstored[n]
		for _, f := range j.followers {
			f.push(p.r, p.idx, p.size)
		}
	}
	j.released = max(j.released, upTo)
	if n == 0 {
		return
	}
	clear(j.unstored[:n])
	j.unstored = j.unstored[n:]
	if len(j.unstored) == 0 {
		j.unstored = nil
	}
	for _, f := range j.followers {
		f.wake()
	}
}

// wakeAll wakes every output stream (the job completed).
func (j *job) wakeAll() {
	for _, f := range j.followers {
		f.wake()
	}
}

// complete reports whether every node has its final state.
func (j *job) complete() bool { return j.track.Done() }

// merge applies an in-order batch of shard s. Call with j.mu held.
func (j *job) merge(s *shard, b *protocol.EventBatch) {
	for k := range b.Events {
		r := &b.Events[k]
		if r.Kind == protocol.KindDebug {
			// A worker's debug line names its node itself: pass it on.
			j.emit(protocol.Event{Kind: r.Kind, Data: r.Data})
			continue
		}
		// Translate shard indexes to job indexes in place: the batch is
		// ours. Shard nodes are in job order but for some subsets of
		// multi-dimensional names (see ordered): sort those.
		idx := r.Nodes[:0]
		for _, n := range r.Nodes {
			if int(n) >= len(s.nodes) {
				j.c.log.Warn("event for a node out of the shard", "shard", s.key, "index", n)
				continue
			}
			ji := s.nodes[n]
			if !j.runs(s, ji) {
				continue // the node moved to another attempt, or ended already
			}
			idx = append(idx, ji)
		}
		if len(idx) == 0 {
			continue
		}
		if !slices.IsSorted(idx) {
			slices.Sort(idx)
		}
		switch r.Kind {
		case protocol.KindStart:
			for _, ji := range idx {
				j.track.Start(ji)
			}
			j.emit(protocol.Event{Kind: protocol.KindStart, Nodes: idx, At: r.At})
		case protocol.KindStdout, protocol.KindStderr:
			j.emit(protocol.Event{Kind: r.Kind, Partial: r.Partial, Nodes: idx, Data: r.Data})
		case protocol.KindWritten, protocol.KindCut:
			j.emit(protocol.Event{Kind: r.Kind, Nodes: idx, Data: r.Data})
		case protocol.KindTree:
			if cp := j.spec.Copy; cp == nil || !cp.Collect {
				j.c.log.Warn("a tree event of a job that collects no copies dropped", "job", j.spec.ID, "shard", s.key)
				continue
			}
			if _, ok := r.Tree(); !ok {
				j.c.log.Warn("a malformed tree event dropped", "job", j.spec.ID, "shard", s.key)
				continue
			}
			j.emit(protocol.Event{Kind: r.Kind, Nodes: idx, Data: r.Data})
		case protocol.KindEnd:
			n := 0
			for _, ji := range idx {
				if j.track.End(ji, r.State, r.Code) {
					n++
				}
			}
			j.c.ends.ended(r.State, r.Code, n)
			data := r.Data
			if r.State == protocol.StateCancel && j.cancelledBy != "" {
				// The agent knows only that the coordinator cancelled:
				// say who asked (csub tells its user).
				data = fmt.Appendf(nil, "%s (%s)", r.Data, j.cancelReason(""))
			}
			j.emit(protocol.Event{Kind: protocol.KindEnd, Nodes: idx, State: r.State, Reason: r.Reason, Code: r.Code, At: r.At, Data: data})
		}
	}
}

// ackShard acks what shard s delivered, unless the submitter is behind:
// then the ack waits, which stops the agent (credit) until the output
// backlog drains. Call with j.mu held.
func (j *job) ackShard(s *shard) {
	if j.primary.outBytes > j.c.cfg.MaxBacklog && !j.primary.detached {
		for _, d := range j.deferred {
			if d == s {
				return
			}
		}
		j.deferred = append(j.deferred, s)
		return
	}
	j.sendAck(s)
}

func (j *job) sendAck(s *shard) {
	seq := s.stored // what the journal holds: never lost by a crash
	if seq == 0 || seq == s.acked {
		return
	}
	s.acked, s.ackedAt = seq, time.Now()
	j.c.control(s.agent, protocol.Control{Kind: protocol.ControlAck, Job: j.spec.ID, Shard: s.id, Attempt: s.attempt, Seq: seq})
}

// status describes the job for the registry; brief leaves out the node
// sets. Call with j.mu held.
func (j *job) status(brief bool) protocol.JobStatus {
	st := protocol.JobStatus{
		ID: j.spec.ID, User: j.spec.User, Command: protocol.Truncate(j.spec.Command, protocol.MaxReplyField), Nodes: j.spec.Nodes,
		Total: len(j.nodes), Finals: j.track.Finals(),
		Done: j.complete(), Submitted: j.created, Ended: j.ended, Records: j.emitted,
		Failed: j.track.Failed(),
	}
	if cp := j.spec.Copy; cp != nil {
		st.Copy = &protocol.CopySpec{Source: protocol.Truncate(cp.Source, protocol.MaxReplyField),
			Dest: protocol.Truncate(cp.Dest, protocol.MaxReplyField), Reverse: cp.Reverse, Preserve: cp.Preserve}
	}
	if brief {
		st.Nodes = ""
		return st
	}
	if !st.Done {
		un := nodeset.New()
		for _, i := range j.unended() {
			_ = un.AddNode(j.nodes[i])
		}
		st.Unfinished = un.String()
	}
	sets := map[protocol.State]*nodeset.NodeSet{}
	codes := map[int]*nodeset.NodeSet{}
	for i, name := range j.nodes {
		fs := j.track.State(uint32(i))
		if fs == "" {
			continue
		}
		addTo(sets, fs, name)
		if fs == protocol.StateExited {
			addTo(codes, j.track.Code(uint32(i)), name)
		}
	}
	st.States, st.Codes = folded(sets), folded(codes)
	return st
}

// addTo adds name to the set of key k in sets, made when missing.
func addTo[K comparable](sets map[K]*nodeset.NodeSet, k K, name string) {
	if sets[k] == nil {
		sets[k] = nodeset.New()
	}
	_ = sets[k].AddNode(name)
}

// folded returns each set of sets folded (nil when there are none).
func folded[K comparable](sets map[K]*nodeset.NodeSet) map[K]string {
	if len(sets) == 0 {
		return nil
	}
	out := make(map[K]string, len(sets))
	for k, ns := range sets {
		out[k] = ns.String()
	}
	return out
}
