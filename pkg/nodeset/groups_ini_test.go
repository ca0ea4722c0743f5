package nodeset

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The expected values in this file were produced with Debian's Python 3.11
// (configparser, shlex, string.Template, posixpath), the library
// ClusterShell 1.9.1 runs on.

func writeGroupFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// iniDump returns every section's raw values (DEFAULT ones included, as
// ConfigParser's section proxies show them) and the DEFAULT section.
func iniDump(c *iniConfig) (map[string]map[string]string, map[string]string) {
	out := map[string]map[string]string{}
	for _, s := range c.sections {
		m := map[string]string{}
		for k, v := range c.defaults.vals {
			m[k] = v
		}
		for k, v := range s.vals {
			m[k] = v
		}
		out[s.name] = m
	}
	return out, c.defaults.vals
}

func TestGroupsINIParse(t *testing.T) {
	cases := []struct {
		name, text string
		want       map[string]map[string]string
		defaults   map[string]string
		order      []string
		err        string
	}{
		{
			name: "basic",
			text: "[Main]\nDefault: local\nconfdir = /a /b\n[Src]\nMAP : echo a=b # not a comment\n  ; indented comment\nall=x:y\n",
			want: map[string]map[string]string{
				"Main": {"default": "local", "confdir": "/a /b"},
				"Src":  {"map": "echo a=b # not a comment", "all": "x:y"},
			},
			order: []string{"Main", "Src"},
		},
		{
			name: "multi",
			text: "[s]\nmap: line1\n  line2\n\n    line3\n# comment\n  line4\n\n\nlist: l\n",
			want: map[string]map[string]string{"s": {"map": "line1\nline2\n\nline3\nline4", "list": "l"}},
		},
		{
			name: "defaults",
			text: "[DEFAULT]\nmap: echo def\ncache_time: 5\n[a]\nlist: x\n[b]\nmap: echo b\n",
			want: map[string]map[string]string{
				"a": {"list": "x", "map": "echo def", "cache_time": "5"},
				"b": {"map": "echo b", "cache_time": "5"},
			},
			defaults: map[string]string{"map": "echo def", "cache_time": "5"},
			order:    []string{"a", "b"},
		},
		{
			name: "header",
			text: "[a] trailing\nmap: x\n[b]]\nmap: y\n",
			want: map[string]map[string]string{"a": {"map": "x"}, "b]": {"map": "y"}},
		},
		{
			name: "emptyval",
			text: "[a]\nmap:\nlist =\n",
			want: map[string]map[string]string{"a": {"map": "", "list": ""}},
		},
		{
			name: "crlf",
			text: "[a]\r\nmap: x\r\n  y\r\n",
			want: map[string]map[string]string{"a": {"map": "x\ny"}},
		},
		{name: "dupsect", text: "[a]\nmap: x\n\n[a]\nmap: y\n",
			err: "While reading from '%s' [line  4]: section 'a' already exists"},
		{name: "dupopt", text: "[a]\nmap: x\nMap: y\n",
			err: "While reading from '%s' [line  3]: option 'map' in section 'a' already exists"},
		{name: "dupdefault", text: "[DEFAULT]\nmap: x\n[DEFAULT]\nmap: y\n",
			err: "While reading from '%s' [line  4]: option 'map' in section 'DEFAULT' already exists"},
		{name: "nohdr", text: "map: x\n[a]\n",
			err: "File contains no section headers.\nfile: '%s', line: 1\n'map: x\\n'"},
		{name: "bad", text: "[a]\nmap: x\njunk line\n = v\n[]\n",
			err: "Source contains parsing errors: '%s'\n\t[line  3]: 'junk line\\n'\n\t[line  5]: '[]\\n'"},
	}
	dir := t.TempDir()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			writeGroupFiles(t, dir, map[string]string{tc.name: tc.text})
			c := newINIConfig()
			parsed, err := c.read(p)
			if tc.err != "" {
				var ce *ConfigError
				if !errors.As(err, &ce) {
					t.Fatalf("err = %v, want ConfigError", err)
				}
				if want := strings.ReplaceAll(tc.err, "%s", p); ce.Msg != want {
					t.Fatalf("err =\n%q\nwant\n%q", ce.Msg, want)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(parsed, []string{p}) {
				t.Fatalf("read = %v, %v", parsed, err)
			}
			got, defs := iniDump(c)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("sections = %q, want %q", got, tc.want)
			}
			if tc.defaults == nil {
				tc.defaults = map[string]string{}
			}
			if !reflect.DeepEqual(defs, tc.defaults) {
				t.Errorf("defaults = %q, want %q", defs, tc.defaults)
			}
			if tc.order != nil && !reflect.DeepEqual(c.sectionNames(), tc.order) {
				t.Errorf("order = %q, want %q", c.sectionNames(), tc.order)
			}
		})
	}
}

func TestGroupsINIMultipleFiles(t *testing.T) {
	dir := t.TempDir()
	writeGroupFiles(t, dir, map[string]string{
		"one":   "[Main]\ndefault: a\nconfdir: x\n[s]\nmap: one\n",
		"two":   "[t]\nmap: t\n[Main]\ndefault: b\n",
		"three": "[s]\nmap: three\n",
	})
	c := newINIConfig()
	files := []string{filepath.Join(dir, "one"), filepath.Join(dir, "missing"), dir, filepath.Join(dir, "two"), filepath.Join(dir, "three")}
	parsed, err := c.read(files...)
	if err != nil {
		t.Fatal(err)
	}
	// Unreadable paths (missing file, directory) are skipped.
	if want := []string{files[0], files[3], files[4]}; !reflect.DeepEqual(parsed, want) {
		t.Errorf("parsed = %q, want %q", parsed, want)
	}
	got, _ := iniDump(c)
	want := map[string]map[string]string{
		"Main": {"default": "b", "confdir": "x"},
		"s":    {"map": "three"},
		"t":    {"map": "t"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sections = %q, want %q", got, want)
	}
	if order := c.sectionNames(); !reflect.DeepEqual(order, []string{"Main", "s", "t"}) {
		t.Errorf("order = %q", order)
	}
}

func TestGroupsINIInterpolation(t *testing.T) {
	dir := t.TempDir()
	writeGroupFiles(t, dir, map[string]string{"c": "[DEFAULT]\nroot: /r\n[Main]\nbase: %(root)s/etc\n" +
		"confdir: %(base)s/x 100%%\nbad: 50%\nmissing: %(nope)s\nloop: %(loop)s\n"})
	c := newINIConfig()
	if _, err := c.read(filepath.Join(dir, "c")); err != nil {
		t.Fatal(err)
	}
	if v, err := c.get("Main", "confdir"); err != nil || v != "/r/etc/x 100%" {
		t.Errorf("confdir = %q, %v", v, err)
	}
	if v, err := c.getRaw("Main", "confdir"); err != nil || v != "%(base)s/x 100%%" {
		t.Errorf("raw confdir = %q, %v", v, err)
	}
	for opt, want := range map[string]string{
		"bad":     `'%' must be followed by '%' or '(', found: '%'`,
		"missing": "Bad value substitution: option 'missing' in section 'Main' contains an interpolation key 'nope' which is not a valid option name. Raw value: '%(nope)s'",
		"loop":    "Recursion limit exceeded in value substitution: option 'loop' in section 'Main' contains an interpolation key which cannot be substituted in 10 steps. Raw value: '%(loop)s'",
	} {
		if _, err := c.get("Main", opt); err == nil || err.Error() != want {
			t.Errorf("get(%s) err = %v, want %s", opt, err, want)
		}
	}
	var nse *iniNoSectionError
	if _, err := c.get("Nope", "x"); !errors.As(err, &nse) {
		t.Errorf("missing section err = %v", err)
	}
	var noe *iniNoOptionError
	if _, err := c.get("Main", "x"); !errors.As(err, &noe) || err.Error() != "No option 'x' in section: 'Main'" {
		t.Errorf("missing option err = %v", err)
	}
}

func TestGroupsShlexSplit(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		err  string
	}{
		{in: "a b", want: []string{"a", "b"}},
		{in: ` "a b" c`, want: []string{"a b", "c"}},
		{in: `'' x`, want: []string{"", "x"}},
		{in: `a\ b`, want: []string{"a b"}},
		{in: `"a\"b\c"`, want: []string{`a"b\c`}},
		{in: `'a\b'`, want: []string{`a\b`}},
		{in: `x"y z"w`, want: []string{"xy zw"}},
		{in: "", want: nil},
		{in: " \t\n", want: nil},
		{in: `""`, want: []string{""}},
		{in: `a"" b`, want: []string{"a", "b"}},
		{in: `"abc`, err: "No closing quotation"},
		{in: `a\`, err: "No escaped character"},
	}
	for _, tc := range cases {
		got, err := gcShlexSplit(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("shlex(%q) err = %v, want %s", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("shlex(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestGroupsTemplate(t *testing.T) {
	vars := map[string]string{"CFGDIR": "/c"}
	for in, want := range map[string]string{
		"$CFGDIR/x": "/c/x", "${CFGDIR}/x": "/c/x", "$$CFGDIR": "$CFGDIR",
		"$CFGDIRS": "$CFGDIRS", "${CFGDIR": "${CFGDIR", "$ x": "$ x", "$1": "$1",
		"$cfgdir": "$cfgdir", "${ CFGDIR}": "${ CFGDIR}", "a$": "a$", "$_x": "$_x",
		"${NODE}": "${NODE}", "é$CFGDIR$": "é/c$",
	} {
		if got := gcTemplate(in, vars); got != want {
			t.Errorf("template(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestGroupsPathHelpers(t *testing.T) {
	for in, want := range map[string]string{
		"": ".", ".": ".", "//a//b/": "//a/b", "///a": "/a", "a/../..": "..",
		"/..": "/", "a/./b/../c": "a/c", "../a/..": "..",
	} {
		if got := gcNormpath(in); got != want {
			t.Errorf("normpath(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"groups.conf": "", "/groups.conf": "/", "a/b//c": "a/b", "//c": "//", "a/": "a",
	} {
		if got := gcDirname(in); got != want {
			t.Errorf("dirname(%q) = %q, want %q", in, got, want)
		}
	}
	if got := gcJoin("", "clustershell", "groups.conf"); got != "clustershell/groups.conf" {
		t.Errorf("join = %q", got)
	}
	if got := gcJoin("/x/", "a", "/abs", "b"); got != "/abs/b" {
		t.Errorf("join = %q", got)
	}
}

func TestGroupsPyFloat(t *testing.T) {
	for in, want := range map[string]float64{" 1.5 ": 1.5, "1_0": 10, "1e3": 1000, "-0.25": -0.25} {
		if got, err := gcParseFloat(in); err != nil || got != want {
			t.Errorf("float(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"1__0", "0x10", "abc", "", "_1"} {
		if _, err := gcParseFloat(in); err == nil || err.Error() != "could not convert string to float: "+gcRepr(in) {
			t.Errorf("float(%q) err = %v", in, err)
		}
	}
	for in, want := range map[float64]string{1.5: "1.5", 1e16: "1e+16", 1.5e-5: "1.5e-05", 1000: "1000.0", 0.0001: "0.0001", 123456789012345678: "1.2345678901234568e+17"} {
		if got := gcFloatRepr(in); got != want {
			t.Errorf("repr(%v) = %q, want %q", in, got, want)
		}
	}
}
