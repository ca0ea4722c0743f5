package pyfmt

import (
	"encoding/hex"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/fleetsh/fleetsh/internal/testreq"
)

// The expected values of the tables in this file were printed by Python
// 3.11 (str.splitlines, str.split, str.strip, repr of bytes).

func TestSplitlines(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", []string{}},
		{"a", []string{"a"}},
		{"a\nb", []string{"a", "b"}},
		{"a\r\nb\rc\n", []string{"a", "b", "c"}},
		{"\n\n", []string{"", ""}},
		{"x\x0by\x0cz\x1cw\x1dv\x1eu\x1ft", []string{"x", "y", "z", "w", "v", "u\x1ft"}},
		{"a\u0085b\u2028c\u2029d‧e", []string{"a", "b", "c", "d‧e"}},
		{"\r", []string{""}},
		{"\r\n\r", []string{"", ""}},
		{"tail\n", []string{"tail"}},
		{"é\nà", []string{"é", "à"}},
		{"a\x0b", []string{"a"}},
	} {
		if got := Splitlines(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("Splitlines(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestSplitlinesAgainstPython compares Splitlines with Python's
// str.splitlines on random mixes of line breaks, near misses and invalid
// UTF-8 (decoded and encoded back with surrogateescape), including every
// byte at every offset of the eight-byte scan.
func TestSplitlinesAgainstPython(t *testing.T) {
	py := testreq.LookPath(t, testreq.Python3, "python3")
	pieces := []string{"node[1-9]", "a", "\n", "\r", "\r\n", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x1f", "\t", " ",
		"\u0085", "\u2028", "\u2029", "\u2027", "é", "→", "\xc2", "\xe2\x80", "\xe2", "\x80", "\xff", "😀", "0123456789abcdef"}
	r := rand.New(rand.NewPCG(1, 3))
	var inputs []string
	for range 3000 {
		var sb strings.Builder
		for k := r.IntN(30); k > 0; k-- {
			sb.WriteString(pieces[r.IntN(len(pieces))])
		}
		inputs = append(inputs, sb.String())
	}
	for c := range 256 {
		for pos := range 17 {
			inputs = append(inputs, strings.Repeat("x", pos)+string([]byte{byte(c)})+strings.Repeat("y", 16-pos)+"\x85\xa8")
		}
	}
	var stdin strings.Builder
	for _, s := range inputs {
		stdin.WriteString(hex.EncodeToString([]byte(s)) + "\n")
	}
	cmd := exec.Command(py, "-c", `
import sys
for line in sys.stdin:
    s = bytes.fromhex(line.strip()).decode("utf-8", "surrogateescape")
    print(" ".join(l.encode("utf-8", "surrogateescape").hex() or "-" for l in s.splitlines()))
`)
	cmd.Stdin = strings.NewReader(stdin.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(inputs) {
		t.Fatalf("python3 printed %d lines for %d inputs", len(lines), len(inputs))
	}
	for i, s := range inputs {
		var want []string
		for _, h := range strings.Fields(lines[i]) {
			if h == "-" {
				h = ""
			}
			b, err := hex.DecodeString(h)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, string(b))
		}
		if got := Splitlines(s); !slices.Equal(got, want) {
			t.Fatalf("Splitlines(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestFields(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{" a  b\t", []string{"a", "b"}},
		{"a\x1cb\u00a0c\u3000d\u200be", []string{"a", "b", "c", "d\u200be"}},
		{"", nil},
		{" \n ", nil},
		{"x", []string{"x"}},
	} {
		if got := slices.Collect(Fields(tc.in)); !slices.Equal(got, tc.want) {
			t.Errorf("Fields(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestStrip(t *testing.T) {
	for _, tc := range []struct{ in, strip, lstrip, rstrip string }{
		{" \t a b \x1f", "a b", "a b \x1f", " \t a b"},
		{"\u2003x\u0085", "x", "x\u0085", "\u2003x"},
		{"x", "x", "x", "x"},
		{"", "", "", ""},
		{"\x1c\x1d", "", "", ""},
	} {
		if got := Strip(tc.in); got != tc.strip {
			t.Errorf("Strip(%q) = %q, want %q", tc.in, got, tc.strip)
		}
		if got := LStrip(tc.in); got != tc.lstrip {
			t.Errorf("LStrip(%q) = %q, want %q", tc.in, got, tc.lstrip)
		}
		if got := RStrip(tc.in); got != tc.rstrip {
			t.Errorf("RStrip(%q) = %q, want %q", tc.in, got, tc.rstrip)
		}
	}
}

// TestIsSpace: Python's white space (the generated table) is Go's plus the
// four ASCII separators U+001C..U+001F, for every code point.
func TestIsSpace(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if want := unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f); IsSpace(r) != want {
			t.Fatalf("IsSpace(%U) = %v, want %v", r, IsSpace(r), want)
		}
	}
}

func TestReprBytes(t *testing.T) {
	for in, want := range map[string]string{
		"ok":                   `b'ok'`,
		"it's":                 `b"it's"`,
		`say "hi"`:             `b'say "hi"'`,
		`both ' "`:             `b'both \' "'`,
		"tab\there\\x":         `b'tab\there\\x'`,
		"\x00\x7f\xff\xc3\xa9": `b'\x00\x7f\xff\xc3\xa9'`,
		"":                     `b''`,
		"cr\r":                 `b'cr\r'`,
	} {
		if got := ReprBytes([]byte(in)); got != want {
			t.Errorf("ReprBytes(%q) = %s, want %s", in, got, want)
		}
	}
}
