package optparse

import (
	"math"
	"math/big"
	"strings"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

// Checker converts and validates the string value of an option of a given
// type, like the functions of optparse's Option.TYPE_CHECKER: opt is the
// option, optStr the option string seen on the command line (or
// opt.OptString() when converting a default) and value the raw value.
// Invalid values must be reported with an *OptionValueError, whose message
// Parse prints as a usage error. A nil Checker keeps values as strings.
type Checker func(opt *Option, optStr, value string) (any, error)

// builtinTypes returns the type checkers optparse knows.
func builtinTypes() map[string]Checker {
	return map[string]Checker{
		TypeString: nil,
		TypeInt:    CheckInt,
		TypeLong:   CheckInt,
		TypeFloat:  CheckFloat,
		TypeChoice: CheckChoice,
	}
}

// ParseNum converts an option value like optparse's _parse_num(val, int):
// a "0x" prefix selects base 16, "0b" base 2, a leading "0" base 8 and
// anything else base 10, then Python's int(val, base) is applied. The
// result is an int, or a *big.Int when it does not fit.
func ParseNum(value string) (any, error) {
	base := 10
	low := strings.ToLower(prefix(value, 2))
	switch {
	case low == "0x":
		base = 16
	case low == "0b":
		base = 2
		value = value[2:]
		if value == "" {
			value = "0"
		}
	case strings.HasPrefix(value, "0"):
		base = 8
	}
	n, err := pyfmt.ParseInt(value, base)
	if err != nil {
		return nil, err
	}
	return IntValue(n), nil
}

// IntValue returns n as an int when it fits, and n itself otherwise: the
// representation of Python ints in Values.
func IntValue(n *big.Int) any {
	if n.IsInt64() && n.Int64() >= math.MinInt && n.Int64() <= math.MaxInt {
		return int(n.Int64())
	}
	return n
}

// prefix returns the first n code points of s (Python's s[:n]).
func prefix(s string, n int) string {
	r := pyfmt.Decode(s)
	if len(r) > n {
		r = r[:n]
	}
	return string(r)
}

// CheckInt is the checker of the "int" and "long" types.
func CheckInt(_ *Option, optStr, value string) (any, error) {
	v, err := ParseNum(value)
	if err != nil {
		return nil, &OptionValueError{Msg: "option " + optStr + ": invalid integer value: " + pyfmt.ReprString(value)}
	}
	return v, nil
}

// CheckFloat is the checker of the "float" type.
func CheckFloat(_ *Option, optStr, value string) (any, error) {
	f, err := pyfmt.ParseFloat(value)
	if err != nil {
		return nil, &OptionValueError{Msg: "option " + optStr + ": invalid floating-point value: " + pyfmt.ReprString(value)}
	}
	return f, nil
}

// CheckChoice is the checker of the "choice" type.
func CheckChoice(opt *Option, optStr, value string) (any, error) {
	for _, c := range opt.Choices {
		if c == value {
			return value, nil
		}
	}
	quoted := make([]string, len(opt.Choices))
	for i, c := range opt.Choices {
		quoted[i] = pyfmt.ReprString(c)
	}
	return nil, &OptionValueError{Msg: "option " + optStr + ": invalid choice: " + pyfmt.ReprString(value) +
		" (choose from " + strings.Join(quoted, ", ") + ")"}
}
