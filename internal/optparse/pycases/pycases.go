// Package pycases reads internal/optparse/testdata/cases.json, the
// outcomes of Python's optparse that internal/optparse/testdata/gen_cases.py
// records (with /usr/bin/python3) for ClusterShell 1.9.1's nodeset and
// clush parsers and two demo parsers: the oracle of the differential tests
// of internal/optparse and of csub's option table (internal/csub).
package pycases

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/fleetsh/fleetsh/internal/optparse"
	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

// Str is a string as cases.json stores it: UTF-8 text in S, or the code
// points in CP when Python held surrogate escapes (undecodable bytes).
type Str struct {
	S  *string `json:"s"`
	CP []rune  `json:"cp"`
}

// String returns the bytes Python would write for s.
func (s Str) String() string {
	if s.S != nil {
		return *s.S
	}
	b, err := pyfmt.Encode(s.CP)
	if err != nil {
		panic(fmt.Sprintf("pycases: code points %v do not encode: %v", s.CP, err))
	}
	return b
}

// Strings returns the String of each of l (never nil).
func Strings(l []Str) []string {
	out := []string{}
	for _, s := range l {
		out = append(out, s.String())
	}
	return out
}

// Parse is one parse_args() call: the parser, COLUMNS (nil: unset) and
// arguments, and what Python printed, its exit status (nil: no exit),
// str() of the values and the remaining arguments.
type Parse struct {
	Py      string  `json:"py"` // the call, for messages
	Parser  string  `json:"parser"`
	Args    []Str   `json:"args"`
	Columns *string `json:"columns"`
	Stdout  Str     `json:"stdout"`
	Stderr  Str     `json:"stderr"`
	Status  *int    `json:"status"`
	Values  string  `json:"values"`
	Rest    []Str   `json:"rest"`
}

// OptionError is one add_option() call of gen_cases.py's OPTION_ERRORS:
// the OptionError message Python raised (nil: none).
type OptionError struct {
	Py    string  `json:"py"`
	Name  string  `json:"name"`
	Error *string `json:"error"`
}

// Cases is the content of cases.json.
type Cases struct {
	Parse        []Parse       `json:"parse"`
	OptionErrors []OptionError `json:"option_errors"`
}

// Load reads cases.json from path (testdata/cases.json from
// internal/optparse, ../optparse/testdata/cases.json from internal/csub).
func Load(path string) (*Cases, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pycases: %w", err)
	}
	var c Cases
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("pycases: %s: %w", path, err)
	}
	return &c, nil
}

// Outcome is what a parse did: what it printed, and either the exit
// status of its *optparse.ExitError or its values (str(values)) and
// remaining arguments.
type Outcome struct {
	Stdout, Stderr string
	Status         *int // nil: the parse returned values
	Values         string
	Rest           []string
}

// Want returns the outcome Python recorded for c.
func (c Parse) Want() Outcome {
	o := Outcome{Stdout: c.Stdout.String(), Stderr: c.Stderr.String(), Status: c.Status}
	if c.Status == nil {
		o.Values, o.Rest = c.Values, Strings(c.Rest)
	}
	return o
}

// Got returns the outcome of a parse that printed stdout and stderr and
// returned values, rest and err (Parser.Parse's results); an error that
// is not an *optparse.ExitError is returned as is.
func Got(stdout, stderr string, values *optparse.Values, rest []string, err error) (Outcome, error) {
	o := Outcome{Stdout: stdout, Stderr: stderr}
	if err != nil {
		var ee *optparse.ExitError
		if !errors.As(err, &ee) {
			return o, err
		}
		o.Status = &ee.Status
		return o, nil
	}
	o.Values, o.Rest = values.Repr(), append([]string{}, rest...)
	return o, nil
}

// Compare reports on t each difference between got and want, the
// outcomes of the call py.
func Compare(t testing.TB, py string, got, want Outcome) {
	t.Helper()
	if got.Stdout != want.Stdout {
		t.Errorf("%s: stdout:\n%s\nwant:\n%s", py, got.Stdout, want.Stdout)
	}
	if got.Stderr != want.Stderr {
		t.Errorf("%s: stderr:\n%q\nwant:\n%q", py, got.Stderr, want.Stderr)
	}
	switch {
	case want.Status != nil && (got.Status == nil || *got.Status != *want.Status):
		t.Errorf("%s: got values %s, status %v; want exit status %d", py, got.Values, got.Status, *want.Status)
	case want.Status == nil && got.Status != nil:
		t.Errorf("%s: got exit status %d, want values %s", py, *got.Status, want.Values)
	case want.Status == nil:
		if got.Values != want.Values {
			t.Errorf("%s: values\n got %s\nwant %s", py, got.Values, want.Values)
		}
		if !slices.Equal(got.Rest, want.Rest) {
			t.Errorf("%s: rest args %q, want %q", py, got.Rest, want.Rest)
		}
	}
}
