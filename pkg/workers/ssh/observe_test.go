package ssh

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/pkg/engine"
)

// The job's Observe hears the connect and the authentication of a node
// that ran, once each; of a node refused before authentication, nothing
// past the connect.
func TestObserveStages(t *testing.T) {
	s, _, d := startNode1(t)
	var mu sync.Mutex
	var stages []engine.Stage
	observe := func(st engine.Stage, dur time.Duration) {
		if dur < 0 {
			t.Errorf("%s: negative duration %v", st, dur)
		}
		mu.Lock()
		stages = append(stages, st)
		mu.Unlock()
	}
	jr := newJob("node1", "true")
	jr.job.Observe = observe
	wantCode(t, jr, jr.run(t, d), 0)
	if want := []engine.Stage{engine.StageConnect, engine.StageAuth}; !slices.Equal(stages, want) {
		t.Errorf("stages %v, want %v", stages, want)
	}
	stages = nil
	jr = newJob("node1", "true")
	jr.job.Observe = observe
	s.SetRejectAuth(true)
	wantFailure(t, jr, jr.run(t, d), engine.ReasonAuth)
	if want := []engine.Stage{engine.StageConnect}; !slices.Equal(stages, want) {
		t.Errorf("refused: stages %v, want %v", stages, want)
	}
}
