// Package pyshlex is Python's shlex.split, which ClusterShell applies to
// its configuration values (groups.conf confdir/autodir, ssh_options,
// ssh_path...): fleetsh must split them into the same words.
package pyshlex

import (
	"errors"
	"strings"
)

// Errors of Split, with Python's shlex messages.
var (
	ErrNoClosingQuotation = errors.New("No closing quotation")
	ErrNoEscapedChar      = errors.New("No escaped character")
)

// Split is Python's shlex.split(s) (POSIX mode, no comments): words are separated by space, tab, CR or LF; single
// quotes protect everything; double quotes protect everything but a
// backslash before '"' or '\'; outside quotes a backslash escapes any
// character; an empty quoted word ("") is kept.
func Split(s string) ([]string, error) {
	const (
		stWhite = iota
		stWord
		stSingle
		stDouble
		stEscape
	)
	isWhite := func(r byte) bool { return r == ' ' || r == '\t' || r == '\r' || r == '\n' }
	var (
		words   []string
		tok     strings.Builder
		quoted  bool
		state   = stWhite
		escaped = stWord // the state an escape returns to
	)
	emit := func() {
		words = append(words, tok.String())
		tok.Reset()
		quoted = false
	}
	// Bytes, not runes: every special character is ASCII, and a byte that
	// is not valid UTF-8 is kept as it is instead of becoming U+FFFD.
	for i := 0; i < len(s); i++ {
		r := s[i]
		switch state {
		case stWhite, stWord:
			switch {
			case isWhite(r):
				if state == stWord || quoted {
					emit()
				}
				state = stWhite
			case r == '\\':
				escaped, state = stWord, stEscape
			case r == '\'':
				state = stSingle
			case r == '"':
				state = stDouble
			default:
				tok.WriteByte(r)
				state = stWord
			}
		case stSingle, stDouble:
			quoted = true
			switch {
			case (state == stSingle && r == '\'') || (state == stDouble && r == '"'):
				state = stWord
			case state == stDouble && r == '\\':
				escaped, state = stDouble, stEscape
			default:
				tok.WriteByte(r)
			}
		case stEscape:
			// Inside double quotes only '"' and '\' can be escaped; the
			// backslash stays before anything else.
			if escaped == stDouble && r != '"' && r != '\\' {
				tok.WriteByte('\\')
			}
			tok.WriteByte(r)
			state = escaped
		}
	}
	switch state {
	case stSingle, stDouble:
		return nil, ErrNoClosingQuotation
	case stEscape:
		return nil, ErrNoEscapedChar
	case stWord:
		emit()
	default:
		if quoted {
			emit()
		}
	}
	return words, nil
}
