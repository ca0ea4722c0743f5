package exec

import (
	"sync"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// A worker's Options.Observe reaches each of its jobs: the exec driver
// reports one spawn per node, and none for a command that cannot start.
func TestObserveSpawn(t *testing.T) {
	var mu sync.Mutex
	spawns := map[engine.Stage]int{}
	observe := func(st engine.Stage, d time.Duration) {
		mu.Lock()
		spawns[st]++
		mu.Unlock()
	}
	task := engine.New()
	if _, err := task.Shell("true", engine.Options{Nodes: nodeset.MustParse("n[1-5]"), Driver: New(), Observe: observe}); err != nil {
		t.Fatal(err)
	}
	if err := task.Resume(0); err != nil {
		t.Fatal(err)
	}
	if len(spawns) != 1 || spawns[engine.StageSpawn] != 5 {
		t.Errorf("stages observed %v, want 5 spawns", spawns)
	}
	clear(spawns)
	p := &Process{Args: []string{"/nonexistent/fleetsh-test"}, Observe: observe}
	if res := p.Run(t.Context(), "n1"); res.ExitCode != 255 {
		t.Fatalf("missing program: %+v", res)
	}
	if len(spawns) != 0 {
		t.Errorf("a program that did not start observed %v", spawns)
	}
}
