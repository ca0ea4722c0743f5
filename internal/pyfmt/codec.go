package pyfmt

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Decode returns the code points of s decoded like Python decodes
// command line arguments (UTF-8 with the "surrogateescape" error handler):
// each byte that is not part of a valid UTF-8 sequence becomes the lone
// surrogate U+DC00 plus the byte value.
func Decode(s string) []rune {
	out := make([]rune, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			out = append(out, rune(c))
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			out = append(out, 0xDC00+rune(c))
			i++
			continue
		}
		out = append(out, r)
		i += n
	}
	return out
}

// runeLen returns len(s) as Python counts it for Decode(s).
func runeLen(s string) int {
	n := 0
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			i++
		} else {
			_, w := utf8.DecodeRuneInString(s[i:])
			i += w
		}
		n++
	}
	return n
}

func isSurrogate(r rune) bool { return r >= 0xD800 && r <= 0xDFFF }

// Encode encodes code points to UTF-8 the way Python writes standard output
// with the "surrogateescape" error handler: U+DC80..U+DCFF become the single
// bytes 0x80..0xFF. Any other surrogate makes it fail with the
// UnicodeEncodeError Python raises (the reported position is the index of
// the first offending code point in r).
func Encode(r []rune) (string, error) {
	for i, c := range r {
		if isSurrogate(c) && !(c >= 0xDC80 && c <= 0xDCFF) {
			return "", encodeError(r, i, "utf-8", "surrogates not allowed")
		}
	}
	return encodeLossy(r), nil
}

// EncodeStrict encodes code points to UTF-8 with Python's "strict" error
// handler: any surrogate makes it fail with Python's UnicodeEncodeError.
func EncodeStrict(r []rune) (string, error) {
	for i, c := range r {
		if isSurrogate(c) {
			return "", encodeError(r, i, "utf-8", "surrogates not allowed")
		}
	}
	return string(r), nil
}

// encodeError builds the UnicodeEncodeError CPython's UTF-8 encoder raises
// when the code point at index i cannot be encoded: the error covers the
// whole run of surrogates starting there.
func encodeError(r []rune, i int, codec, reason string) *Error {
	end := i + 1
	for end < len(r) && isSurrogate(r[end]) {
		end++
	}
	var msg string
	if end-i == 1 {
		msg = "'" + codec + "' codec can't encode character '" + escape(r[i]) + "' in position " +
			strconv.Itoa(i) + ": " + reason
	} else {
		msg = "'" + codec + "' codec can't encode characters in position " +
			strconv.Itoa(i) + "-" + strconv.Itoa(end-1) + ": " + reason
	}
	return &Error{Kind: "UnicodeEncodeError", Msg: msg}
}

// encodeLossy encodes code points like Encode but never fails: surrogates
// outside U+DC80..U+DCFF are written in their three byte WTF-8 form.
func encodeLossy(r []rune) string {
	var b strings.Builder
	b.Grow(len(r))
	for _, c := range r {
		switch {
		case c < utf8.RuneSelf:
			b.WriteByte(byte(c))
		case c >= 0xDC80 && c <= 0xDCFF:
			b.WriteByte(byte(c - 0xDC00))
		case isSurrogate(c):
			b.WriteByte(0xED)
			b.WriteByte(byte(0x80 | (c>>6)&0x3F))
			b.WriteByte(byte(0x80 | c&0x3F))
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// BackslashReplace returns s as Python writes it to standard error (UTF-8
// with the "backslashreplace" error handler): bytes that are not valid
// UTF-8, which stand for lone surrogates, are written as \udcXX.
func BackslashReplace(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for _, c := range Decode(s) {
		if isSurrogate(c) {
			b.WriteString(`\u` + hexPad(int64(c), 4))
		} else {
			b.WriteRune(c)
		}
	}
	return b.String()
}

func hexPad(v int64, width int) string {
	s := strconv.FormatInt(v, 16)
	if len(s) < width {
		s = strings.Repeat("0", width-len(s)) + s
	}
	return s
}
