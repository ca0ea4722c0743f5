package pyfmt_test

import (
	"math/big"
	"testing"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

// Expectations produced by /usr/bin/python3 (CPython 3.11.2); the first
// field of each case is the Python expression that was evaluated. The
// exhaustive comparison is in cases_test.go.
var formatTests = []struct {
	py     string // Python expression
	format string
	arg    any
	want   string
	kind   string // Python exception class, if any
	msg    string // str(exception)
}{
	{"'%s' % 'node1'", "%s", "node1", "node1", "", ""},
	{"'%s' % 42", "%s", 42, "42", "", ""},
	{"'node-%s' % 'x1'", "node-%s", "x1", "node-x1", "", ""},
	{"'%r' % \"it's\"", "%r", "it's", "\"it's\"", "", ""},
	{"'%r' % 'say \"hi\"'", "%r", "say \"hi\"", "'say \"hi\"'", "", ""},
	{"'%r' % 'tab\\t\\x01é\\u2028'", "%r", "tab\t\x01é\u2028", "'tab\\t\\x01é\\u2028'", "", ""},
	{"'%a' % 'é日😀'", "%a", "é日😀", "'\\xe9\\u65e5\\U0001f600'", "", ""},
	{"'%d' % 42", "%d", 42, "42", "", ""},
	{"'%i' % -7", "%i", -7, "-7", "", ""},
	{"'%u' % 3", "%u", 3, "3", "", ""},
	{"'%5d' % 42", "%5d", 42, "   42", "", ""},
	{"'%-5d|' % 42", "%-5d|", 42, "42   |", "", ""},
	{"'%05d' % -42", "%05d", -42, "-0042", "", ""},
	{"'%+d' % 5", "%+d", 5, "+5", "", ""},
	{"'% d' % 5", "% d", 5, " 5", "", ""},
	{"'%.3d' % 7", "%.3d", 7, "007", "", ""},
	{"'%08.3d' % 7", "%08.3d", 7, "00000007", "", ""},
	{"'%x' % 255", "%x", 255, "ff", "", ""},
	{"'%X' % 255", "%X", 255, "FF", "", ""},
	{"'%#x' % 255", "%#x", 255, "0xff", "", ""},
	{"'%#X' % 255", "%#X", 255, "0XFF", "", ""},
	{"'%#o' % 8", "%#o", 8, "0o10", "", ""},
	{"'%#08x' % 255", "%#08x", 255, "0x0000ff", "", ""},
	{"'%o' % -8", "%o", -8, "-10", "", ""},
	{"'%e' % 12345", "%e", 12345, "1.234500e+04", "", ""},
	{"'%E' % 0", "%E", 0, "0.000000E+00", "", ""},
	{"'%.2f' % 3", "%.2f", 3, "3.00", "", ""},
	{"'%F' % 7", "%F", 7, "7.000000", "", ""},
	{"'%g' % 1234567", "%g", 1234567, "1.23457e+06", "", ""},
	{"'%G' % 1e-10", "%G", 1e-10, "1E-10", "", ""},
	{"'%#g' % 42", "%#g", 42, "42.0000", "", ""},
	{"'%#.0f' % 1", "%#.0f", 1, "1.", "", ""},
	{"'%10.4f|' % 2", "%10.4f|", 2, "    2.0000|", "", ""},
	{"'%c' % 65", "%c", 65, "A", "", ""},
	{"'%c' % 'é'", "%c", "é", "é", "", ""},
	{"'%%' % None", "%%", nil, "", "TypeError", "not all arguments converted during string formatting"},
	{"'%5s|' % 'ab'", "%5s|", "ab", "   ab|", "", ""},
	{"'%-5s|' % 'ab'", "%-5s|", "ab", "ab   |", "", ""},
	{"'%.1s' % 'abc'", "%.1s", "abc", "a", "", ""},
	{"'%05s' % 'ab'", "%05s", "ab", "   ab", "", ""},
	{"'[%s]' % ''", "[%s]", "", "[]", "", ""},
	{"'%s%%' % '50'", "%s%%", "50", "50%", "", ""},
	{"'%ls' % 'x'", "%ls", "x", "x", "", ""},
	{"'%hd' % 5", "%hd", 5, "5", "", ""},
	{"'%s %s' % 'a'", "%s %s", "a", "", "TypeError", "not enough arguments for format string"},
	{"'foo' % 'a'", "foo", "a", "", "TypeError", "not all arguments converted during string formatting"},
	{"'foo' % 3", "foo", 3, "", "TypeError", "not all arguments converted during string formatting"},
	{"'%d' % 'a'", "%d", "a", "", "TypeError", "%d format: a real number is required, not str"},
	{"'%x' % 'a'", "%x", "a", "", "TypeError", "%x format: an integer is required, not str"},
	{"'%x' % 1.5", "%x", 1.5, "", "TypeError", "%x format: an integer is required, not float"},
	{"'%e' % 'a'", "%e", "a", "", "TypeError", "must be real number, not str"},
	{"'%c' % 'ab'", "%c", "ab", "", "TypeError", "%c requires int or char"},
	{"'%c' % 1114112", "%c", 1114112, "", "OverflowError", "%c arg not in range(0x110000)"},
	{"'%c' % -1", "%c", -1, "", "OverflowError", "%c arg not in range(0x110000)"},
	{"'%z' % 'a'", "%z", "a", "", "ValueError", "unsupported format character 'z' (0x7a) at index 1"},
	{"'%5z' % 'a'", "%5z", "a", "", "ValueError", "unsupported format character 'z' (0x7a) at index 2"},
	{"'%\\x01' % 'a'", "%\x01", "a", "", "ValueError", "unsupported format character '?' (0x1) at index 1"},
	{"'%é' % 'a'", "%é", "a", "", "ValueError", "unsupported format character '?' (0xe9) at index 1"},
	{"'%' % 'a'", "%", "a", "", "ValueError", "incomplete format"},
	{"'abc%' % 'a'", "abc%", "a", "", "ValueError", "incomplete format"},
	{"'%5' % 'a'", "%5", "a", "", "ValueError", "incomplete format"},
	{"'%.' % 'a'", "%.", "a", "", "ValueError", "incomplete format"},
	{"'%(key)s' % 'a'", "%(key)s", "a", "", "TypeError", "format requires a mapping"},
	{"'%*d' % 5", "%*d", 5, "", "TypeError", "not enough arguments for format string"},
	{"'%.*f' % 2", "%.*f", 2, "", "TypeError", "not enough arguments for format string"},
	{"'%*s' % 'a'", "%*s", "a", "", "TypeError", "* wants int"},
	{"'%99999999999999999999d' % 1", "%99999999999999999999d", 1, "", "ValueError", "width too big"},
	{"'%.99999999999d' % 1", "%.99999999999d", 1, "", "ValueError", "precision too big"},
	{"'%5%' % 'a'", "%5%", "a", "", "ValueError", "unsupported format character '%' (0x25) at index 2"},
}

func TestFormat(t *testing.T) {
	for _, tt := range formatTests {
		got, err := pyfmt.Format(tt.format, tt.arg)
		if tt.kind == "" {
			if err != nil || got != tt.want {
				t.Errorf("%s: got %q, %v; want %q", tt.py, got, err, tt.want)
			}
			continue
		}
		e, ok := err.(*pyfmt.Error)
		if !ok || e.Kind != tt.kind || e.Msg != tt.msg {
			t.Errorf("%s: got %q, %#v; want %s: %s", tt.py, got, err, tt.kind, tt.msg)
		}
	}
}

// TestFormatNodeset covers what nodeset does with -O/--output-format:
// fmt % nodename, fmt % len(nodeset), and fmt % rangeset (a mapping).
func TestFormatNodeset(t *testing.T) {
	big30, _ := new(big.Int).SetString("1000000000000000000000000000000", 10)
	tests := []struct {
		py   string
		fmt  string
		arg  any
		want string
		err  string
	}{
		// python3 -c "print('%s-ib' % 'node1')"
		{"'%s-ib' % 'node1'", "%s-ib", "node1", "node1-ib", ""},
		// nodeset -c -O '%05d' a[1-3]  ->  '%05d' % 3
		{"'%05d' % 3", "%05d", 3, "00003", ""},
		{"'%d' % 10**30", "%d", big30, "1000000000000000000000000000000", ""},
		{"'%x' % 10**30", "%x", big30, "c9f2c9cd04674edea40000000", ""},
		{"'%e' % 10**30", "%e", big30, "1.000000e+30", ""},
		{"'%s' % 3", "%s", uint8(3), "3", ""},
		{"'%s' % True", "%s", true, "True", ""},
		{"'%d' % True", "%d", true, "1", ""},
		{"'%s' % None", "%s", nil, "None", ""},
		{"'%s' % [1, 'a']", "%s", []any{1, "a"}, "[1, 'a']", ""},
		{"'%r' % ['a']", "%r", []string{"a"}, "['a']", ""},
		// RangeSet defines __getitem__, so "not all arguments converted"
		// is never raised: nodeset -R -f -O foo 1-3 prints "foo".
		{"'foo' % RangeSet('1-3')", "foo", obj{}, "foo", ""},
		{"'%s' % RangeSet(...)", "<%s>", obj{}, "<OBJ>", ""},
		{"'%r' % RangeSet(...)", "%r", obj{}, "Obj<é>", ""},
		{"'%a' % RangeSet(...)", "%a", obj{}, `Obj<\xe9>`, ""},
		{"'%(a)s' % RangeSet(...)", "%(a)s", obj{}, "", "Obj indices must be integers"},
		{"'%d' % RangeSet(...)", "%d", obj{}, "", "%d format: a real number is required, not Obj"},
		{"'foo' % Plain()", "foo", plain{}, "", "not all arguments converted during string formatting"},
		// bytes that are not UTF-8 count as one code point each
		{"'%3s|' % '\\udcff'", "%3s|", "\xff", "  \xff|", ""},
		{"'%r' % '\\udcff'", "%r", "\xff", `'\udcff'`, ""},
		{"'%.1s' % 'é'", "%.1s", "éa", "é", ""},
		{"'%c' % 0xdcff", "%c", 0xdcff, "\xff", ""},
	}
	for _, tt := range tests {
		got, err := pyfmt.Format(tt.fmt, tt.arg)
		if tt.err == "" {
			if err != nil || got != tt.want {
				t.Errorf("%s: got %q, %v; want %q", tt.py, got, err, tt.want)
			}
		} else if err == nil || err.Error() != tt.err {
			t.Errorf("%s: got %q, %v; want error %q", tt.py, got, err, tt.err)
		}
	}
}

func TestFormatRunesSurrogate(t *testing.T) {
	// '%c' % 0xd800 is a lone surrogate that only FormatRunes preserves.
	got, err := pyfmt.FormatRunes([]rune("<%c>"), 0xd800)
	if err != nil || len(got) != 3 || got[1] != 0xd800 {
		t.Fatalf("got %U, %v", got, err)
	}
	if _, err := pyfmt.Encode(got); err == nil ||
		err.Error() != `'utf-8' codec can't encode character '\ud800' in position 1: surrogates not allowed` {
		t.Fatalf("Encode: %v", err)
	}
}
