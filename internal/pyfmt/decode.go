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
	cont := func(i int) bool { return b[i]&0xC0 == 0x80 }
	c := b[0]
	switch {
	case c < 0x80:
		return 1, 0, ""
	case c < 0xC2:
		return 0, 1, invalidStart
	case c < 0xE0:
		if len(b) < 2 {
			return 0, len(b), unexpected
		}
		if !cont(1) {
			return 0, 1, invalidCont
		}
		return 2, 0, ""
	case c < 0xF0:
		// E0 needs A0..BF next, ED 80..9F (no surrogates).
		second := func() bool {
			return cont(1) && !(c == 0xE0 && b[1] < 0xA0) && !(c == 0xED && b[1] >= 0xA0)
		}
		if len(b) < 3 {
			if len(b) >= 2 && !second() {
				return 0, 1, invalidCont
			}
			return 0, len(b), unexpected
		}
		if !second() {
			return 0, 1, invalidCont
		}
		if !cont(2) {
			return 0, 2, invalidCont
		}
		return 3, 0, ""
	case c < 0xF5:
		// F0 needs 90..BF next, F4 80..8F (at most U+10FFFF).
		second := func() bool {
			return cont(1) && !(c == 0xF0 && b[1] < 0x90) && !(c == 0xF4 && b[1] >= 0x90)
		}
		if len(b) < 4 {
			if len(b) >= 2 && !second() {
				return 0, 1, invalidCont
			}
			if len(b) >= 3 && !cont(2) {
				return 0, 2, invalidCont
			}
			return 0, len(b), unexpected
		}
		switch {
		case !second():
			return 0, 1, invalidCont
		case !cont(2):
			return 0, 2, invalidCont
		case !cont(3):
			return 0, 3, invalidCont
		}
		return 4, 0, ""
	}
	return 0, 1, invalidStart
}

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
