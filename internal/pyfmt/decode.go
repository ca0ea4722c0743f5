package pyfmt

import "strconv"

// DecodeUTF8 checks b as Python's bytes.decode() (UTF-8, "strict") does:
// nil when b is valid UTF-8, else the UnicodeDecodeError CPython raises
// for its first invalid sequence, with CPython's position and reason
// ("'utf-8' codec can't decode byte 0xff in position 0: invalid start
// byte").
func DecodeUTF8(b []byte) error {
	for i := 0; i < len(b); {
		n, bad, reason := utf8Seq(b[i:])
		if reason != "" {
			return decodeError(b, i, i+bad, reason)
		}
		i += n
	}
	return nil
}

// utf8Seq reads the sequence at the start of b as CPython's UTF-8
// decoder does (Objects/stringlib/codecs.h): its length, or the number of
// bytes the error covers and its reason.
func utf8Seq(b []byte) (n, bad int, reason string) {
	const (
		invalidStart = "invalid start byte"
		invalidCont  = "invalid continuation byte"
		unexpected   = "unexpected end of data"
	)
	switch c := b[0]; {
	case c < 0x80:
		return 1, 0, ""
	case c < 0xC2:
		return 0, 1, invalidStart
	case c < 0xE0:
		n = 2
	case c < 0xF0:
		n = 3
	case c < 0xF5:
		n = 4
	default:
		return 0, 1, invalidStart
	}
	lo, hi := byte(0x80), byte(0xBF)
	if r, ok := secondByte[b[0]]; ok {
		lo, hi = r[0], r[1]
	}
	for k := 1; k < n; k++ {
		if k >= len(b) {
			return 0, len(b), unexpected
		}
		if b[k] < lo || b[k] > hi {
			return 0, k, invalidCont
		}
		lo, hi = 0x80, 0xBF
	}
	return n, 0, ""
}

// secondByte is the range of the byte after the lead bytes for which it
// is not 80..BF: E0 needs A0..BF and ED 80..9F (no surrogates), F0 90..BF
// and F4 80..8F (at most U+10FFFF).
var secondByte = map[byte][2]byte{0xE0: {0xA0, 0xBF}, 0xED: {0x80, 0x9F}, 0xF0: {0x90, 0xBF}, 0xF4: {0x80, 0x8F}}

// decodeError is CPython's UnicodeDecodeError message for b[start:end].
func decodeError(b []byte, start, end int, reason string) *Error {
	var msg string
	if end-start == 1 {
		msg = "'utf-8' codec can't decode byte 0x" + hexPad(int64(b[start]), 2) + " in position " +
			strconv.Itoa(start) + ": " + reason
	} else {
		msg = "'utf-8' codec can't decode bytes in position " + strconv.Itoa(start) + "-" +
			strconv.Itoa(end-1) + ": " + reason
	}
	return &Error{Kind: "UnicodeDecodeError", Msg: msg}
}
