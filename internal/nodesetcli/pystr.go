package nodesetcli

import (
	"encoding/binary"
	"iter"
	"unicode"
	"unicode/utf8"
)

var asciiSpace = func() (t [utf8.RuneSelf]bool) {
	for r := range t {
		t[r] = pySpace(rune(r))
	}
	return t
}()

func pySpace(r rune) bool { return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f) }

// pyFields yields the fields of Python's str.split() without arguments:
// runs of whitespace separate fields.
func pyFields(s string) iter.Seq[string] {
	return func(yield func(string) bool) {
		start := -1
		for i := 0; i < len(s); {
			r, size := rune(s[i]), 1
			var space bool
			if r < utf8.RuneSelf {
				space = asciiSpace[r]
			} else {
				r, size = utf8.DecodeRuneInString(s[i:])
				space = pySpace(r)
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

// breakLead marks the bytes that may begin a line break of
// pySplitlines: the ASCII ones, and the first byte of the UTF-8 forms of
// \x85 (C2 85), \u2028 and \u2029 (E2 80 A8, E2 80 A9).
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

// pySplitlines is Python's str.splitlines(): lines end at \n, \r, \r\n,
// \v, \f, \x1c-\x1e, \x85, \u2028 and \u2029.
func pySplitlines(s string) []string {
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
