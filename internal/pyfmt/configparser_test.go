package pyfmt

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/testreq"
)

// The expected values in this file were produced with Debian's Python 3.11
// configparser, the library ClusterShell 1.9.1 runs on.

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// iniDump returns every section's raw values (DEFAULT ones included, as
// ConfigParser's section proxies show them) and the DEFAULT section.
// iniDump returns every section's raw values (DEFAULT ones included, as
// ConfigParser's section proxies show them) and the DEFAULT section.
func iniDump(c *ConfigParser) (map[string]map[string]string, map[string]string) {
	vals := func(s *cpSection) map[string]string {
		m := map[string]string{}
		for k, o := range s.opts {
			m[k] = o.value
		}
		return m
	}
	out := map[string]map[string]string{}
	for _, s := range c.sections {
		m := vals(c.defaults)
		maps.Copy(m, vals(s))
		out[s.name] = m
	}
	return out, vals(c.defaults)
}

func TestConfigParserRead(t *testing.T) {
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
			writeFiles(t, dir, map[string]string{tc.name: tc.text})
			c := NewConfigParser(ConfigOptions{})
			parsed, err := c.Read(p)
			if tc.err != "" {
				var ce *ConfigError
				if !errors.As(err, &ce) {
					t.Fatalf("err = %v, want ConfigError", err)
				}
				if want := strings.ReplaceAll(tc.err, "%s", p); ce.Error() != want {
					t.Fatalf("err =\n%q\nwant\n%q", ce.Error(), want)
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
			if tc.order != nil && !reflect.DeepEqual(c.Sections(), tc.order) {
				t.Errorf("order = %q, want %q", c.Sections(), tc.order)
			}
		})
	}
}

func TestConfigParserMultipleFiles(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"one":   "[Main]\ndefault: a\nconfdir: x\n[s]\nmap: one\n",
		"two":   "[t]\nmap: t\n[Main]\ndefault: b\n",
		"three": "[s]\nmap: three\n",
	})
	c := NewConfigParser(ConfigOptions{})
	files := []string{filepath.Join(dir, "one"), filepath.Join(dir, "missing"), dir, filepath.Join(dir, "two"), filepath.Join(dir, "three")}
	parsed, err := c.Read(files...)
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
	if order := c.Sections(); !reflect.DeepEqual(order, []string{"Main", "s", "t"}) {
		t.Errorf("order = %q", order)
	}
}

func TestConfigParserInterpolation(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"c": "[DEFAULT]\nroot: /r\n[Main]\nbase: %(root)s/etc\n" +
		"confdir: %(base)s/x 100%%\nbad: 50%\nmissing: %(nope)s\nloop: %(loop)s\n"})
	c := NewConfigParser(ConfigOptions{})
	if _, err := c.Read(filepath.Join(dir, "c")); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get("Main", "confdir"); err != nil || v != "/r/etc/x 100%" {
		t.Errorf("confdir = %q, %v", v, err)
	}
	if v, err := c.GetRaw("Main", "confdir"); err != nil || v != "%(base)s/x 100%%" {
		t.Errorf("raw confdir = %q, %v", v, err)
	}
	for opt, want := range map[string]string{
		"bad":     `'%' must be followed by '%' or '(', found: '%'`,
		"missing": "Bad value substitution: option 'missing' in section 'Main' contains an interpolation key 'nope' which is not a valid option name. Raw value: '%(nope)s'",
		"loop":    "Recursion limit exceeded in value substitution: option 'loop' in section 'Main' contains an interpolation key which cannot be substituted in 10 steps. Raw value: '%(loop)s'",
	} {
		if _, err := c.Get("Main", opt); err == nil || err.Error() != want {
			t.Errorf("get(%s) err = %v, want %s", opt, err, want)
		}
	}
	var nse *NoSectionError
	if _, err := c.Get("Nope", "x"); !errors.As(err, &nse) {
		t.Errorf("missing section err = %v", err)
	}
	var noe *NoOptionError
	if _, err := c.Get("Main", "x"); !errors.As(err, &noe) || err.Error() != "No option 'x' in section: 'Main'" {
		t.Errorf("missing option err = %v", err)
	}
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	writeFiles(t, dir, map[string]string{name: text})
	return filepath.Join(dir, name)
}

func TestConfigParserSetGet(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.conf", "[Main]\nFanout: 8\nssh_options = -oX=1\n  -oY=2\n\n# c\nref: %(fanout)s!\n[mode:x]\npct: 100%%\n")
	b := writeFile(t, dir, "b.conf", "[Main]\nfanout: 16\n")
	c := NewConfigParser(ConfigOptions{})
	c.AddSection("Main")
	if err := c.Set("Main", "verbosity", "1"); err != nil {
		t.Fatal(err)
	}
	parsed, err := c.Read(a, filepath.Join(dir, "missing"), b)
	if err != nil || len(parsed) != 2 {
		t.Fatalf("parsed %v, %v", parsed, err)
	}
	for _, g := range []struct{ sect, opt, want string }{
		{"Main", "fanout", "16"}, {"Main", "ssh_options", "-oX=1\n-oY=2"}, {"Main", "verbosity", "1"},
		{"mode:x", "pct", "100%"}, {"Main", "ref", "16!"},
	} {
		if v, err := c.Get(g.sect, g.opt); err != nil || v != g.want {
			t.Errorf("%s.%s = %q, %v; want %q", g.sect, g.opt, v, err, g.want)
		}
	}
	if got := strings.Join(c.Sections(), ","); got != "Main,mode:x" {
		t.Errorf("sections %s", got)
	}
	var nse *NoSectionError
	if _, err := c.Get("nope", "x"); !errors.As(err, &nse) || err.Error() != "No section: 'nope'" {
		t.Errorf("got %v", err)
	}
	var noe *NoOptionError
	if _, err := c.Get("Main", "x"); !errors.As(err, &noe) || err.Error() != "No option 'x' in section: 'Main'" {
		t.Errorf("got %v", err)
	}
	if err := c.Set("Main", "ssh_options", "-o %h"); err == nil || err.Error() != "invalid interpolation syntax in '-o %h' at position 3" {
		t.Errorf("got %v", err)
	}
}

// TestConfigParserAgainstPython checks the messages of malformed files and bad
// interpolations against Python's configparser, when python3 is there.
func TestConfigParserAgainstPython(t *testing.T) {
	py := testreq.LookPath(t, testreq.Python3, "python3")
	dir := t.TempDir()
	for i, text := range []string{
		"fanout: 3\n",
		"[Main]\nfanout 3\nok: 1\n",
		"[Main]\na: 1\n[Main]\n",
		"[Main]\na: 1\nA: 2\n",
		"[Main]\na: %(b)s\n",
		"[Main]\na: 50%\n",
		"[Main]\na: %(a)s\n",
		"[Main]\n: x\n",
		"[DEFAULT]\nb: 2\n[Main]\na: %(b)s\n",
	} {
		p := writeFile(t, dir, "c"+string(rune('0'+i))+".conf", text)
		out, err := exec.Command(py, "-c", `
import configparser, sys
c = configparser.ConfigParser()
try:
    c.read(sys.argv[1])
    print(c.get("Main", "a"), end="")
except Exception as e:
    print("ERR:" + str(e), end="")
`, p).Output()
		if err != nil {
			t.Fatal(err)
		}
		c := NewConfigParser(ConfigOptions{})
		var got string
		if _, err := c.Read(p); err != nil {
			got = "ERR:" + err.Error()
		} else if v, err := c.Get("Main", "a"); err != nil {
			got = "ERR:" + err.Error()
		} else {
			got = v
		}
		if got != string(out) {
			t.Errorf("%q:\n got %q\nwant %q", text, got, out)
		}
	}
}

// TestConfigParserOptions checks the settings of topology.conf's reader:
// case-sensitive names (TopologyParser's optionxform = str), Items with
// the lines of the keys, and the first fault in line order.
func TestConfigParserOptions(t *testing.T) {
	c := NewConfigParser(ConfigOptions{CaseSensitive: true, StopAtFirstError: true})
	if err := c.ReadString("[DEFAULT]\nB: %(A)s2\n[routes]\nA: 1\na: x\nB: %%\n", "t"); err != nil {
		t.Fatal(err)
	}
	items, err := c.Items("routes")
	want := []ConfigItem{{"B", "%", 6}, {"A", "1", 4}, {"a", "x", 5}}
	if err != nil || !reflect.DeepEqual(items, want) {
		t.Errorf("items = %v, %v; want %v", items, err, want)
	}
	if !c.HasSection("routes") || c.HasSection("DEFAULT") || c.HasSection("Routes") {
		t.Error("HasSection")
	}
	for text, want := range map[string]ConfigError{
		"[a]\nx\n[a]\n":           {Kind: ErrParsing, Line: 2, Text: "x\n"},
		"[a]\nb: 1\n\xff\nb: 2\n": {Kind: ErrInvalidUTF8, Line: 3},
		"[a]\n: 1\nb\n":           {Kind: ErrParsing, Line: 2, Text: ": 1\n"},
		"[a]\nb: 1\nb: 2\nc\n":    {Kind: ErrDuplicateOption, Line: 3, Section: "a", Option: "b"},
		"x: 1\n":                  {Kind: ErrNoSectionHeader, Line: 1, Text: "x: 1\n"},
	} {
		c := NewConfigParser(ConfigOptions{CaseSensitive: true, StopAtFirstError: true})
		var ce *ConfigError
		if err := c.ReadString(text, "f"); !errors.As(err, &ce) {
			t.Errorf("%q: err = %v", text, err)
			continue
		}
		want.Source = "f"
		if !reflect.DeepEqual(*ce, want) {
			t.Errorf("%q: err = %+v, want %+v", text, *ce, want)
		}
	}
	// Without StopAtFirstError, invalid UTF-8 anywhere comes first, as
	// Python decodes the whole file before reading it.
	c = NewConfigParser(ConfigOptions{})
	var ce *ConfigError
	if err := c.ReadString("[a]\nb\n\xff\n", "f"); !errors.As(err, &ce) || err.Error() != "f: invalid UTF-8 text" || ce.Line != 3 {
		t.Errorf("err = %#v", err)
	}
}

// TestConfigParserBounded: references that multiply a value stop at
// maxInterpolatedLen instead of exhausting memory.
func TestConfigParserBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("[a]\nv0: " + strings.Repeat("x", 1000) + "\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "v%d: %s\n", i, strings.Repeat(fmt.Sprintf("%%(v%d)s", i-1), 10))
	}
	c := NewConfigParser(ConfigOptions{})
	if err := c.ReadString(b.String(), "f"); err != nil {
		t.Fatal(err)
	}
	var ce *ConfigError
	if _, err := c.Get("a", "v9"); !errors.As(err, &ce) || ce.Kind != ErrTooLong {
		t.Fatalf("err = %v", err)
	}
	if v, err := c.Get("a", "v2"); err != nil || len(v) != 100000 {
		t.Fatalf("v2: %d bytes, %v", len(v), err)
	}
}
