package pyfmt

import (
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
)

// Object is implemented by Go values that stand for Python objects other
// than the built-in ones listed in the package documentation, so that they
// can be passed to Format, Str, Repr and ASCII.
type Object interface {
	// PyStr returns str(obj).
	PyStr() string
	// PyRepr returns repr(obj).
	PyRepr() string
	// PyType returns type(obj).__name__, used in TypeError messages.
	PyType() string
}

// Mapping is an Object that Python considers a mapping, i.e. whose class
// defines __getitem__ (ClusterShell's NodeSet and RangeSet do). "format %
// obj" then never fails with "not all arguments converted", and "%(key)s"
// looks keys up with PyGetItem.
type Mapping interface {
	Object
	// PyGetItem returns obj[key] or the *Error Python raises.
	PyGetItem(key string) (any, error)
}

// Tuple is a Python tuple. Passed to Format, it supplies one argument per
// element, as "format % (a, b)" does.
type Tuple []any

// ReprString returns repr(s) for a Python str, s being decoded with Decode.
func ReprString(s string) string { return reprRunes(Decode(s), false) }

// ReprBytes returns repr(b) for a Python bytes object: b'...' (b"..." when
// b holds a ' and no "), with \t, \n, \r, \\ and the quote escaped and every
// other byte outside printable ASCII written \xNN.
func ReprBytes(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	// Bytes escape as ascii() escapes code points below U+0100.
	return "b" + reprRunes(r, true)
}

// reprRunes implements unicode_repr(); with ascii set it also escapes every
// non-ASCII code point, as ascii() does.
func reprRunes(r []rune, ascii bool) string {
	quote := '\''
	hasSingle, hasDouble := false, false
	for _, c := range r {
		if c == '\'' {
			hasSingle = true
		} else if c == '"' {
			hasDouble = true
		}
	}
	if hasSingle && !hasDouble {
		quote = '"'
	}
	var b strings.Builder
	b.Grow(len(r) + 2)
	b.WriteRune(quote)
	for _, c := range r {
		switch {
		case c == quote || c == '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c >= 0x20 && c < 0x7F:
			b.WriteRune(c)
		case !ascii && c > 0x7F && isPrintable(c):
			b.WriteString(encodeLossy([]rune{c}))
		default:
			b.WriteString(escape(c))
		}
	}
	b.WriteRune(quote)
	return b.String()
}

// asciiEscape implements the backslashreplace step of ascii(obj) applied to
// repr(obj).
func asciiEscape(s string) string {
	var b strings.Builder
	for _, c := range Decode(s) {
		switch {
		case c < 0x80:
			b.WriteRune(c)
		default:
			b.WriteString(escape(c))
		}
	}
	return b.String()
}

// escape is Python's backslash escape of code point c: \xNN, \uNNNN or
// \UNNNNNNNN, the shortest that holds it.
func escape(c rune) string {
	switch {
	case c <= 0xFF:
		return `\x` + hexPad(int64(c), 2)
	case c <= 0xFFFF:
		return `\u` + hexPad(int64(c), 4)
	}
	return `\U` + hexPad(int64(c), 8)
}

// FloatRepr returns repr(f) for a Python float: the shortest string that
// round-trips, in fixed notation when the decimal exponent is in [-4, 16)
// and in scientific notation otherwise.
func FloatRepr(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	sign := ""
	if math.Signbit(f) {
		sign = "-"
		f = -f
	}
	if f == 0 {
		return sign + "0.0"
	}
	digits, exp := shortestDigits(f)
	if exp < -4 || exp >= 16 {
		m := digits[:1]
		if len(digits) > 1 {
			m += "." + digits[1:]
		}
		return sign + m + "e" + expString(exp)
	}
	return sign + fixedFromDigits(digits, exp, true)
}

// shortestDigits returns the shortest round-trip decimal digits of f > 0
// and the decimal exponent of the first digit.
func shortestDigits(f float64) (string, int) {
	s := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mant, ex, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(ex)
	return strings.Replace(mant, ".", "", 1), exp
}

// fixedFromDigits lays out digits (first digit at 10**exp) in positional
// notation, adding ".0" when there is no fractional part and dotZero is set.
func fixedFromDigits(digits string, exp int, dotZero bool) string {
	var intPart, frac string
	switch {
	case exp < 0:
		intPart = "0"
		frac = strings.Repeat("0", -exp-1) + digits
	case exp+1 >= len(digits):
		intPart = digits + strings.Repeat("0", exp+1-len(digits))
	default:
		intPart, frac = digits[:exp+1], digits[exp+1:]
	}
	if frac == "" {
		if dotZero {
			return intPart + ".0"
		}
		return intPart
	}
	return intPart + "." + frac
}

// expString formats a decimal exponent with a sign and at least two digits.
func expString(exp int) string {
	sign := "+"
	if exp < 0 {
		sign = "-"
		exp = -exp
	}
	s := strconv.Itoa(exp)
	if len(s) < 2 {
		s = "0" + s
	}
	return sign + s
}

// toBig returns the Python int value of v when v is a bool or a Go integer.
func toBig(v any) (*big.Int, bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return big.NewInt(1), true
		}
		return big.NewInt(0), true
	case int, int8, int16, int32, int64:
		return big.NewInt(reflect.ValueOf(x).Int()), true
	case uint, uint8, uint16, uint32, uint64, uintptr:
		return new(big.Int).SetUint64(reflect.ValueOf(x).Uint()), true
	case *big.Int:
		if x == nil {
			return nil, false
		}
		return x, true
	}
	return nil, false
}

// toFloat returns the float value of a Python float.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	}
	return 0, false
}

// TypeName returns type(v).__name__ for a Go value standing for a Python
// object (see the package documentation).
func TypeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case string:
		return "str"
	case []any, []string:
		return "list"
	case Tuple:
		return "tuple"
	case Object:
		return x.PyType()
	}
	if _, ok := toBig(v); ok {
		return "int"
	}
	if _, ok := toFloat(v); ok {
		return "float"
	}
	return goTypeName(v)
}

// goTypeName names the Go type of an unsupported value, for messages.
func goTypeName(v any) string {
	s := strings.TrimLeft(fmt.Sprintf("%T", v), "*[]")
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// Str returns str(v) for a Go value standing for a Python object.
func Str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case Object:
		return x.PyStr()
	}
	return Repr(v)
}

// Repr returns repr(v) for a Go value standing for a Python object.
func Repr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case string:
		return ReprString(x)
	case Object:
		return x.PyRepr()
	case []string:
		return "[" + strings.Join(reprEach(x, ReprString), ", ") + "]"
	case []any:
		return "[" + strings.Join(reprEach(x, Repr), ", ") + "]"
	case Tuple:
		parts := reprEach(x, Repr)
		if len(x) == 1 {
			return "(" + parts[0] + ",)"
		}
		return "(" + strings.Join(parts, ", ") + ")"
	}
	if i, ok := toBig(v); ok {
		return i.String()
	}
	if f, ok := toFloat(v); ok {
		return FloatRepr(f)
	}
	return "<" + goTypeName(v) + " object>"
}

// reprEach returns the repr of each element of x, for a list or tuple.
func reprEach[S ~[]E, E any](x S, repr func(E) string) []string {
	parts := make([]string, len(x))
	for i, e := range x {
		parts[i] = repr(e)
	}
	return parts
}

// ASCII returns ascii(v): repr(v) with every non-ASCII code point escaped.
func ASCII(v any) string {
	if s, ok := v.(string); ok {
		return reprRunes(Decode(s), true)
	}
	return asciiEscape(Repr(v))
}
