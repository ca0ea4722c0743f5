package pyfmt

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// UnescapeLiteral returns the str that Python's
//
//	eval("'''%s'''" % s, {"__builtins__": None}, {})
//
// evaluates to, which is what nodeset does to its -S/--separator value: s
// is the body of a triple-single-quoted string literal, so its backslash
// escapes are processed (\\ \' \" \a \b \f \n \r \t \v \ooo \xhh \uXXXX
// \UXXXXXXXX, \N{name} with the names and aliases of Unicode 14.0, as in
// Python 3.11, backslash-newline), unknown escapes are kept verbatim and
// CR and CRLF line ends become LF.
//
// When s contains three single quotes in a row, the literal ends early and
// the rest of the source is parsed too: implicit concatenation with further
// string literals (with an optional r, u or f prefix), whitespace, line
// continuations and comments are evaluated like Python does.
//
// Errors are *[Error] values:
//   - Kind "SyntaxError" where Python raises SyntaxError (a bad \x, \u, \U
//     or \N escape, an unterminated literal, a trailing backslash, stray
//     tokens...); nodeset reports these as "ERROR: invalid separator". The
//     message approximates Python's.
//   - Kind "UnicodeEncodeError" (surrogates, i.e. bytes that are not UTF-8,
//     in s) and "ValueError" (NUL in s), with Python's exact message.
//   - Kind KindUnsupported for expressions other than string
//     concatenation (operators, keywords, f-string replacement fields),
//     which Python may accept but this function does not evaluate.
func UnescapeLiteral(s string) (string, error) {
	r, err := UnescapeLiteralRunes(s)
	if err != nil {
		return "", err
	}
	return encodeLossy(r), nil
}

// UnescapeLiteralRunes is UnescapeLiteral returning code points, so that a
// surrogate produced by an escape such as \ud800 can be told apart from
// bytes of s that are not valid UTF-8 (see the package documentation).
func UnescapeLiteralRunes(s string) ([]rune, error) {
	src := make([]rune, 0, len(s)+6)
	src = append(src, '\'', '\'', '\'')
	src = append(src, Decode(s)...)
	src = append(src, '\'', '\'', '\'')
	if _, err := EncodeStrict(src); err != nil {
		return nil, err
	}
	for _, c := range src {
		if c == 0 {
			return nil, valueError("source code string cannot contain null bytes")
		}
	}
	return evalLiterals(translateNewlines(src))
}

func syntaxError(msg string) *Error { return &Error{Kind: "SyntaxError", Msg: msg} }

func unsupported(msg string) *Error { return &Error{Kind: KindUnsupported, Msg: msg} }

// translateNewlines converts CRLF and CR to LF, as the tokenizer does.
func translateNewlines(src []rune) []rune {
	out := src[:0:0]
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '\r' {
			out = append(out, '\n')
			if i+1 < len(src) && src[i+1] == '\n' {
				i++
			}
			continue
		}
		out = append(out, c)
	}
	return out
}

// keywords that may follow an expression in a valid one.
var infixKeywords = map[string]bool{
	"and": true, "or": true, "if": true, "in": true, "is": true, "not": true, "for": true, "async": true,
}

func isIdentStart(c rune) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

func isIdentChar(c rune) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

// evalLiterals tokenizes an eval() source made of string literals and
// returns their concatenated value.
func evalLiterals(src []rune) ([]rune, error) {
	var out []rune
	nlit := 0
	sawNewline := false
	pos := 0
	for pos < len(src) {
		c := src[pos]
		switch c {
		case ' ', '\t', '\f':
			pos++
			continue
		case '#':
			for pos < len(src) && src[pos] != '\n' {
				pos++
			}
			continue
		case '\\':
			if pos+1 >= len(src) {
				return nil, syntaxError("unexpected EOF while parsing")
			}
			if src[pos+1] == '\n' {
				pos += 2
				continue
			}
			return nil, syntaxError("unexpected character after line continuation character")
		case '\n':
			if nlit > 0 {
				sawNewline = true
			}
			pos++
			continue
		}

		// String literal, possibly prefixed.
		q := pos
		for q < len(src) && q-pos < 2 && isIdentStart(src[q]) && src[q] < 0x80 {
			q++
		}
		if q < len(src) && (src[q] == '\'' || src[q] == '"') && validPrefix(src[pos:q]) {
			if sawNewline {
				return nil, syntaxError("invalid syntax")
			}
			prefix := strings.ToLower(string(src[pos:q]))
			body, end, err := scanString(src, q)
			if err != nil {
				return nil, err
			}
			pos = end
			var val []rune
			switch {
			case strings.ContainsRune(prefix, 'b'):
				return nil, syntaxError("cannot mix bytes and nonbytes literals")
			case strings.ContainsRune(prefix, 'f') && containsBrace(body):
				return nil, unsupported("f-string replacement fields are not supported")
			case strings.ContainsRune(prefix, 'r'):
				val = body
			default:
				val, err = decodeEscapes(body)
				if err != nil {
					return nil, err
				}
			}
			out = append(out, val...)
			nlit++
			continue
		}

		if sawNewline {
			return nil, syntaxError("invalid syntax")
		}
		switch {
		case isIdentStart(c):
			end := pos
			for end < len(src) && isIdentChar(src[end]) {
				end++
			}
			if infixKeywords[string(src[pos:end])] {
				return nil, unsupported("expressions are not supported")
			}
			return nil, syntaxError("invalid syntax")
		case c >= '0' && c <= '9':
			return nil, syntaxError("invalid syntax")
		case c == '.':
			if pos+1 < len(src) && src[pos+1] >= '0' && src[pos+1] <= '9' {
				return nil, syntaxError("invalid syntax")
			}
			return nil, unsupported("expressions are not supported")
		case c == '=' || c == '!':
			if pos+1 < len(src) && src[pos+1] == '=' {
				return nil, unsupported("expressions are not supported")
			}
			return nil, syntaxError("invalid syntax")
		case c < 0x80 && strings.ContainsRune("+-*/%&|^<>,[(@", c):
			return nil, unsupported("expressions are not supported")
		}
		return nil, syntaxError("invalid syntax")
	}
	return out, nil
}

// validPrefix reports whether p is a valid string prefix (including none).
func validPrefix(p []rune) bool {
	switch strings.ToLower(string(p)) {
	case "", "r", "u", "f", "b", "br", "rb", "fr", "rf":
		return true
	}
	return false
}

func containsBrace(r []rune) bool {
	for _, c := range r {
		if c == '{' || c == '}' {
			return true
		}
	}
	return false
}

// scanString scans the string literal whose opening quote is at src[q] the
// way CPython's tokenizer does, returning its body and the index after it.
func scanString(src []rune, q int) (body []rune, end int, err error) {
	quote := src[q]
	quoteSize := 1
	pos := q + 1
	endQuoteSize := 0
	if pos < len(src) && src[pos] == quote {
		if pos+1 < len(src) && src[pos+1] == quote {
			quoteSize = 3
			pos += 2
		} else {
			return nil, pos + 1, nil // empty string
		}
	}
	start := pos
	for endQuoteSize != quoteSize {
		if pos >= len(src) {
			if quoteSize == 3 {
				return nil, 0, syntaxError("unterminated triple-quoted string literal")
			}
			return nil, 0, syntaxError("unterminated string literal")
		}
		c := src[pos]
		pos++
		if quoteSize == 1 && c == '\n' {
			return nil, 0, syntaxError("unterminated string literal")
		}
		if c == quote {
			endQuoteSize++
		} else {
			endQuoteSize = 0
			if c == '\\' {
				pos++
			}
		}
	}
	return src[start : pos-quoteSize], pos, nil
}

// decodeEscapes processes the backslash escapes of a non-raw string
// literal body like CPython 3.11's unicode-escape decoder.
func decodeEscapes(body []rune) ([]rune, error) {
	out := make([]rune, 0, len(body))
	for i := 0; i < len(body); {
		c := body[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		start := i
		i++
		if i >= len(body) {
			out = append(out, '\\')
			break
		}
		c = body[i]
		i++
		switch c {
		case '\n':
		case '\\', '\'', '"':
			out = append(out, c)
		case 'a', 'b', 'f', 'n', 'r', 't', 'v':
			out = append(out, rune(controlEscaped[strings.IndexRune(controlEscapes, c)]))
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := c - '0'
			for k := 0; k < 2 && i < len(body) && body[i] >= '0' && body[i] <= '7'; k++ {
				v = v<<3 + body[i] - '0'
				i++
			}
			out = append(out, v)
		case 'x', 'u', 'U':
			count, what := 2, `truncated \xXX escape`
			if c == 'u' {
				count, what = 4, `truncated \uXXXX escape`
			} else if c == 'U' {
				count, what = 8, `truncated \UXXXXXXXX escape`
			}
			var v rune
			for ; count > 0; count-- {
				if i >= len(body) {
					return nil, escapeError(start, i, what)
				}
				d := hexValue(body[i])
				if d < 0 {
					return nil, escapeError(start, i, what)
				}
				v = v<<4 | rune(d)
				i++
			}
			if v > 0x10FFFF || v < 0 {
				return nil, escapeError(start, i, "illegal Unicode character")
			}
			out = append(out, v)
		case 'N':
			if i >= len(body) || body[i] != '{' {
				return nil, escapeError(start, i, `malformed \N character escape`)
			}
			j := i + 1
			for j < len(body) && body[j] != '}' {
				j++
			}
			if j >= len(body) || j == i+1 {
				return nil, escapeError(start, j, `malformed \N character escape`)
			}
			// Non-ASCII characters cannot be part of a name (CPython sees
			// them as \UXXXXXXXX escapes at this point).
			name := body[i+1 : j]
			for _, n := range name {
				if n >= 0x80 {
					return nil, escapeError(start, j+1, "unknown Unicode character name")
				}
			}
			c, ok := lookupName(string(name))
			if !ok {
				return nil, escapeError(start, j+1, "unknown Unicode character name")
			}
			out = append(out, c)
			i = j + 1
		default:
			out = append(out, '\\', c)
		}
	}
	return out, nil
}

func escapeError(start, end int, what string) *Error {
	return syntaxError("(unicode error) 'unicodeescape' codec can't decode bytes in position " +
		strconv.Itoa(start) + "-" + strconv.Itoa(end-1) + ": " + what)
}

// controlEscapes are the letters of Python's one-letter escapes of control
// characters ("\n"), and controlEscaped those characters, in the same
// order.
const controlEscapes, controlEscaped = "abfnrtv", "\a\b\f\n\r\t\v"

// hexValue is c's value as a hexadecimal digit, -1 when it is none.
func hexValue(c rune) int {
	if c < utf8.RuneSelf {
		if d := digitValue(byte(c)); d < 16 {
			return d
		}
	}
	return -1
}
