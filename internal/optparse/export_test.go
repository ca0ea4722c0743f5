package optparse

import (
	"strings"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

// Repr returns str(values) as Python prints it: "{'dest': value, ...}",
// destinations in the order they were first set. Only the tests need it:
// they compare whole parses with Python's optparse through it.
func (v *Values) Repr() string {
	parts := make([]string, len(v.order))
	for i, k := range v.order {
		parts[i] = pyfmt.ReprString(k) + ": " + pyfmt.Repr(v.m[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
