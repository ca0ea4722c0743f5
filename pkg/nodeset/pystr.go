package nodeset

import (
	"math/big"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

// ClusterShell is Python: its parser strips with str.strip() and converts
// with int(). These helpers reproduce exactly what those accept, so that an
// expression means the same thing to fleetsh and to clush.

// maxIndexDigits bounds the digits of one index: ClusterShell allows indexes
// up to 1e100 with Python integers; fleetsh keeps int64 arithmetic and
// refuses longer numbers with a clear error instead of overflowing.
const maxIndexDigits = 18

// maxIndex is the largest index fleetsh accepts.
const maxIndex = 999_999_999_999_999_999

// errPyInt tells why a string is not a Python int literal; errIndexTooLarge
// tells it is one, but too large for fleetsh.
type pyIntError int

const (
	errPyInt pyIntError = iota + 1
	errIndexTooLarge
)

func (e pyIntError) Error() string {
	if e == errIndexTooLarge {
		return "index too large"
	}
	return "cannot convert string to integer"
}

// pyInt parses s as Python's int(s) does for base 10: surrounding
// whitespace, an optional sign, ASCII digits with single underscores between
// them.
func pyInt(s string) (int64, error) {
	s = pyfmt.Strip(s)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return 0, errPyInt
	}
	var v int64
	digits := 0
	prevUnderscore := true // a leading underscore is invalid
	for _, c := range s {
		d := pyfmt.DecimalValue(c)
		switch {
		case c == '_':
			if prevUnderscore {
				return 0, errPyInt
			}
			prevUnderscore = true
		case d >= 0:
			prevUnderscore = false
			if digits > 0 || d != 0 {
				digits++
			}
			if digits > maxIndexDigits {
				return 0, errIndexTooLarge
			}
			v = v*10 + int64(d)
		default:
			return 0, errPyInt
		}
	}
	if prevUnderscore {
		return 0, errPyInt
	}
	if neg {
		v = -v
	}
	return v, nil
}

// isDigit reports an ASCII digit: Python's string.digits, used by
// ClusterShell's leading/trailing digits rules.
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// numDigits returns the number of decimal digits of v >= 0.
func numDigits(v int64) int {
	n := 1
	for v >= 10 {
		v /= 10
		n++
	}
	return n
}

// pow10 returns 10**n for 0 <= n <= 18.
func pow10(n int) int64 {
	p := int64(1)
	for ; n > 0; n-- {
		p *= 10
	}
	return p
}

// googol is the exact value of the float 1e100, ClusterShell's index limit
// (Python compares ints with that float exactly).
// (Computed on first use, as it is needed only for out-of-range input.)
var googol = sync.OnceValue(func() *big.Int {
	n, _ := new(big.Float).SetFloat64(1e100).Int(nil)
	return n
})

// pyBigInt parses s like pyInt, without the digit limit.
func pyBigInt(s string) (*big.Int, bool) {
	s = strings.Map(func(r rune) rune {
		if d := pyfmt.DecimalValue(r); d >= 0 {
			return '0' + rune(d)
		}
		return r
	}, strings.ReplaceAll(pyfmt.Strip(s), "_", ""))
	n, ok := new(big.Int).SetString(s, 10)
	return n, ok
}

// aboveGoogol reports whether the decimal digits s exceed 1e100.
func aboveGoogol(s string) bool {
	n, ok := pyBigInt(s)
	return ok && n.Cmp(googol()) > 0
}

// bigRangeInvalid tells, for a range whose bounds do not fit fleetsh's
// indexes, whether ClusterShell would refuse it as "invalid values in
// range" (end above 1e100, or begin above end) rather than accept it.
func bigRangeInvalid(begin, end string) bool {
	b, ok1 := pyBigInt(begin)
	e, ok2 := pyBigInt(end)
	if !ok1 || !ok2 {
		return false
	}
	return e.Cmp(googol()) > 0 || b.Cmp(e) > 0
}

// pyLen is Python's len() of a str: code points.
func pyLen(s string) int { return utf8.RuneCountInString(s) }
