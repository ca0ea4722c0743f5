package pyfmt

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// maxStrDigits is CPython 3.11's default sys.get_int_max_str_digits().
const maxStrDigits = 4300

// toASCIIDigits implements _PyUnicode_TransformDecimalAndSpaceToASCII:
// Unicode white space becomes ' ', Unicode decimal digits become ASCII
// digits, and the string is cut after the first other non-ASCII code point,
// which becomes '?'.
func toASCIIDigits(s string) string {
	var b strings.Builder
	for _, c := range Decode(s) {
		switch {
		case c < 127:
			b.WriteByte(byte(c))
		case IsSpace(c):
			b.WriteByte(' ')
		default:
			d := DecimalValue(c)
			if d < 0 {
				b.WriteByte('?')
				return b.String()
			}
			b.WriteByte(byte('0' + d))
		}
	}
	return b.String()
}

// isASCIISpace is CPython's Py_ISSPACE.
func isASCIISpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func digitValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return 99
}

// ParseInt returns int(s, base) for a Python str s: surrounding white
// space, a sign, a 0x/0o/0b prefix matching base (any of them with base 0),
// single underscores between digits and Unicode decimal digits are
// accepted. base must be 0 or in [2, 36]. Errors are *[Error] values with
// Python's ValueError message, e.g. "invalid literal for int() with base
// 10: 'abc'".
func ParseInt(s string, base int) (*big.Int, error) {
	if (base != 0 && base < 2) || base > 36 {
		return nil, valueError("int() base must be >= 2 and <= 36, or 0")
	}
	n, err := parseLong(toASCIIDigits(s), base)
	if err != nil {
		return nil, err
	}
	if n == nil {
		r := ReprString(s)
		if rr := Decode(r); len(rr) > 200 {
			r = encodeLossy(rr[:200])
		}
		return nil, valueError("invalid literal for int() with base " + strconv.Itoa(base) + ": " + r)
	}
	return n, nil
}

// parseLong implements PyLong_FromString on an ASCII string, requiring the
// whole string to be consumed. It returns nil, nil for an invalid literal.
func parseLong(str string, base int) (*big.Int, error) {
	i := 0
	at := func(k int) byte {
		if k < len(str) {
			return str[k]
		}
		return 0
	}
	for i < len(str) && isASCIISpace(str[i]) {
		i++
	}
	neg := false
	if at(i) == '+' {
		i++
	} else if at(i) == '-' {
		i++
		neg = true
	}
	errorIfNonzero := false
	if base == 0 {
		switch {
		case at(i) != '0':
			base = 10
		case at(i+1) == 'x' || at(i+1) == 'X':
			base = 16
		case at(i+1) == 'o' || at(i+1) == 'O':
			base = 8
		case at(i+1) == 'b' || at(i+1) == 'B':
			base = 2
		default:
			errorIfNonzero = true
			base = 10
		}
	}
	if at(i) == '0' {
		p := at(i+1) | 0x20
		if (base == 16 && p == 'x') || (base == 8 && p == 'o') || (base == 2 && p == 'b') {
			i += 2
			if at(i) == '_' {
				i++
			}
		}
	}
	if at(i) == '_' {
		return nil, nil
	}
	var digits []byte
	prev := byte(0)
	for i < len(str) && (digitValue(str[i]) < base || str[i] == '_') {
		if str[i] == '_' {
			if prev == '_' {
				return nil, nil
			}
		} else {
			digits = append(digits, str[i])
		}
		prev = str[i]
		i++
	}
	if prev == '_' {
		return nil, nil
	}
	if len(digits) == 0 {
		return nil, nil
	}
	if base&(base-1) != 0 && len(digits) > maxStrDigits {
		return nil, valueError("Exceeds the limit (4300 digits) for integer string conversion: value has " +
			strconv.Itoa(len(digits)) + " digits; use sys.set_int_max_str_digits() to increase the limit")
	}
	for i < len(str) && isASCIISpace(str[i]) {
		i++
	}
	if i != len(str) {
		return nil, nil
	}
	n, ok := new(big.Int).SetString(string(digits), base)
	if !ok {
		return nil, nil
	}
	if errorIfNonzero && n.Sign() != 0 {
		return nil, nil
	}
	if neg {
		n.Neg(n)
	}
	return n, nil
}

// ParseFloat returns float(s) for a Python str s: surrounding white space,
// underscores between digits, Unicode decimal digits, "inf", "infinity"
// and "nan" (any case, optionally signed) are accepted; out of range values
// become infinities or zeros. Errors are *[Error] values with Python's
// ValueError message "could not convert string to float: 'abc'".
func ParseFloat(s string) (float64, error) {
	f, ok := parseDouble(toASCIIDigits(s))
	if !ok {
		return 0, valueError("could not convert string to float: " + ReprString(s))
	}
	return f, nil
}

func parseDouble(s string) (float64, bool) {
	if strings.IndexByte(s, '_') >= 0 {
		var b strings.Builder
		prev := byte(0)
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c == '_' {
				if !(prev >= '0' && prev <= '9') {
					return 0, false
				}
			} else {
				b.WriteByte(c)
				if prev == '_' && !(c >= '0' && c <= '9') {
					return 0, false
				}
			}
			prev = c
		}
		if prev == '_' {
			return 0, false
		}
		s = b.String()
	}
	start, end := 0, len(s)
	for start < end && isASCIISpace(s[start]) {
		start++
	}
	for end-1 > start && isASCIISpace(s[end-1]) {
		end--
	}
	s = s[start:end]
	if s == "" {
		return 0, false
	}
	body := s
	neg := false
	if body[0] == '+' || body[0] == '-' {
		neg = body[0] == '-'
		body = body[1:]
	}
	switch strings.ToLower(body) {
	case "inf", "infinity":
		if neg {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	case "nan":
		if neg {
			return math.Copysign(math.NaN(), -1), true
		}
		return math.NaN(), true
	}
	if !isDecimalFloat(body) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
			return 0, false
		}
	}
	return f, true
}

// isDecimalFloat matches digits ["." digits] [exponent] with at least one
// mantissa digit, the syntax _Py_dg_strtod accepts after the sign.
func isDecimalFloat(s string) bool {
	i, n := 0, 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		n++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
	}
	if n == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		m := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			m++
		}
		if m == 0 {
			return false
		}
	}
	return i == len(s)
}
