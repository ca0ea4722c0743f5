package pyshlex

import (
	"reflect"
	"strings"
	"testing"
)

// The expected values come from Python 3.11's shlex.split.
func TestSplit(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		err  string
	}{
		{in: "a b", want: []string{"a", "b"}},
		{in: ` "a b" c`, want: []string{"a b", "c"}},
		{in: `'' x`, want: []string{"", "x"}},
		{in: `a\ b`, want: []string{"a b"}},
		{in: `"a\"b\c"`, want: []string{`a"b\c`}},
		{in: `'a\b'`, want: []string{`a\b`}},
		{in: `x"y z"w`, want: []string{"xy zw"}},
		{in: "", want: nil},
		{in: " \t\n", want: nil},
		{in: `""`, want: []string{""}},
		{in: `a"" b`, want: []string{"a", "b"}},
		{in: `"abc`, err: "No closing quotation"},
		{in: `a\`, err: "No escaped character"},
		// Bytes that are not UTF-8 are kept (Python keeps their surrogate
		// escapes, which encode back to the same bytes).
		{in: "\xfe a\xff\\\xe9\x80 \"\\\xfe\"", want: []string{"\xfe", "a\xff\xe9\x80", "\\\xfe"}},
	}
	for _, tc := range cases {
		got, err := Split(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("shlex(%q) err = %v, want %s", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("shlex(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// FuzzSplit: Split never panics, never returns more bytes than it was
// given, and splits plain words on white space.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{"a b", ` "a b" c`, `'' x`, `a\ b`, `"a\"b\c"`, `'a\b'`, `x"y z"w`, "",
		" \t\n", `""`, `a"" b`, `"abc`, `a\`, "$CFGDIR/groups.conf.d /etc/clustershell/groups.d",
		"-oStrictHostKeyChecking=no -oForwardAgent=no"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fields, err := Split(s)
		if err != nil {
			return
		}
		total := 0
		for _, w := range fields {
			total += len(w)
		}
		if total > len(s) {
			t.Fatalf("Split(%q) = %q: more bytes out than in", s, fields)
		}
		// Without quotes or backslashes, Split is a split on its four
		// white space characters.
		if !strings.ContainsAny(s, `\"'`) {
			want := strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(" \t\r\n", r) })
			if len(want) == 0 {
				want = nil
			}
			if !reflect.DeepEqual(fields, want) {
				t.Fatalf("Split(%q) = %q, want %q", s, fields, want)
			}
		}
	})
}
