package workers

import (
	"slices"
	"testing"

	"github.com/fleetsh/fleetsh/pkg/engine"
)

// TestRegistered checks that importing the package registers every
// built-in driver with the engine under its own name.
func TestRegistered(t *testing.T) {
	names := engine.Drivers()
	for _, want := range []string{"exec", "openssh", "pdsh", "rsh", "ssh"} {
		if !slices.Contains(names, want) {
			t.Errorf("engine.Drivers() = %q lacks %q", names, want)
		}
	}
	for _, n := range names {
		d, err := engine.NewDriver(n)
		if err != nil || d == nil || d.Name() != n {
			t.Errorf("engine.NewDriver(%q) = %v, %v", n, d, err)
		}
	}
	d, _ := engine.NewDriver("exec")
	if _, ok := d.(engine.Keyer); !ok {
		t.Error("exec is not a Keyer")
	}
	d, _ = engine.NewDriver("pdsh")
	if _, ok := d.(engine.GroupDriver); !ok {
		t.Error("pdsh is not a GroupDriver")
	}
}
