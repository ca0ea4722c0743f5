// Package bytesize reads and writes byte counts as people type them on
// command lines ("64M", "1G", "4096"): the size flags of csub, agent and
// coordinator (--max-output) share it, so each accepts the same forms and
// names a size in its messages the same way.
package bytesize

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Binary units: a K is 1024 bytes, as in sort -S, ulimit and most admin
// tools; there are no decimal units, so "1M" never means 10^6.
const (
	KiB int64 = 1 << (10 * (iota + 1))
	MiB
	GiB
	TiB
)

// units are the suffixes Parse accepts, largest first (Format's order).
var units = []struct {
	letter byte
	name   string
	size   int64
}{{'T', "TiB", TiB}, {'G', "GiB", GiB}, {'M', "MiB", MiB}, {'K', "KiB", KiB}}

// ErrSyntax is wrapped by Parse's errors.
var ErrSyntax = errors.New("not a size")

// Parse reads a byte count: decimal digits, then optionally a unit K, M,
// G or T (any case, 1024-based), which may be followed by "iB" or "B"
// ("64M", "64MiB", "64mb", "1048576"). A size over math.MaxInt64 bytes
// is an error, as is anything else.
func Parse(s string) (int64, error) {
	digits := strings.TrimRightFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	unit := s[len(digits):]
	if digits == "" || strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return 0, fmt.Errorf("%w: %q (want a number of bytes, with K, M, G or T for 1024, 1024², ...)", ErrSyntax, s)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q is too large", ErrSyntax, s)
	}
	if unit == "" || strings.EqualFold(unit, "B") {
		return n, nil
	}
	for _, u := range units {
		if unit[0]&^0x20 != u.letter {
			continue
		}
		if rest := unit[1:]; rest != "" && !strings.EqualFold(rest, "iB") && !strings.EqualFold(rest, "B") {
			break
		}
		if n > math.MaxInt64/u.size {
			return 0, fmt.Errorf("%w: %q is too large", ErrSyntax, s)
		}
		return n * u.size, nil
	}
	return 0, fmt.Errorf("%w: %q: unknown unit %q (want K, M, G or T)", ErrSyntax, s, unit)
}

// Format writes n in the largest unit that divides it exactly ("64 MiB",
// "1536 KiB"), else in bytes ("1000 bytes"): a size in a message reads
// back as the same number of bytes.
func Format(n int64) string {
	for _, u := range units {
		if n != 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + " " + u.name
		}
	}
	if n == 1 {
		return "1 byte"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// Var defines a size flag: its value is set with Parse, must be at least
// one byte, and defaults to def.
func Var(fs *flag.FlagSet, p *int64, name string, def int64, usage string) {
	*p = def
	fs.Var(sizeFlag{p}, name, usage)
}

// sizeFlag is a flag.Value of a size.
type sizeFlag struct{ p *int64 }

// String writes the size as Parse reads it ("64M"), for flag's help.
func (f sizeFlag) String() string {
	if f.p == nil {
		return "0"
	}
	for _, u := range units {
		if n := *f.p; n != 0 && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + string(u.letter)
		}
	}
	return strconv.FormatInt(*f.p, 10)
}

func (f sizeFlag) Set(s string) error {
	n, err := Parse(s)
	if err != nil {
		return err
	}
	if n < 1 {
		return fmt.Errorf("%w: %q: a size must be at least 1 byte", ErrSyntax, s)
	}
	*f.p = n
	return nil
}
