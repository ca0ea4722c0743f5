package bytesize

import (
	"errors"
	"flag"
	"io"
	"strconv"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{
		{"0", 0}, {"1", 1}, {"4096", 4096}, {"1K", 1024}, {"1k", 1024}, {"64M", 64 << 20}, {"64MiB", 64 << 20},
		{"64mib", 64 << 20}, {"64MB", 64 << 20}, {"1G", 1 << 30}, {"2T", 2 << 40}, {"10B", 10}, {"10b", 10},
		{"8589934591G", 8589934591 << 30}, {"007k", 7 << 10},
	} {
		got, err := Parse(c.in)
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "M", "-1", "-1M", "1.5M", "1 M", "1MM", "1Mi", "1MiBs", "1P", "1e6", "0x10", " 1", "1 ",
		"8589934592G", "99999999999999999999", "1K2", "+1"} {
		if n, err := Parse(in); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %d, %v; want a syntax error", in, n, err)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{
		{0, "0 bytes"}, {1, "1 byte"}, {1000, "1000 bytes"}, {1024, "1 KiB"}, {1536 << 10, "1536 KiB"},
		{64 << 20, "64 MiB"}, {1 << 30, "1 GiB"}, {3 << 40, "3 TiB"}, {1<<20 + 1, "1048577 bytes"},
	} {
		if got := Format(c.n); got != c.want {
			t.Errorf("Format(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}

// unformat reads Format's output back.
func unformat(t *testing.T, s string) int64 {
	t.Helper()
	num, unit, _ := strings.Cut(s, " ")
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		t.Fatalf("Format wrote %q", s)
	}
	for _, u := range units {
		if unit == u.name {
			return n * u.size
		}
	}
	if unit != "bytes" && unit != "byte" {
		t.Fatalf("Format wrote %q", s)
	}
	return n
}

// FuzzParse: Parse never panics, accepts only sizes that are whole
// non-negative byte counts, and Format names the same count.
//
//	go test -run '^$' -fuzz FuzzParse -fuzztime 45s ./internal/bytesize
func FuzzParse(f *testing.F) {
	for _, s := range []string{"0", "64M", "1GiB", "7kb", "-1", "1.5G", "99999999999999999999T", "1\x00K", "\xffM"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q): %v does not wrap ErrSyntax", s, err)
			}
			return
		}
		if n < 0 {
			t.Fatalf("Parse(%q) = %d", s, n)
		}
		if back := unformat(t, Format(n)); back != n {
			t.Fatalf("Parse(%q) = %d, Format %q reads %d", s, n, Format(n), back)
		}
		if m, err := Parse(strconv.FormatInt(n, 10)); err != nil || m != n {
			t.Fatalf("Parse(%d) = %d, %v", n, m, err)
		}
	})
}

func TestVar(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var n int64
	Var(fs, &n, "max-output", 64<<20, "cap")
	if n != 64<<20 || fs.Lookup("max-output").DefValue != "64M" {
		t.Fatalf("default %d %q", n, fs.Lookup("max-output").DefValue)
	}
	if err := fs.Parse([]string{"--max-output", "1G"}); err != nil || n != 1<<30 {
		t.Fatalf("1G: %d %v", n, err)
	}
	for _, bad := range []string{"0", "-1", "1X"} {
		if err := fs.Set("max-output", bad); err == nil {
			t.Errorf("--max-output %s accepted", bad)
		}
	}
	if got := (sizeFlag{}).String(); got != "0" {
		t.Errorf("zero flag %q", got)
	}
	n = 1000
	if got := (sizeFlag{&n}).String(); got != "1000" {
		t.Errorf("1000 bytes: %q", got)
	}
}
