package optparse_test

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/fleetsh/fleetsh/internal/optparse"
	"github.com/fleetsh/fleetsh/internal/optparse/pycases"
	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

// testdata/cases.json holds the outcome of parse_args() for the real
// ClusterShell nodeset and clush parsers and for two demo parsers (the
// clush ones are run by internal/csub's TestParserMatchesClush), computed
// by /usr/bin/python3 with testdata/gen_cases.py. The "py" field of each
// case tells the COLUMNS value, the parser and the arguments.

// newDemoParser mirrors demo_parser() of gen_cases.py.
func newDemoParser(cfg optparse.Config) *optparse.Parser {
	cfg.Usage = "usage: %prog [options] FILE..."
	cfg.Version = "%prog 0.1"
	cfg.Description = "Demo program %prog exercising optparse: a long description text that " +
		"wraps over several lines, with hyphenated-words and an em--dash too."
	cfg.Epilog = "Epilog text, also wrapped at the width of the terminal, see " +
		"https://example.org/some-very-long-url-that-cannot-be-broken-nicely."
	p := optparse.New(cfg)
	p.AddOption(optparse.Option{Flags: []string{"-v", "--verbose"}, Action: optparse.ActionCount, Dest: "verbose",
		Help: "more output (repeatable)"})
	p.AddOption(optparse.Option{Flags: []string{"-q"}, Action: optparse.ActionStoreConst, Const: 0, Dest: "verbose",
		Help: "no output"})
	p.AddOption(optparse.Option{Flags: []string{"--level"}, Type: "int", Default: 3, Metavar: "LVL",
		Help: "level [default: %default]"})
	p.AddOption(optparse.Option{Flags: []string{"--ratio"}, Type: "float", Default: "0.5",
		Help: "ratio,\tdefault %default"})
	p.AddOption(optparse.Option{Flags: []string{"-p", "--point"}, Nargs: 2, Type: "int", Help: "a point (two ints)"})
	p.AddOption(optparse.Option{Flags: []string{"-t", "--tag"}, Action: optparse.ActionAppend, Dest: "tags",
		Help: "add a tag"})
	p.AddOption(optparse.Option{Flags: []string{"-T"}, Action: optparse.ActionAppendConst, Const: "T", Dest: "tags",
		Help: "add tag T"})
	p.AddOption(optparse.Option{Flags: []string{"--mode"}, Choices: []string{"fast", "slow", "very-slow"},
		Default: "fast", Help: "mode: %default"})
	p.AddOption(optparse.Option{Flags: []string{"--no-color"}, Action: optparse.ActionStoreFalse, Dest: "color",
		Default: true, Help: optparse.SuppressHelp})
	p.AddOption(optparse.Option{Flags: []string{"--consume"}, Action: optparse.ActionCallback,
		Callback: func(_ *optparse.Option, _ string, _ any, st *optparse.State) error {
			vals := []any{}
			for len(st.Rargs) > 0 && !strings.HasPrefix(st.Rargs[0], "-") {
				vals = append(vals, st.Rargs[0])
				st.Rargs = st.Rargs[1:]
			}
			st.Values.Set("consumed", vals)
			return nil
		},
		Help: "consume the following arguments up to the next option"})
	p.AddOption(optparse.Option{Flags: []string{"--reject"}, Action: optparse.ActionCallback, Type: "string",
		Callback: func(_ *optparse.Option, optStr string, value any, st *optparse.State) error {
			if value == "bad" {
				return &optparse.OptionValueError{Msg: "option " + optStr + ": bad value " + pyfmt.Repr(value)}
			}
			st.Values.Set("rejected", value)
			return nil
		},
		Help: "callback rejecting the value 'bad'"})
	p.AddOption(optparse.Option{Flags: []string{"--abc-long-option-name-that-is-very-long"},
		Action: optparse.ActionStoreTrue, Help: "a long option"})
	p.AddOption(optparse.Option{Flags: []string{"--abd"}, Action: optparse.ActionStoreTrue})
	g := p.AddGroup("Group title", "Group description paragraph which is long enough to "+
		"need wrapping when printed at the usual widths.")
	g.AddOption(optparse.Option{Flags: []string{"-x", "--extra"}, Help: "extra value with a help text that is " +
		"deliberately quite long so that it wraps over several lines, including " +
		"a-very-long-hyphenated-compound-word-to-break and Supercalifragilisticexpialidocious-ishness"})
	g.AddOption(optparse.Option{Flags: []string{"-y"}, Dest: "yvalue", Type: "choice", Choices: []string{"a", "b"},
		Help: "y choice"})
	p.AddGroup("Empty group", "")
	return p
}

// newDemo2Parser mirrors demo2_parser() of gen_cases.py.
func newDemo2Parser(cfg optparse.Config) *optparse.Parser {
	cfg.Usage = optparse.SuppressUsage
	cfg.NoHelpOption = true
	cfg.ConflictResolve = true
	f := optparse.NewHelpFormatter(60)
	f.ShortFirst = false
	cfg.Formatter = f
	p := optparse.New(cfg)
	p.AddOption(optparse.Option{Flags: []string{"-a", "--alpha"}, Action: optparse.ActionStoreTrue})
	p.AddOption(optparse.Option{Flags: []string{"-a", "--all"}, Action: optparse.ActionStoreTrue,
		Help: "takes -a over from --alpha"})
	p.AddOption(optparse.Option{Flags: []string{"-b"}, Action: optparse.ActionStoreTrue, Help: "first b"})
	p.AddOption(optparse.Option{Flags: []string{"-b"}, Action: optparse.ActionStoreFalse, Dest: "b2",
		Help: "second b, the first one disappears"})
	p.AddOption(optparse.Option{Flags: []string{"-f", "--file"}, Dest: "filename", Metavar: "FILE", Help: "a file"})
	return p
}

var parsers = map[string]func(optparse.Config) *optparse.Parser{
	"nodeset": newNodesetParser,
	"demo":    newDemoParser,
	"demo2":   newDemo2Parser,
}

var loadCases = sync.OnceValues(func() (*pycases.Cases, error) { return pycases.Load("testdata/cases.json") })

func setColumns(t *testing.T, columns *string) {
	t.Setenv("COLUMNS", "")
	if columns == nil {
		os.Unsetenv("COLUMNS")
	} else {
		os.Setenv("COLUMNS", *columns)
	}
}

func TestParsePythonCases(t *testing.T) {
	cases, err := loadCases()
	if err != nil {
		t.Fatal(err)
	}
	if len(cases.Parse) < 200 {
		t.Fatalf("only %d cases", len(cases.Parse))
	}
	for _, c := range cases.Parse {
		newParser, ok := parsers[c.Parser]
		if !ok {
			continue // clush: internal/csub's TestParserMatchesClush
		}
		setColumns(t, c.Columns)
		var stdout, stderr bytes.Buffer
		p := newParser(optparse.Config{Prog: c.Parser, Stdout: &stdout, Stderr: &stderr})
		values, rest, err := p.Parse(pycases.Strings(c.Args))
		got, err := pycases.Got(stdout.String(), stderr.String(), values, rest, err)
		if err != nil {
			t.Errorf("%s: unexpected error %v", c.Py, err)
			continue
		}
		pycases.Compare(t, c.Py, got, c.Want())
	}
}

// optionErrorCases mirror OPTION_ERRORS of gen_cases.py (which adds them
// to optparse.OptionParser(version="1")).
var optionErrorCases = map[string]optparse.Option{
	"no flags":                  {Action: optparse.ActionStoreTrue},
	"short too long":            {Flags: []string{"-xy"}},
	"one char":                  {Flags: []string{"x"}},
	"bad short":                 {Flags: []string{"--"}},
	"bad long":                  {Flags: []string{"-x", "---y"}},
	"bad long 2":                {Flags: []string{"-x", "yy"}},
	"bad action":                {Flags: []string{"-x"}, Action: "frob"},
	"bad type":                  {Flags: []string{"-x"}, Type: "complex2"},
	"type for store_true":       {Flags: []string{"-x"}, Action: optparse.ActionStoreTrue, Type: "int"},
	"choice without choices":    {Flags: []string{"-x"}, Type: "choice"},
	"choices for int":           {Flags: []string{"-x"}, Type: "int", Choices: []string{"1"}},
	"choices for store_true":    {Flags: []string{"-x"}, Action: optparse.ActionStoreTrue, Choices: []string{"1"}},
	"const for store":           {Flags: []string{"-x"}, Const: 1},
	"nargs for store_true":      {Flags: []string{"-x"}, Action: optparse.ActionStoreTrue, Nargs: 2},
	"callback without function": {Flags: []string{"-x"}, Action: optparse.ActionCallback},
	"conflict":                  {Flags: []string{"-h"}},
	"conflict 2":                {Flags: []string{"-x", "--help", "--version"}},
}

func TestOptionErrorPythonCases(t *testing.T) {
	cases, err := loadCases()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases.OptionErrors {
		o, ok := optionErrorCases[c.Name]
		if !ok {
			t.Errorf("no Go case for %q", c.Name)
			continue
		}
		p := optparse.New(optparse.Config{Version: "1"})
		func() {
			defer func() {
				r := recover()
				switch {
				case c.Error == nil && r != nil:
					t.Errorf("%s: unexpected panic %v", c.Py, r)
				case c.Error != nil && r == nil:
					t.Errorf("%s: no panic, want %q", c.Py, *c.Error)
				case c.Error != nil:
					e, ok := r.(*optparse.OptionError)
					if !ok || e.Error() != *c.Error {
						t.Errorf("%s: panic %v, want %q", c.Py, r, *c.Error)
					}
				}
			}()
			p.AddOption(o)
		}()
	}
}
