package pyfmt

import (
	"encoding/binary"
	"iter"
	"sort"
	"strings"
	"unicode/utf8"
)

// This file holds the predicates and splitters of Python's str that the
// ClusterShell tools rely on, for Go strings. Every caller that needs
// Python's notion of white space, of a digit or of a line uses these, so
// that an input means the same thing to every part of fleetsh as to clush.

// IsSpace is Python's str.isspace() for one code point. It differs from
// unicode.IsSpace in counting the ASCII separators U+001C..U+001F as white
// space (Python's rule is bidirectional class B, S or WS, or category Zs).
func IsSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiSpace[r]
	}
	i := sort.Search(len(pySpaces), func(i int) bool { return pySpaces[i] >= r })
	return i < len(pySpaces) && pySpaces[i] == r
}

// asciiSpace is pySpaces below U+0080, for the common case.
var asciiSpace = func() (t [utf8.RuneSelf]bool) {
	for _, r := range pySpaces {
		if r < utf8.RuneSelf {
			t[r] = true
		}
	}
	return t
}()

// Strip is str.strip() without arguments.
func Strip(s string) string {
	// Most input is ASCII without surrounding spaces: check the ends first.
	if s == "" || (s[0] > ' ' && s[0] < utf8.RuneSelf && s[len(s)-1] > ' ' && s[len(s)-1] < utf8.RuneSelf) {
		return s
	}
	return strings.TrimFunc(s, IsSpace)
}

// LStrip is str.lstrip() without arguments.
func LStrip(s string) string { return strings.TrimLeftFunc(s, IsSpace) }

// RStrip is str.rstrip() without arguments.
func RStrip(s string) string { return strings.TrimRightFunc(s, IsSpace) }

// Fields yields the fields of str.split() without arguments: runs of
// white space separate fields, and there are no empty ones. Because every
// line break of str.splitlines() is also white space, it equals
// "for line in s.splitlines(): line.split()" as well.
func Fields(s string) iter.Seq[string] {
	return func(yield func(string) bool) {
		start := -1
		for i := 0; i < len(s); {
			r, size := rune(s[i]), 1
			var space bool
			if r < utf8.RuneSelf {
				space = asciiSpace[r]
			} else {
				r, size = utf8.DecodeRuneInString(s[i:])
				space = IsSpace(r)
			}
			if space {
				if start >= 0 && !yield(s[start:i]) {
					return
				}
				start = -1
			} else if start < 0 {
				start = i
			}
			i += size
		}
		if start >= 0 {
			yield(s[start:])
		}
	}
}

// breakLead marks the bytes that may begin a line break of Splitlines:
// the ASCII ones, and the first byte of the UTF-8 forms of \x85 (C2 85),
// \u2028 and \u2029 (E2 80 A8, E2 80 A9).
var breakLead = func() (t [256]bool) {
	for _, c := range []byte("\n\r\v\f\x1c\x1d\x1e\xc2\xe2") {
		t[c] = true
	}
	return t
}()

// mayBreak reports whether one of the eight bytes of w may begin a line
// break: a control character (below 0x20), 0xC2 or 0xE2 (the classic
// "has a byte less than n / equal to n" word tests).
func mayBreak(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	zeroIn := func(v uint64) bool { return (v-ones)&^v&highs != 0 }
	return (w-ones*0x20)&^w&highs != 0 || zeroIn(w^(ones*0xc2)) || zeroIn(w^(ones*0xe2))
}

// Splitlines is str.splitlines(): lines end at \n, \r, \r\n, \v, \f,
// \x1c-\x1e, \x85, \u2028 and \u2029, and the line ends are dropped.
func Splitlines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); {
		// Skip what cannot start a break, eight bytes at a time: an
		// operand of 100 000 nodes is a 60 KB line.
		for i+8 <= len(s) && !mayBreak(binary.LittleEndian.Uint64([]byte(s[i:i+8]))) {
			i += 8
		}
		for i < len(s) && !breakLead[s[i]] {
			i++
		}
		if i == len(s) {
			break
		}
		c := s[i]
		size := 1
		brk := false
		switch {
		case c == '\n' || c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1e):
			brk = true
		case c == '\r':
			brk = true
			if i+1 < len(s) && s[i+1] == '\n' {
				size = 2
			}
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(s[i:])
			size = n
			brk = r == 0x85 || r == 0x2028 || r == 0x2029
		}
		if brk {
			out = append(out, s[start:i])
			start = i + size
		}
		i += size
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// isPrintable reports whether Python's str.isprintable() is true for c.
func isPrintable(c rune) bool {
	if c >= 0x20 && c < 0x7F {
		return true
	}
	i := sort.Search(len(nonPrintable), func(i int) bool { return nonPrintable[i][1] >= c })
	return !(i < len(nonPrintable) && nonPrintable[i][0] <= c)
}

// DecimalValue returns the value of c if it is a decimal digit for
// Python (str.isdecimal(), the digits int() and the regular expression \d
// accept: ASCII or any other Unicode decimal digit), or -1.
func DecimalValue(c rune) int {
	if c >= '0' && c <= '9' {
		return int(c - '0')
	}
	if c < 0x80 {
		return -1
	}
	i := sort.Search(len(decimalZeros), func(i int) bool { return decimalZeros[i]+9 >= c })
	if i < len(decimalZeros) && decimalZeros[i] <= c {
		return int(c - decimalZeros[i])
	}
	return -1
}
