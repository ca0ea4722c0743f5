package workers

import (
	"slices"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/pkg/engine"
)

func TestNew(t *testing.T) {
	names := Names()
	for _, want := range []string{"exec", "openssh", "pdsh", "rsh"} {
		if !slices.Contains(names, want) {
			t.Errorf("Names() = %q lacks %q", names, want)
		}
	}
	if !slices.IsSorted(names) {
		t.Errorf("Names() not sorted: %q", names)
	}
	for _, n := range names {
		d, err := New(n)
		if err != nil || d == nil || d.Name() != n {
			t.Errorf("New(%q) = %v, %v", n, d, err)
		}
	}
	d, _ := New("exec")
	if _, ok := d.(engine.Keyer); !ok {
		t.Error("exec is not a Keyer")
	}
	d, _ = New("pdsh")
	if _, ok := d.(engine.GroupDriver); !ok {
		t.Error("pdsh is not a GroupDriver")
	}
	_, err := New("telnet")
	if err == nil || !strings.Contains(err.Error(), `"telnet"`) || !strings.Contains(err.Error(), strings.Join(names, ", ")) {
		t.Errorf("New(telnet): %v", err)
	}
}
