package nodesetcli

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

func TestSingleOperand(t *testing.T) {
	for s, want := range map[string]bool{
		"":                       true,
		"node1":                  true,
		"node[1-3,5]":            true,
		"r[1,2]n[3,4]-ib[0-1]":   true,
		"@group":                 true,
		"node[1-3],node5":        false,
		"node[1-3]!node2":        false,
		"a&b":                    false,
		"a^b":                    false,
		"x[1,2]y,z":              false,
		"node[1-3]]5,6[":         false,
		"node[1-3":               true, // a parse error either way
		"node[1,2][3,4]!x[5,6]y": false,
		"]a,b":                   false,
		"x]!y":                   false,
		"n[1,[2]":                true,
		"n[1]]^m":                false,
	} {
		if got := singleOperand(s); got != want {
			t.Errorf("singleOperand(%q) = %v, want %v", s, got, want)
		}
	}
}

// randomExpr returns a small nodeset expression mixing one- and
// multi-dimensional names, brackets, padding and operators.
func randomExpr(r *rand.Rand) string {
	term := func() string {
		lo := r.IntN(6)
		rng := fmt.Sprintf("%d-%d", lo, lo+r.IntN(4))
		if r.IntN(4) == 0 {
			rng += fmt.Sprintf(",%02d", r.IntN(12))
		}
		switch r.IntN(6) {
		case 0:
			return fmt.Sprintf("n%d", r.IntN(9))
		case 1:
			return "n[" + rng + "]"
		case 2:
			return fmt.Sprintf("x[%s]y%d", rng, r.IntN(4))
		case 3:
			return fmt.Sprintf("x%dy[%s]", r.IntN(4), rng)
		case 4:
			return fmt.Sprintf("x[%s]y[%d-%d]", rng, r.IntN(3), 2+r.IntN(3))
		}
		return fmt.Sprintf("r[%s]n%d-ib[0-%d]", rng, r.IntN(3), r.IntN(2))
	}
	s := term()
	for r.IntN(3) == 0 {
		s += string(",!&^"[r.IntN(4)]) + term()
	}
	return s
}

// TestComputeMatchesCopyingPath checks the shortcuts of parse, updateLines
// and take (no copies of an operand nobody else holds) against the plain
// way ClusterShell computes: each operand parsed with fromlist, copied
// into the union of its lines, and that union copied into the result.
// Multi-dimensional sets are the point: their folded form depends on when
// they were folded, and copying folds them.
func TestComputeMatchesCopyingPath(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for i := 0; i < 3000; i++ {
		autostep := []int{0, 0, 2, 3}[r.IntN(4)]
		p := &nodeset.Parser{Autostep: autostep}
		want := nodeset.New()
		want.SetAutostep(autostep)
		args := []string{"-f"}
		if autostep != 0 {
			args = append(args, fmt.Sprintf("--autostep=%d", autostep))
		}
		ok := true
		for k := 0; k < 1+r.IntN(4) && ok; k++ {
			op := "," // union
			if k > 0 {
				op = []string{",", ",", "-x", "-i", "-X"}[r.IntN(5)]
			}
			expr := randomExpr(r)
			if r.IntN(5) == 0 {
				expr += "\n" + randomExpr(r)
			}
			if op != "," {
				args = append(args, op)
			}
			args = append(args, expr)
			acc := nodeset.New()
			acc.SetAutostep(autostep)
			for _, line := range strings.Split(expr, "\n") {
				o, err := p.ParseList([]string{line})
				if err != nil {
					ok = false
					break
				}
				acc.Update(o)
			}
			switch op {
			case ",":
				want.Update(acc)
			case "-x":
				want.DifferenceUpdate(acc)
			case "-i":
				want.IntersectionUpdate(acc)
			case "-X":
				want.SymmetricDifferenceUpdate(acc)
			}
		}
		if !ok {
			continue
		}
		var out, errb bytes.Buffer
		rc := Main(args, strings.NewReader(""), &out, &errb, os.Getenv)
		if rc != 0 {
			continue // e.g. an empty left operand warning path; not compared
		}
		if got, w := out.String(), want.String()+"\n"; got != w {
			t.Fatalf("nodeset %q:\n got %q\nwant %q", args, got, w)
		}
	}
}

func TestOneNumber(t *testing.T) {
	for s, want := range map[string]bool{
		"login": true, "node1": true, "node001": true, "gpu-000123": true, "42": true,
		"r1n1": false, "node1-ib0": false, "n1a2": false, "nodé1": false, "node١": false,
	} {
		if got := oneNumber(s); got != want {
			t.Errorf("oneNumber(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestStdinMatchesCopyingPath is TestComputeMatchesCopyingPath for names
// read from standard input, which take adopts when they are all
// one-dimensional.
func TestStdinMatchesCopyingPath(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 9))
	for i := 0; i < 1000; i++ {
		autostep := []int{0, 0, 2, 3}[r.IntN(4)]
		var names []string
		for k := 0; k < 1+r.IntN(40); k++ {
			switch r.IntN(12) {
			case 0:
				names = append(names, fmt.Sprintf("x%dy%d", r.IntN(4), r.IntN(4)))
			case 1:
				names = append(names, "login")
			case 2:
				names = append(names, fmt.Sprintf("gpu%02d", r.IntN(20)))
			default:
				names = append(names, fmt.Sprintf("n%d", r.IntN(30)))
			}
		}
		tmp := nodeset.New()
		tmp.SetAutostep(autostep)
		for _, n := range names {
			if err := tmp.AddNode(n); err != nil {
				t.Fatal(err)
			}
		}
		want := nodeset.New()
		want.SetAutostep(autostep)
		want.Update(tmp)
		args := []string{"-f"}
		if autostep != 0 {
			args = append(args, fmt.Sprintf("--autostep=%d", autostep))
		}
		if r.IntN(2) == 0 {
			expr := randomExpr(r)
			o, err := (&nodeset.Parser{Autostep: autostep}).ParseList([]string{expr})
			if err != nil {
				continue
			}
			want.DifferenceUpdate(o)
			args = append(args, "-", "-x", expr)
		}
		var out, errb bytes.Buffer
		if rc := Main(args, strings.NewReader(strings.Join(names, "\n")+"\n"), &out, &errb, os.Getenv); rc != 0 {
			t.Fatalf("nodeset %q < %q: exit %d, %s", args, names, rc, errb.String())
		}
		if got, w := out.String(), want.String()+"\n"; got != w {
			t.Fatalf("nodeset %q < %q:\n got %q\nwant %q", args, names, got, w)
		}
	}
}

// splitlinesModel is Python's str.splitlines() from its documented
// definition, as the oracle of pySplitlines (which scans bytes, eight at
// a time): a line ends at each of the boundaries below, "\r\n" being one
// boundary; undecodable bytes (surrogate escapes in Python) end nothing,
// and "\x1f" is not a boundary.
func splitlinesModel(s string) []string {
	const boundaries = "\n\r\v\f\x1c\x1d\x1e\u0085\u2028\u2029"
	var lines []string
	start, crlf := 0, -1
	for i, r := range s {
		if i == crlf { // the "\n" of a "\r\n": the line ended at the "\r"
			start = i + 1
			continue
		}
		if r == utf8.RuneError || !strings.ContainsRune(boundaries, r) {
			continue
		}
		lines = append(lines, s[start:i])
		start = i + utf8.RuneLen(r)
		if r == '\r' && strings.HasPrefix(s[start:], "\n") {
			crlf = start
		}
	}
	if start < len(s) {
		lines = append(lines, s[start:])
	}
	return lines
}

func TestPySplitlines(t *testing.T) {
	pieces := []string{"node[1-9]", "a", "\n", "\r", "\r\n", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x1f", "\t", " ",
		"\u0085", "\u2028", "\u2029", "\u2027", "é", "→", "\xc2", "\xe2\x80", "\xe2", "\x80", "\xff", "😀", "0123456789abcdef"}
	r := rand.New(rand.NewPCG(1, 3))
	for i := 0; i < 20000; i++ {
		var sb strings.Builder
		for k := r.IntN(30); k > 0; k-- {
			sb.WriteString(pieces[r.IntN(len(pieces))])
		}
		s := sb.String()
		if got, want := pySplitlines(s), splitlinesModel(s); !slices.Equal(got, want) {
			t.Fatalf("pySplitlines(%q) = %q, want %q", s, got, want)
		}
	}
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 17; pos++ {
			s := strings.Repeat("x", pos) + string([]byte{byte(c)}) + strings.Repeat("y", 16-pos) + "\x85\xa8"
			if got, want := pySplitlines(s), splitlinesModel(s); !slices.Equal(got, want) {
				t.Fatalf("pySplitlines(%q) = %q, want %q", s, got, want)
			}
		}
	}
}
