package pyfmt_test

import (
	"testing"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

func TestDecodeEncode(t *testing.T) {
	// b'a\xffé\xed\xa0\x80'.decode('utf-8', 'surrogateescape')
	//   == 'a\udcffé\udced\udca0\udc80'
	in := "a\xffé\xed\xa0\x80"
	want := []rune{'a', 0xdcff, 'é', 0xdced, 0xdca0, 0xdc80}
	got := pyfmt.Decode(in)
	if string(got) != string(want) || len(got) != len(want) {
		t.Fatalf("Decode(%q) = %U, want %U", in, got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Decode(%q) = %U, want %U", in, got, want)
		}
	}
	back, err := pyfmt.Encode(got)
	if err != nil || back != in {
		t.Fatalf("Encode(%U) = %q, %v", got, back, err)
	}
	// 'a\ud800\ud801b'.encode('utf-8', 'surrogateescape')
	_, err = pyfmt.Encode([]rune{'a', 0xd800, 0xd801, 'b'})
	if err == nil || err.Error() != "'utf-8' codec can't encode characters in position 1-2: surrogates not allowed" {
		t.Fatalf("Encode: %v", err)
	}
	// 'a\udc80'.encode('utf-8') (strict)
	_, err = pyfmt.EncodeStrict([]rune{'a', 0xdc80})
	if err == nil || err.Error() != "'utf-8' codec can't encode character '\\udc80' in position 1: surrogates not allowed" {
		t.Fatalf("EncodeStrict: %v", err)
	}
}

func TestBackslashReplace(t *testing.T) {
	// 'x\udcffé'.encode('utf-8', 'backslashreplace') == b'x\\udcff\xc3\xa9'
	if got := pyfmt.BackslashReplace("x\xffé"); got != `x\udcffé` {
		t.Fatalf("got %q", got)
	}
}

func TestRepr(t *testing.T) {
	tests := []struct {
		py   string
		v    any
		want string
	}{
		{"repr(\"it's\")", "it's", `"it's"`},
		{`repr('a"b')`, `a"b`, `'a"b'`},
		{`repr('\'"')`, `'"`, `'\'"'`},
		{"repr('\\udcff')", "\xff", `'\udcff'`},
		{"repr(None)", nil, "None"},
		{"repr(False)", false, "False"},
		{"repr(-12)", int64(-12), "-12"},
		{"repr(1e16)", 1e16, "1e+16"},
		{"repr(0.1)", 0.1, "0.1"},
		{"repr(1e-05)", 1e-5, "1e-05"},
		{"repr(['a', 1, None])", []any{"a", 1, nil}, "['a', 1, None]"},
		{"ascii('é')", nil, ""},
	}
	for _, tt := range tests[:len(tests)-1] {
		if got := pyfmt.Repr(tt.v); got != tt.want {
			t.Errorf("%s: got %s want %s", tt.py, got, tt.want)
		}
	}
	if got := pyfmt.ASCII("é"); got != `'\xe9'` {
		t.Errorf("ascii('é'): got %s", got)
	}
	if got := pyfmt.Str(2.5); got != "2.5" {
		t.Errorf("str(2.5): got %s", got)
	}
}

func TestParseIntFloat(t *testing.T) {
	// int(' 0x_1f ', 16) == 31; int('١٢', 10) == 12; float('1_0.5') == 10.5
	if n, err := pyfmt.ParseInt(" 0x_1f ", 16); err != nil || n.Int64() != 31 {
		t.Errorf("int(' 0x_1f ', 16): %v %v", n, err)
	}
	if n, err := pyfmt.ParseInt("١٢", 10); err != nil || n.Int64() != 12 {
		t.Errorf("int('١٢'): %v %v", n, err)
	}
	if f, err := pyfmt.ParseFloat("1_0.5"); err != nil || f != 10.5 {
		t.Errorf("float('1_0.5'): %v %v", f, err)
	}
	// int('abc') -> ValueError: invalid literal for int() with base 10: 'abc'
	if _, err := pyfmt.ParseInt("abc", 10); err == nil || err.Error() != "invalid literal for int() with base 10: 'abc'" {
		t.Errorf("int('abc'): %v", err)
	}
	// float('x') -> ValueError: could not convert string to float: 'x'
	if _, err := pyfmt.ParseFloat("x"); err == nil || err.Error() != "could not convert string to float: 'x'" {
		t.Errorf("float('x'): %v", err)
	}
}
