package csub

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzClubakLine checks clubak's input line parser on any bytes: it never
// panics, a key it returns is the non-empty, stripped, UTF-8 text before
// the first separator and the content all after it, and an error is one
// of clubak's messages, printable as UTF-8. Crashers found are kept in
// testdata/fuzz/FuzzClubakLine.
func FuzzClubakLine(f *testing.F) {
	for _, seed := range []struct{ line, sep string }{
		{"foo: bar", ":"}, {"foo space1: bar", ":"}, {": bar", ":"}, {"abc", ":"}, {"foo: bar", ""},
		{"\xff: bar", ":"}, {"  a\xe2\x82: bar", ":"}, {": \xff", ":"}, {"n1=>x=>y", "=>"}, {" \t\v\f: x", ":"},
		{"foo[1-3]: a: b", ": "}, {"a\x00b: c", ":"},
	} {
		f.Add([]byte(seed.line), []byte(seed.sep))
	}
	f.Fuzz(func(t *testing.T, line, sep []byte) {
		key, content, err := parseClubakLine(line, sep)
		if err != nil {
			msg := err.Error()
			if !utf8.ValidString(msg) {
				t.Fatalf("error %q is not UTF-8", msg)
			}
			if !strings.HasPrefix(msg, "empty separator: ") && !strings.HasPrefix(msg, "not enough values to unpack") &&
				!strings.HasPrefix(msg, "no node found: ") && !strings.HasPrefix(msg, "'utf-8' codec can't decode") {
				t.Fatalf("unexpected error %q", msg)
			}
			if key != nil || content != nil {
				t.Fatalf("error %q with a key %q or content %q", msg, key, content)
			}
			return
		}
		i := bytes.Index(line, sep)
		switch {
		case len(sep) == 0 || i < 0:
			t.Fatalf("no error for %q split at %q", line, sep)
		case len(key) == 0 || !utf8.Valid(key):
			t.Fatalf("bad key %q", key)
		case !bytes.Equal(key, bytes.Trim(line[:i], pyWhitespace)):
			t.Fatalf("key %q of %q at %q", key, line, sep)
		case !bytes.Equal(content, line[i+len(sep):]):
			t.Fatalf("content %q of %q at %q", content, line, sep)
		}
	})
}
