package pyfmt_test

import (
	"testing"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

// Expectations produced by /usr/bin/python3 (CPython 3.11.2), with the
// expression nodeset evaluates for its -S/--separator value; the first
// field is that expression. For SyntaxError, only the exception class is
// checked (nodeset prints "ERROR: invalid separator" for all of them).
var literalTests = []struct {
	py   string
	in   string
	want string
	kind string
	msg  string
}{
	{"eval(\"'''%s'''\" % ' ', {'__builtins__': None}, {})", " ", " ", "", ""},
	{"eval(\"'''%s'''\" % ':', {'__builtins__': None}, {})", ":", ":", "", ""},
	{"eval(\"'''%s'''\" % '', {'__builtins__': None}, {})", "", "", "", ""},
	{"eval(\"'''%s'''\" % '\\\\t', {'__builtins__': None}, {})", "\\t", "\t", "", ""},
	{"eval(\"'''%s'''\" % '\\\\n', {'__builtins__': None}, {})", "\\n", "\n", "", ""},
	{"eval(\"'''%s'''\" % '\\\\\\\\', {'__builtins__': None}, {})", "\\\\", "\\", "", ""},
	{"eval(\"'''%s'''\" % \"\\\\'\", {'__builtins__': None}, {})", "\\'", "'", "", ""},
	{"eval(\"'''%s'''\" % '\\\\\"', {'__builtins__': None}, {})", "\\\"", "\"", "", ""},
	{"eval(\"'''%s'''\" % '\\\\a\\\\b\\\\f\\\\v\\\\r', {'__builtins__': None}, {})", "\\a\\b\\f\\v\\r", "\x07\x08\x0c\x0b\r", "", ""},
	{"eval(\"'''%s'''\" % '\\\\0', {'__builtins__': None}, {})", "\\0", "\x00", "", ""},
	{"eval(\"'''%s'''\" % '\\\\101', {'__builtins__': None}, {})", "\\101", "A", "", ""},
	{"eval(\"'''%s'''\" % '\\\\777', {'__builtins__': None}, {})", "\\777", "ǿ", "", ""},
	{"eval(\"'''%s'''\" % '\\\\x41', {'__builtins__': None}, {})", "\\x41", "A", "", ""},
	{"eval(\"'''%s'''\" % '\\\\u00e9', {'__builtins__': None}, {})", "\\u00e9", "é", "", ""},
	{"eval(\"'''%s'''\" % '\\\\U0001F600', {'__builtins__': None}, {})", "\\U0001F600", "😀", "", ""},
	{"eval(\"'''%s'''\" % '\\\\z', {'__builtins__': None}, {})", "\\z", "\\z", "", ""},
	{"eval(\"'''%s'''\" % '\\\\é', {'__builtins__': None}, {})", "\\é", "\\é", "", ""},
	{"eval(\"'''%s'''\" % 'a\\\\\\nb', {'__builtins__': None}, {})", "a\\\nb", "ab", "", ""},
	{"eval(\"'''%s'''\" % 'a\\rb', {'__builtins__': None}, {})", "a\rb", "a\nb", "", ""},
	{"eval(\"'''%s'''\" % 'a\\r\\nb', {'__builtins__': None}, {})", "a\r\nb", "a\nb", "", ""},
	{"eval(\"'''%s'''\" % '\"', {'__builtins__': None}, {})", "\"", "\"", "", ""},
	{"eval(\"'''%s'''\" % '\"\"\"', {'__builtins__': None}, {})", "\"\"\"", "\"\"\"", "", ""},
	{"eval(\"'''%s'''\" % \"a''' '''b\", {'__builtins__': None}, {})", "a''' '''b", "ab", "", ""},
	{"eval(\"'''%s'''\" % \"a'''#\", {'__builtins__': None}, {})", "a'''#", "a", "", ""},
	{"eval(\"'''%s'''\" % \"a''' r'''\\\\d\", {'__builtins__': None}, {})", "a''' r'''\\d", "a\\d", "", ""},
	{"eval(\"'''%s'''\" % '\\\\udc80', {'__builtins__': None}, {})", "\\udc80", "\x80", "", ""},
	{"eval(\"'''%s'''\" % '\\\\ud800', {'__builtins__': None}, {})", "\\ud800", "\xed\xa0\x80" /* WTF-8 of U+D800 */, "", ""},
	{"eval(\"'''%s'''\" % '\\\\x4', {'__builtins__': None}, {})", "\\x4", "", "SyntaxError", ""},
	{"eval(\"'''%s'''\" % '\\\\xg0', {'__builtins__': None}, {})", "\\xg0", "", "SyntaxError", ""},
	{"eval(\"'''%s'''\" % '\\\\u12', {'__builtins__': None}, {})", "\\u12", "", "SyntaxError", ""},
	{"eval(\"'''%s'''\" % '\\\\U00110000', {'__builtins__': None}, {})", "\\U00110000", "", "SyntaxError", ""},
	{"eval(\"'''%s'''\" % '\\\\', {'__builtins__': None}, {})", "\\", "", "SyntaxError", ""},
	{"eval(\"'''%s'''\" % \"'\", {'__builtins__': None}, {})", "'", "", "SyntaxError", ""},
	{"eval(\"'''%s'''\" % \"a'\", {'__builtins__': None}, {})", "a'", "", "SyntaxError", ""},
	{"eval(\"'''%s'''\" % \"a'''\", {'__builtins__': None}, {})", "a'''", "", "SyntaxError", ""},
	{"eval(\"'''%s'''\" % \"a'''b\", {'__builtins__': None}, {})", "a'''b", "", "SyntaxError", ""},
	{"eval(\"'''%s'''\" % \"a'''\\n'''b\", {'__builtins__': None}, {})", "a'''\n'''b", "", "SyntaxError", ""},
	{"eval(\"'''%s'''\" % \"a''' b'''x\", {'__builtins__': None}, {})", "a''' b'''x", "", "SyntaxError", ""},
	{"eval(\"'''%s'''\" % \"a'''$\", {'__builtins__': None}, {})", "a'''$", "", "SyntaxError", ""},
	{"eval(\"'''%s'''\" % '\\\\N{BULLET}', {'__builtins__': None}, {})", "\\N{BULLET}", "\u2022", "", ""},
	{"eval(\"'''%s'''\" % '\\\\N{line feed}', {'__builtins__': None}, {})", "\\N{line feed}", "\n", "", ""},
	{"eval(\"'''%s'''\" % '\\\\N{NOT A NAME}', {'__builtins__': None}, {})", "\\N{NOT A NAME}", "", "SyntaxError", ""},
	{"eval(\"'''%s'''\" % '\\\\N{}', {'__builtins__': None}, {})", "\\N{}", "", "SyntaxError", ""},
	{"eval(\"'''%s'''\" % '\\\\N', {'__builtins__': None}, {})", "\\N", "", "SyntaxError", ""},
	{"eval(\"'''%s'''\" % 'x\\udcff', {'__builtins__': None}, {})", "x\xff", "", "UnicodeEncodeError", "'utf-8' codec can't encode character '\\udcff' in position 4: surrogates not allowed"},
	{"eval(\"'''%s'''\" % '\\udcff\\udcfe', {'__builtins__': None}, {})", "\xff\xfe", "", "UnicodeEncodeError", "'utf-8' codec can't encode characters in position 3-4: surrogates not allowed"},
	{"eval(\"'''%s'''\" % 'a\\x00b', {'__builtins__': None}, {})", "a\x00b", "", "ValueError", "source code string cannot contain null bytes"},
}

func TestUnescapeLiteral(t *testing.T) {
	for _, tt := range literalTests {
		got, err := pyfmt.UnescapeLiteral(tt.in)
		if tt.kind == "" {
			if err != nil || got != tt.want {
				t.Errorf("%s: got %q, %v; want %q", tt.py, got, err, tt.want)
			}
			continue
		}
		e, ok := err.(*pyfmt.Error)
		if !ok || e.Kind != tt.kind || (tt.msg != "" && e.Msg != tt.msg) {
			t.Errorf("%s: got %q, %#v; want %s: %s", tt.py, got, err, tt.kind, tt.msg)
		}
	}
}

func TestUnescapeLiteralUnsupported(t *testing.T) {
	// Python evaluates these (to 'a1' and ''), this package does not.
	for _, in := range []string{"a''' f'''{1}", "'''+'''"} {
		_, err := pyfmt.UnescapeLiteral(in)
		if e, ok := err.(*pyfmt.Error); !ok || e.Kind != pyfmt.KindUnsupported {
			t.Errorf("%q: got %v, want an Unsupported error", in, err)
		}
	}
}

func TestUnescapeLiteralRunes(t *testing.T) {
	// eval("'''%s'''" % '\\ud800\\udc80') == '\ud800\udc80': two lone
	// surrogates, the second one standing for the byte 0x80.
	got, err := pyfmt.UnescapeLiteralRunes(`\ud800\udc80`)
	if err != nil || len(got) != 2 || got[0] != 0xd800 || got[1] != 0xdc80 {
		t.Fatalf("got %U, %v", got, err)
	}
}
