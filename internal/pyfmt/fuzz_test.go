package pyfmt_test

import (
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

// hugeField reports whether format asks for a width or precision so large
// that formatting would allocate a lot of memory (as Python would).
func hugeField(format string) bool {
	digits := 0
	for i := 0; i < len(format); i++ {
		if format[i] >= '0' && format[i] <= '9' {
			digits++
			if digits >= 6 {
				return true
			}
		} else {
			digits = 0
		}
	}
	return false
}

func FuzzFormat(f *testing.F) {
	for _, tt := range formatTests {
		f.Add(tt.format, uint8(0), "node1", int64(42), 2.5)
	}
	f.Add("%s", uint8(0), "\xff", int64(0), 0.0)
	f.Add("%(a)s %%", uint8(5), "", int64(0), 0.0)
	f.Add("%-#0+ 12.5e", uint8(2), "", int64(0), math.Inf(-1))
	f.Fuzz(func(t *testing.T, format string, kind uint8, s string, n int64, x float64) {
		if hugeField(format) {
			return
		}
		var arg any
		switch kind % 7 {
		case 0:
			arg = s
		case 1:
			arg = n
		case 2:
			arg = x
		case 3:
			arg = n%2 == 0
		case 4:
			arg = nil
		case 5:
			arg = obj{}
		case 6:
			arg = []any{s, n}
		}
		if strings.Contains(format, "*") && (n > 1e5 || n < -1e5) {
			return
		}
		got, err := pyfmt.Format(format, arg)
		if err != nil {
			if _, ok := err.(*pyfmt.Error); !ok {
				t.Fatalf("Format(%q, %#v): error %T %v is not a *pyfmt.Error", format, arg, err, err)
			}
			return
		}
		// Without any '%', the result is the format itself (or an error).
		if !strings.Contains(format, "%") && got != format {
			t.Fatalf("Format(%q, %#v) = %q", format, arg, got)
		}
	})
}

func FuzzUnescapeLiteral(f *testing.F) {
	for _, tt := range literalTests {
		f.Add(tt.in)
	}
	f.Add(`a\x4`)
	f.Add("a''' '''b")
	f.Add("x\xff\\\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := pyfmt.UnescapeLiteral(s)
		if err != nil {
			if _, ok := err.(*pyfmt.Error); !ok {
				t.Fatalf("UnescapeLiteral(%q): error %T %v is not a *pyfmt.Error", s, err, err)
			}
			return
		}
		// Without escapes, quotes or carriage returns, s is its own value.
		if utf8.ValidString(s) && !strings.ContainsAny(s, "\\'\"\r\x00") && got != s {
			t.Fatalf("UnescapeLiteral(%q) = %q", s, got)
		}
	})
}
