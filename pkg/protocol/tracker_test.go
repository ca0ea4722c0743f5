package protocol

import (
	"fmt"
	"maps"
	"slices"
	"testing"
)

// TestTracker follows nodes through their phases: counts, final states
// and codes, failures, a second end ignored, output starting a node, a
// re-dispatch, and Unend.
func TestTracker(t *testing.T) {
	tr := NewTracker(5)
	tr.Dispatch(0)
	tr.Dispatch(1)
	tr.Event(&Event{Kind: KindStart, Nodes: []uint32{0, 9}}) // 9: out of range
	tr.Event(&Event{Kind: KindStdout, Nodes: []uint32{1}})
	if !tr.Start(2) || tr.Start(2) {
		t.Error("Start of a pending node, then of a running one")
	}
	tr.Event(&Event{Kind: KindEnd, Nodes: []uint32{0}, State: StateExited})
	tr.Event(&Event{Kind: KindEnd, Nodes: []uint32{1}, State: StateExited, Code: 3})
	if tr.End(1, StateTimeout, 255) {
		t.Error("a second end was taken")
	}
	tr.End(3, StateNoAgent, 255)
	tr.Dispatch(1) // ended: stays ended
	got := fmt.Sprint(tr.Count(PhasePending), tr.Count(PhaseDispatched), tr.Count(PhaseRunning), tr.Count(PhaseEnded), tr.Failed(), tr.Done())
	if got != "1 0 1 3 2 false" {
		t.Errorf("pending dispatched running ended failed done = %s", got)
	}
	if tr.State(1) != StateExited || tr.Code(1) != 3 || tr.State(2) != "" || tr.State(3) != StateNoAgent {
		t.Errorf("states %q %d %q %q", tr.State(1), tr.Code(1), tr.State(2), tr.State(3))
	}
	if f := tr.Finals(); !maps.Equal(f, map[State]int{StateExited: 2, StateNoAgent: 1}) {
		t.Errorf("finals %v", f)
	}
	if n := tr.Nodes(PhaseEnded); !slices.Equal(n, []uint32{0, 1, 3}) {
		t.Errorf("ended nodes %v", n)
	}
	tr.Unend(3)
	if tr.State(3) != "" || tr.Phase(3) != PhaseRunning || tr.Failed() != 1 || tr.Finals()[StateNoAgent] != 0 {
		t.Errorf("after Unend: %q %d failed %d finals %v", tr.State(3), tr.Phase(3), tr.Failed(), tr.Finals())
	}
	tr.End(3, StateExited, 0)
	tr.End(2, StateExited, 0)
	tr.End(4, StateExited, 0)
	if !tr.Done() || tr.Count(PhaseEnded) != 5 {
		t.Error("not done with every node ended")
	}
}

// TestTrackerStatesBounded: a peer sending ever new final states cannot
// grow the tracker's table past maxStates; the rest count as error.
func TestTrackerStatesBounded(t *testing.T) {
	tr := NewTracker(1000)
	for i := range 1000 {
		tr.End(uint32(i), State(fmt.Sprint("made-up ", i)), 1)
	}
	if len(tr.states) != maxStates || tr.Finals()[StateError] != 1000-(maxStates-1) || tr.State(999) != StateError {
		t.Errorf("%d states, %d errors, last %q", len(tr.states), tr.Finals()[StateError], tr.State(999))
	}
}
