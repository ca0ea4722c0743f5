package pyfmt

import "testing"

// TestDecodeUTF8 checks the position and reason of each kind of invalid
// sequence against CPython 3.11's b.decode() (the table was printed by it).
func TestDecodeUTF8(t *testing.T) {
	cases := []struct{ in, want string }{
		{"ok", ``},
		{"\xff", `'utf-8' codec can't decode byte 0xff in position 0: invalid start byte`},
		{"ab\xff", `'utf-8' codec can't decode byte 0xff in position 2: invalid start byte`},
		{"\x80", `'utf-8' codec can't decode byte 0x80 in position 0: invalid start byte`},
		{"\xc0\x80", `'utf-8' codec can't decode byte 0xc0 in position 0: invalid start byte`},
		{"\xc3", `'utf-8' codec can't decode byte 0xc3 in position 0: unexpected end of data`},
		{"\xc3(", `'utf-8' codec can't decode byte 0xc3 in position 0: invalid continuation byte`},
		{"a\xc3", `'utf-8' codec can't decode byte 0xc3 in position 1: unexpected end of data`},
		{"\xe2\x82", `'utf-8' codec can't decode bytes in position 0-1: unexpected end of data`},
		{"\xe2\x82(", `'utf-8' codec can't decode bytes in position 0-1: invalid continuation byte`},
		{"\xe2(\xa1", `'utf-8' codec can't decode byte 0xe2 in position 0: invalid continuation byte`},
		{"\xe0\x80\x80", `'utf-8' codec can't decode byte 0xe0 in position 0: invalid continuation byte`},
		{"\xe0\xa0", `'utf-8' codec can't decode bytes in position 0-1: unexpected end of data`},
		{"\xe0\x9f", `'utf-8' codec can't decode byte 0xe0 in position 0: invalid continuation byte`},
		{"\xed\xa0\x80", `'utf-8' codec can't decode byte 0xed in position 0: invalid continuation byte`},
		{"\xed\x9f\xbf", ``},
		{"\xf0(\x8c\xbc", `'utf-8' codec can't decode byte 0xf0 in position 0: invalid continuation byte`},
		{"\xf0\x90(\xbc", `'utf-8' codec can't decode bytes in position 0-1: invalid continuation byte`},
		{"\xf0\x90\x8c(", `'utf-8' codec can't decode bytes in position 0-2: invalid continuation byte`},
		{"\xf0\x90\x8c", `'utf-8' codec can't decode bytes in position 0-2: unexpected end of data`},
		{"\xf0\x90(", `'utf-8' codec can't decode bytes in position 0-1: invalid continuation byte`},
		{"\xf0\x8f", `'utf-8' codec can't decode byte 0xf0 in position 0: invalid continuation byte`},
		{"\xf4\x90\x80\x80", `'utf-8' codec can't decode byte 0xf4 in position 0: invalid continuation byte`},
		{"\xf5\x80", `'utf-8' codec can't decode byte 0xf5 in position 0: invalid start byte`},
		{"\xf0\x9f\x98\x80\xff", `'utf-8' codec can't decode byte 0xff in position 4: invalid start byte`},
		{"x\xe2\x82\xac\xe2", `'utf-8' codec can't decode byte 0xe2 in position 4: unexpected end of data`},
		{"\xf4\x8f", `'utf-8' codec can't decode bytes in position 0-1: unexpected end of data`},
		{"\xe2\x82\xac", ``},
	}
	for _, c := range cases {
		err := DecodeUTF8([]byte(c.in))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("DecodeUTF8(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
