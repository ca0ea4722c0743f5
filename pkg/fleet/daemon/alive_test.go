package daemon

import (
	"context"
	"testing"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/pkg/fleet/agent"
	"github.com/fleetsh/fleetsh/pkg/fleet/coordinator"
)

// Alive answers while the coordinator's and the agent's loops run, and
// fails once they stopped; Registered is the agent's registration.
func TestAlive(t *testing.T) {
	f, err := Start(context.Background(), Config{Logger: natstest.Logger(t),
		Coordinator: &coordinator.Config{}, Agent: &agent.Config{Local: true, Worker: "exec"}})
	if err != nil {
		t.Fatal(err)
	}
	<-f.Registered() // Start returns once the local agent registered
	for range 3 {
		if err := f.Alive(context.Background()); err != nil {
			t.Fatalf("running: %v", err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Alive(context.Background()); err == nil {
		t.Fatal("alive after Close")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	none := &Fleet{stopped: make(chan struct{})}
	if err := none.Alive(ctx); err == nil || none.Registered() != nil {
		t.Fatalf("a fleet without parts: %v", err)
	}
}
