package pyfmt

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// FuzzConfigParser reads arbitrary files with every setting: no panic, no
// hang, no value longer than maxInterpolatedLen, errors are *ConfigError
// (read) or the lookup errors, and Items, Get and GetRaw agree.
func FuzzConfigParser(f *testing.F) {
	data, err := os.ReadFile("../../pkg/nodeset/testdata/groups/groups.conf")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(data), false, false)
	for _, s := range []string{
		"[Main]\nDefault: local\nconfdir = /a /b\n[Src]\nMAP : echo a=b # not a comment\n  ; indented comment\nall=x:y\n",
		"[s]\nmap: line1\n  line2\n\n    line3\n# comment\n  line4\n\n\nlist: l\n",
		"[DEFAULT]\nmap: echo def\ncache_time: 5\n[a]\nlist: x\n[b]\nmap: echo b\n",
		"[a] trailing\nmap: x\n[b]]\nmap: y\n", "[a]\r\nmap: x\r\n  y\r\n", "[a]\nmap: x\n\n[a]\nmap: y\n",
		"[a]\nmap: x\nMap: y\n", "map: x\n[a]\n", "[a]\nmap: x\njunk line\n = v\n[]\n",
		"[DEFAULT]\nroot: /r\n[Main]\nbase: %(root)s/etc\nconfdir: %(base)s/x 100%%\nbad: 50%\nmissing: %(nope)s\nloop: %(loop)s\n",
		"[routes]\na: %(x\n", "[DEFAULT]\nB: %(A)s2\n[routes]\nA: 1\na: x\nB: %%\n",
	} {
		f.Add(s, false, false)
		f.Add(s, true, true)
	}
	f.Fuzz(func(t *testing.T, text string, caseSensitive, stop bool) {
		c := NewConfigParser(ConfigOptions{CaseSensitive: caseSensitive, StopAtFirstError: stop})
		if err := c.ReadString(text, "f"); err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Kind == 0 || ce.Error() == "" || (stop && len(ce.more) > 0) {
				t.Fatalf("read error %#v", err)
			}
			return
		}
		for _, s := range append(c.Sections(), DefaultSection) {
			items, err := c.Items(s)
			if err != nil {
				var ce *ConfigError
				if !errors.As(err, &ce) || ce.Kind < ErrBadReference || ce.Error() == "" {
					t.Fatalf("items(%q) error %#v", s, err)
				}
				continue
			}
			for _, it := range items {
				if len(it.Value) > maxInterpolatedLen {
					t.Fatalf("%s.%s: %d bytes", s, it.Name, len(it.Value))
				}
				raw, err := c.GetRaw(s, it.Name)
				if err != nil || (!strings.Contains(raw, "%") && raw != it.Value) {
					t.Fatalf("%s.%s: raw %q, %v; item %q", s, it.Name, raw, err, it.Value)
				}
				if v, err := c.Get(s, it.Name); err != nil || v != it.Value {
					t.Fatalf("%s.%s: get %q, %v; item %q", s, it.Name, v, err, it.Value)
				}
			}
		}
	})
}
