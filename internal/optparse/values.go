package optparse

import (
	"math"
	"math/big"
	"strings"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

// Values holds parsed option values by destination name, like optparse's
// Values object holds them as attributes. A nil value stands for Python's
// None. Values set by the parser are: string (TypeString, TypeChoice), int
// or *big.Int (TypeInt), float64 (TypeFloat), whatever a custom Checker
// returns, bool (ActionStoreTrue, ActionStoreFalse), int (ActionCount),
// []any (ActionAppend), pyfmt.Tuple (Nargs > 1) and the defaults given.
type Values struct {
	m     map[string]any
	order []string // destinations in the order they were first set
}

// Get returns the value of dest, nil if it is None or unset.
func (v *Values) Get(dest string) any { return v.m[dest] }

// Set sets the value of dest (Python's setattr).
func (v *Values) Set(dest string, value any) {
	if _, ok := v.m[dest]; !ok {
		v.order = append(v.order, dest)
	}
	v.m[dest] = value
}

// EnsureValue sets dest to value if it is unset or None, and returns the
// value of dest (optparse's Values.ensure_value).
func (v *Values) EnsureValue(dest string, value any) any {
	if x, ok := v.m[dest]; !ok || x == nil {
		v.Set(dest, value)
	}
	return v.m[dest]
}

// IsNone reports whether dest is unset or None.
func (v *Values) IsNone(dest string) bool { return v.m[dest] == nil }

// Bool returns the Python truth value of dest: false for None, false, 0,
// 0.0, "" and empty lists.
func (v *Values) Bool(dest string) bool { return truth(v.m[dest]) }

func truth(x any) bool {
	switch t := x.(type) {
	case nil:
		return false
	case bool:
		return t
	case int:
		return t != 0
	case *big.Int:
		return t.Sign() != 0
	case float64:
		return t != 0
	case string:
		return t != ""
	case []any:
		return len(t) > 0
	case []string:
		return len(t) > 0
	case pyfmt.Tuple:
		return len(t) > 0
	}
	return true
}

// String returns dest if it is a string, "" if it is None, and Python's
// str() of it otherwise.
func (v *Values) String(dest string) string {
	switch t := v.m[dest].(type) {
	case nil:
		return ""
	case string:
		return t
	default:
		return pyfmt.Str(t)
	}
}

// Int returns dest as Python's int() would for an int, bool or float value
// (saturating *big.Int values to the int range), and 0 for None or any
// other value.
func (v *Values) Int(dest string) int {
	switch t := v.m[dest].(type) {
	case int:
		return t
	case bool:
		if t {
			return 1
		}
		return 0
	case *big.Int:
		if t.IsInt64() && t.Int64() >= math.MinInt && t.Int64() <= math.MaxInt {
			return int(t.Int64())
		}
		if t.Sign() < 0 {
			return math.MinInt
		}
		return math.MaxInt
	case float64:
		switch {
		case math.IsNaN(t):
			return 0
		case t >= math.MaxInt:
			return math.MaxInt
		case t <= math.MinInt:
			return math.MinInt
		}
		return int(t)
	}
	return 0
}

// Float returns dest as a float64 for float, int or bool values, and 0
// for None or any other value.
func (v *Values) Float(dest string) float64 {
	switch t := v.m[dest].(type) {
	case float64:
		return t
	case *big.Int:
		f, _ := new(big.Float).SetInt(t).Float64()
		return f
	case int, bool:
		return float64(v.Int(dest))
	}
	return 0
}

// List returns dest as a list: the []any of an append option, the
// elements of a pyfmt.Tuple or of a []string, nil for None or any other
// value.
func (v *Values) List(dest string) []any {
	switch t := v.m[dest].(type) {
	case []any:
		return append([]any(nil), t...)
	case pyfmt.Tuple:
		return append([]any(nil), t...)
	case []string:
		l := make([]any, len(t))
		for i, s := range t {
			l[i] = s
		}
		return l
	}
	return nil
}

// Strings returns the string elements of the list in dest (see List),
// converting other elements with Python's str().
func (v *Values) Strings(dest string) []string {
	l := v.List(dest)
	if l == nil {
		return nil
	}
	out := make([]string, len(l))
	for i, x := range l {
		if s, ok := x.(string); ok {
			out[i] = s
		} else {
			out[i] = pyfmt.Str(x)
		}
	}
	return out
}

// Repr returns str(values) as Python prints it: "{'dest': value, ...}",
// destinations in the order they were first set. The differential tests
// of this package and of internal/csub compare whole parses with Python's
// optparse through it.
func (v *Values) Repr() string {
	parts := make([]string, len(v.order))
	for i, k := range v.order {
		parts[i] = pyfmt.ReprString(k) + ": " + pyfmt.Repr(v.m[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// copyValue copies lists so that appending never alters a default.
func copyValue(x any) any {
	switch t := x.(type) {
	case []any:
		return append(make([]any, 0, len(t)), t...)
	case []string:
		return append(make([]string, 0, len(t)), t...)
	}
	return x
}
