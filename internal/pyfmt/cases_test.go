package pyfmt_test

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/fleetsh/fleetsh/internal/optparse/pycases"
	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

// The cases of testdata/cases.json.gz were produced by running the real
// Python (/usr/bin/python3, CPython 3.11) with testdata/gen_cases.py; the
// "py" field of each case is the Python expression evaluated. Its strings
// are encoded as those of internal/optparse/testdata/cases.json, hence
// pycases.Str.

// runes returns the code points of the Python str s, lone surrogates
// included (a Go string cannot hold U+D800..U+DC7F and U+DD00..U+DFFF).
func runes(s pycases.Str) []rune {
	if s.S != nil {
		return []rune(*s.S)
	}
	return s.CP
}

type pyVal struct {
	Type  string  `json:"type"`
	V     any     `json:"v"`
	S     *string `json:"s"`
	CP    []rune  `json:"cp"`
	Items []pyVal `json:"items"`
}

// obj stands for a Python object whose class defines __getitem__, like a
// ClusterShell RangeSet (class Obj of gen_cases.py).
type obj struct{}

func (obj) PyStr() string  { return "OBJ" }
func (obj) PyRepr() string { return "Obj<é>" }
func (obj) PyType() string { return "Obj" }
func (obj) PyGetItem(string) (any, error) {
	return nil, &pyfmt.Error{Kind: "TypeError", Msg: "Obj indices must be integers"}
}

// plain stands for a Python object that is not a mapping (class Plain).
type plain struct{}

func (plain) PyStr() string  { return "PLAIN" }
func (plain) PyRepr() string { return "Plain()" }
func (plain) PyType() string { return "Plain" }

func (v pyVal) goValue(t *testing.T) any {
	switch v.Type {
	case "none":
		return nil
	case "bool":
		return v.V.(bool)
	case "int":
		n, ok := new(big.Int).SetString(v.V.(string), 0)
		if !ok {
			t.Fatalf("bad int %v", v.V)
		}
		if n.IsInt64() {
			return int(n.Int64())
		}
		return n
	case "float":
		f, err := strconv.ParseFloat(v.V.(string), 64)
		if err != nil {
			t.Fatalf("bad float %v", v.V)
		}
		return f
	case "str":
		return pycases.Str{S: v.S, CP: v.CP}.String()
	case "list":
		l := []any{}
		for _, x := range v.Items {
			l = append(l, x.goValue(t))
		}
		return l
	case "tuple":
		l := pyfmt.Tuple{}
		for _, x := range v.Items {
			l = append(l, x.goValue(t))
		}
		return l
	case "obj":
		return obj{}
	case "plain":
		return plain{}
	}
	t.Fatalf("unknown value type %q", v.Type)
	return nil
}

type pyCase struct {
	Py     string       `json:"py"`
	Format pycases.Str  `json:"format"`
	Arg    pyVal        `json:"arg"`
	In     pycases.Str  `json:"in"`
	Base   int          `json:"base"`
	Float  bool         `json:"float"`
	Ok     *pycases.Str `json:"ok"`
	Kind   string       `json:"kind"`
	Msg    string       `json:"msg"`
	// repr cases
	Repr        *pycases.Str `json:"repr"`
	ASCII       *pycases.Str `json:"ascii"`
	Block       *int         `json:"block"`
	ReprSHA256  string       `json:"repr_sha256"`
	ASCIISHA256 string       `json:"ascii_sha256"`
	V           string       `json:"v"`
}

type pyCases struct {
	Python    string   `json:"python"`
	Format    []pyCase `json:"format"`
	Repr      []pyCase `json:"repr"`
	FloatRepr []struct {
		Py   string `json:"py"`
		V    string `json:"v"`
		Repr string `json:"repr"`
	} `json:"float_repr"`
	Literal []pyCase `json:"literal"`
	Number  []pyCase `json:"number"`
	Encode  []pyCase `json:"encode"`
}

var loadCases = sync.OnceValues(func() (*pyCases, error) {
	f, err := os.Open("testdata/cases.json.gz")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	var c pyCases
	if err := json.NewDecoder(z).Decode(&c); err != nil {
		return nil, err
	}
	return &c, nil
})

func cases(t *testing.T) *pyCases {
	t.Helper()
	c, err := loadCases()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkResult compares a result with the expected Python outcome.
func checkResult(t *testing.T, c pyCase, got string, err error) {
	t.Helper()
	if c.Ok != nil {
		want := c.Ok.String()
		if err != nil || got != want {
			t.Errorf("%s: got %q, %v; want %q", c.Py, got, err, want)
		}
		return
	}
	e, ok := err.(*pyfmt.Error)
	if !ok {
		t.Errorf("%s: got %q, %v; want %s: %s", c.Py, got, err, c.Kind, c.Msg)
		return
	}
	if e.Kind != c.Kind || e.Msg != c.Msg {
		t.Errorf("%s: got error %s: %s; want %s: %s", c.Py, e.Kind, e.Msg, c.Kind, c.Msg)
	}
}

func TestFormatPythonCases(t *testing.T) {
	for _, c := range cases(t).Format {
		got, err := pyfmt.Format(c.Format.String(), c.Arg.goValue(t))
		checkResult(t, c, got, err)
	}
}

func TestReprPythonCases(t *testing.T) {
	for _, c := range cases(t).Repr {
		if c.Block != nil {
			var r []rune
			for cp := *c.Block; cp < *c.Block+0x1000; cp++ {
				r = append(r, rune(cp))
			}
			// repr of every code point: compare digests of the
			// surrogatepass encoding, which []rune to string cannot
			// produce, hence the manual WTF-8 encoding.
			if got := digest(reprRunes(t, r, false)); got != c.ReprSHA256 {
				t.Errorf("%s: repr digest mismatch", c.Py)
			}
			if got := digest(reprRunes(t, r, true)); got != c.ASCIISHA256 {
				t.Errorf("%s: ascii digest mismatch", c.Py)
			}
			continue
		}
		in := runes(c.In)
		if got, want := reprRunes(t, in, false), runes(*c.Repr); string(got) != string(want) {
			t.Errorf("%s: repr got %q want %q", c.Py, string(got), string(want))
		}
		if got, want := reprRunes(t, in, true), runes(*c.ASCII); string(got) != string(want) {
			t.Errorf("%s: ascii got %q want %q", c.Py, string(got), string(want))
		}
	}
}

// reprRunes returns repr() (or ascii()) of the Python str made of r, using
// %r (%a) of FormatRunes so that any surrogate can be given.
func reprRunes(t *testing.T, r []rune, ascii bool) []rune {
	// A Go string can only carry U+DC80..U+DCFF; others are tested with
	// a str holding a placeholder that is substituted afterwards.
	var s []rune
	for _, c := range r {
		if c >= 0xD800 && c <= 0xDFFF && !(c >= 0xDC80 && c <= 0xDCFF) {
			s = append(s, 0xE000) // placeholder, non-printable (Co)
		} else {
			s = append(s, c)
		}
	}
	str, err := pyfmt.Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	var out string
	if ascii {
		out = pyfmt.ASCII(str)
	} else {
		out = pyfmt.Repr(str)
	}
	// Put the surrogates back: each placeholder was escaped as \ue000.
	res := []rune{}
	i := 0
	or := pyfmt.Decode(out)
	for k := 0; k < len(or); k++ {
		if k+6 <= len(or) && string(or[k:k+6]) == `\ue000` {
			for i < len(r) && !(r[i] >= 0xD800 && r[i] <= 0xDFFF && !(r[i] >= 0xDC80 && r[i] <= 0xDCFF)) {
				i++
			}
			if i < len(r) {
				res = append(res, []rune(`\u`+strconv.FormatInt(int64(r[i]), 16))...)
				i++
				k += 5
				continue
			}
		}
		res = append(res, or[k])
	}
	return res
}

// digest returns the SHA-256 of the WTF-8 encoding of r.
func digest(r []rune) string {
	var b []byte
	for _, c := range r {
		if c >= 0xD800 && c <= 0xDFFF {
			b = append(b, 0xED, byte(0x80|(c>>6)&0x3F), byte(0x80|c&0x3F))
		} else {
			b = append(b, string(c)...)
		}
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestFloatReprPythonCases(t *testing.T) {
	for _, c := range cases(t).FloatRepr {
		f, err := strconv.ParseFloat(c.V, 64)
		if err != nil {
			t.Fatal(err)
		}
		if got := pyfmt.FloatRepr(f); got != c.Repr {
			t.Errorf("%s: got %q want %q", c.Py, got, c.Repr)
		}
		if got := pyfmt.Str(f); got != c.Repr {
			t.Errorf("str of %s: got %q want %q", c.Py, got, c.Repr)
		}
	}
}

func TestUnescapeLiteralPythonCases(t *testing.T) {
	for _, c := range cases(t).Literal {
		in := c.In.String()
		got, err := pyfmt.UnescapeLiteralRunes(in)
		if unsupportedLiterals[in] {
			if e, ok := err.(*pyfmt.Error); !ok || e.Kind != pyfmt.KindUnsupported {
				t.Errorf("%s: got %q, %v; want an Unsupported error", c.Py, string(got), err)
			}
			continue
		}
		if c.Ok != nil {
			want := runes(*c.Ok)
			if err != nil || string(got) != string(want) || len(got) != len(want) {
				t.Errorf("%s: got %U, %v; want %U", c.Py, got, err, want)
			}
			continue
		}
		e, ok := err.(*pyfmt.Error)
		switch {
		case !ok:
			t.Errorf("%s: got %q, %v; want %s: %s", c.Py, string(got), err, c.Kind, c.Msg)
		case e.Kind != c.Kind:
			t.Errorf("%s: got error %s: %s; want %s: %s", c.Py, e.Kind, e.Msg, c.Kind, c.Msg)
		case c.Kind != "SyntaxError" && e.Msg != c.Msg:
			t.Errorf("%s: got error %s: %s; want %s: %s", c.Py, e.Kind, e.Msg, c.Kind, c.Msg)
		}
	}
}

// unsupportedLiterals are the literal cases UnescapeLiteral declines to
// evaluate (Python evaluates them, or rejects them only after parsing an
// expression).
var unsupportedLiterals = map[string]bool{
	"a''' f'''{1}":       true,
	"a'''+'''":           true,
	"'''+'''":            true,
	"a''' * 2 + '''":     true,
	"a''' if 1 else '''": true,
	"a''' or '''":        true,
	"a'''.join'''":       true,
	"a'''=='''":          true,
	"a'''!='''":          true,
}

func TestNumberPythonCases(t *testing.T) {
	for _, c := range cases(t).Number {
		in := c.In.String()
		if c.Float {
			f, err := pyfmt.ParseFloat(in)
			if c.Ok == nil || err != nil {
				checkResult(t, c, strconv.FormatFloat(f, 'x', -1, 64), err)
			} else if want := c.Ok.String(); !sameFloat(f, want) {
				t.Errorf("%s: got %s, want %s", c.Py, strconv.FormatFloat(f, 'x', -1, 64), want)
			}
			continue
		}
		n, err := pyfmt.ParseInt(in, c.Base)
		if c.Ok == nil || err != nil {
			checkResult(t, c, fmt.Sprint(n), err)
		} else if want, ok := new(big.Int).SetString(c.Ok.String(), 0); !ok || n.Cmp(want) != 0 {
			t.Errorf("%s: got %v, want %s", c.Py, n, c.Ok.String())
		}
	}
}

// sameFloat reports whether f is the float Python wrote as want: its
// float.hex(), which Go reads exactly, or "nan" and "-nan" (gen_cases.py's
// words for a NaN and its sign).
func sameFloat(f float64, want string) bool {
	switch want {
	case "nan", "-nan":
		return math.IsNaN(f) && math.Signbit(f) == (want == "-nan")
	}
	w, err := strconv.ParseFloat(want, 64)
	return err == nil && math.Float64bits(f) == math.Float64bits(w)
}

func TestEncodePythonCases(t *testing.T) {
	for _, c := range cases(t).Encode {
		got, err := pyfmt.Encode(runes(c.In))
		checkResult(t, c, got, err)
	}
}
