package protocol

// Phase is where a node of a job stands in its life.
type Phase uint8

// The phases of a node, in the order it goes through them.
const (
	// PhasePending: not started (not yet sent to an agent, or waiting for
	// its fanout).
	PhasePending Phase = iota
	// PhaseDispatched: in a shard an agent accepted, or is being asked to
	// (the coordinator's view).
	PhaseDispatched
	// PhaseRunning: started (its start event, or output, arrived).
	PhaseRunning
	// PhaseEnded: it has its final state.
	PhaseEnded

	numPhases
)

// maxStates bounds the distinct final states a Tracker keeps apart: far
// more than States, so that only a peer inventing states reaches it.
const maxStates = 255

// Tracker follows the nodes of a job (by index) through their life: each
// node's phase, final state and exit code, and the counts that the
// coordinator's registry, csub's results and csub's progress line read.
// It costs 6 bytes a node. A node ends once: later ends are ignored. It is
// not safe for concurrent use.
type Tracker struct {
	phase  []Phase
	state  []uint8 // 1 + index in states once ended, else 0
	code   []int32
	states []State // the final states seen, in the order first seen
	finals []int   // nodes per states index
	count  [numPhases]int
	failed int // ended other than exited with status 0
}

// NewTracker returns a tracker of n nodes, all pending.
func NewTracker(n int) *Tracker {
	t := &Tracker{phase: make([]Phase, n), state: make([]uint8, n), code: make([]int32, n)}
	t.count[PhasePending] = n
	return t
}

// Len returns the number of nodes.
func (t *Tracker) Len() int { return len(t.phase) }

// Phase returns node i's phase.
func (t *Tracker) Phase(i uint32) Phase { return t.phase[i] }

// Count returns how many nodes are in phase p.
func (t *Tracker) Count(p Phase) int { return t.count[p] }

// Done reports whether every node has ended.
func (t *Tracker) Done() bool { return t.count[PhaseEnded] == len(t.phase) }

// Failed returns how many nodes ended other than exited with status 0.
func (t *Tracker) Failed() int { return t.failed }

func (t *Tracker) move(i uint32, p Phase) {
	t.count[t.phase[i]]--
	t.count[p]++
	t.phase[i] = p
}

// Dispatch puts node i (back) in PhaseDispatched unless it has ended: it
// was sent in a shard, perhaps again after its agent was lost.
func (t *Tracker) Dispatch(i uint32) {
	if t.phase[i] != PhaseEnded {
		t.move(i, PhaseDispatched)
	}
}

// Start marks node i running. It reports false when the node was running
// or had ended already.
func (t *Tracker) Start(i uint32) bool {
	if t.phase[i] >= PhaseRunning {
		return false
	}
	t.move(i, PhaseRunning)
	return true
}

// End gives node i its final state and exit code. It reports false, and
// changes nothing, when the node had ended already.
func (t *Tracker) End(i uint32, st State, code int) bool {
	if t.phase[i] == PhaseEnded {
		return false
	}
	t.move(i, PhaseEnded)
	k := t.intern(st)
	t.state[i], t.code[i] = uint8(k+1), int32(code)
	t.finals[k]++
	if st != StateExited || code != 0 {
		t.failed++
	}
	return true
}

// intern returns the index of st in t.states, adding it when new; past
// maxStates-1 distinct states, further ones count as StateError (which
// the last place is kept for).
func (t *Tracker) intern(st State) int {
	for k, s := range t.states {
		if s == st {
			return k
		}
	}
	if len(t.states) >= maxStates-1 && st != StateError {
		return t.intern(StateError)
	}
	t.states = append(t.states, st)
	t.finals = append(t.finals, 0)
	return len(t.states) - 1
}

// Unend makes ended node i unended again (running, without a final
// state): csub forgets the nodes a Ctrl-C cancelled, as clush reports no
// state for the commands it killed.
func (t *Tracker) Unend(i uint32) {
	if t.phase[i] != PhaseEnded {
		return
	}
	k := int(t.state[i]) - 1
	t.finals[k]--
	if t.states[k] != StateExited || t.code[i] != 0 {
		t.failed--
	}
	t.state[i], t.code[i] = 0, 0
	t.move(i, PhaseRunning)
}

// State returns node i's final state, "" before it ends.
func (t *Tracker) State(i uint32) State {
	if k := t.state[i]; k > 0 {
		return t.states[k-1]
	}
	return ""
}

// Code returns node i's exit code (0 before it ends).
func (t *Tracker) Code(i uint32) int { return int(t.code[i]) }

// Finals returns the number of nodes per final state.
func (t *Tracker) Finals() map[State]int {
	m := make(map[State]int, len(t.states))
	for k, s := range t.states {
		if t.finals[k] > 0 {
			m[s] = t.finals[k]
		}
	}
	return m
}

// Event follows one event of the job's stream: a start or output starts
// its nodes (output means started, even if the start never came), an end
// ends them. Node indexes out of range are ignored.
func (t *Tracker) Event(e *Event) {
	for _, n := range e.Nodes {
		if int(n) >= len(t.phase) {
			continue
		}
		switch e.Kind {
		case KindStart, KindStdout, KindStderr:
			t.Start(n)
		case KindEnd:
			t.End(n, e.State, e.Code)
		}
	}
}

// Nodes returns the indexes of the nodes in phase p, ascending.
func (t *Tracker) Nodes(p Phase) []uint32 {
	var idx []uint32
	for i, q := range t.phase {
		if q == p {
			idx = append(idx, uint32(i))
		}
	}
	return idx
}
