package nodeset

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// groupsConfSeeds are groups.conf texts of the tests, Debian's example and
// the faults groups_test.go checks.
func groupsConfSeeds(f *testing.F) {
	for _, p := range []string{"testdata/groups/groups.conf", "testdata/groups/groups.d/local.cfg"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	for _, s := range []string{
		"[Main]\ndefault: local\n[local]\nmap: echo a\nall: echo b\nlist: echo c\nreverse: echo d\ncache_time: 5\n",
		"[Main]\ndefault: %(x)s\nx: a\n[a,b]\nmap: echo %(x)s $GROUP\n",
		"[Main]\nconfdir: '$CFGDIR/a b' \"c\nautodir: $CFGDIR/d\n",
		"[DEFAULT]\nmap: echo def\n[s]\ncache_time: 1_0\n[t]\ncache_time: x\n",
		"[Main]\ndefault: nope\n",
		"[Main]\ngroupsdir: $CFGDIR\n[s]\nlist: x\n",
		"map: y\n", "[a]\nmap: x\n\n[a]\n", "[a]\nmap: 50%\n[Main]\ndefault: %\n",
	} {
		f.Add(s)
	}
}

// FuzzGroupsConf loads arbitrary groups.conf files: LoadResolver must not
// panic or hang, and must fail only with a *ConfigError. (It runs no upcall:
// commands run when groups are queried, which this target never does.)
func FuzzGroupsConf(f *testing.F) {
	groupsConfSeeds(f)
	f.Fuzz(func(t *testing.T, conf string) {
		p := filepath.Join(t.TempDir(), "groups.conf")
		if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := LoadResolver(p)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Msg == "" {
				t.Fatalf("LoadResolver error %T %v, want a *ConfigError", err, err)
			}
			return
		}
		for _, s := range r.Sources() {
			if _, err := r.source(s); err != nil {
				t.Fatalf("source %q listed but not found: %v", s, err)
			}
		}
	})
}

// FuzzGroupsYAML decodes arbitrary group files (autodir's *.yaml): no
// panic, no hang, no unbounded allocation (aliases are bounded by
// yamlMaxNodes), errors are *ConfigError naming the file, and every
// source listed is there with every group it names.
func FuzzGroupsYAML(f *testing.F) {
	data, err := os.ReadFile("testdata/groups/groups.d/cluster.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	for _, s := range []string{
		"src:\n  g: n[1-2]\n  h: [a, b]\n  e: ~\n  n: 5\n",
		"- a\n- b\n", "# nothing\n", "src: 'a'\n", "src:\n", "1: {a: b}\n", "on: {a: b}\n", "~: {a: b}\n",
		"src:\n  0x1F: a\n", "src:\n  010: a\n", "src:\n  1.5: a\n", "src:\n  No: a\n", "src:\n  1:30: a\n",
		"src:\n  1.0e+5: a\n", "src:\n  g: {a: b}\n", "a: {b: c}\n---\nd: {e: f}\n", "a: [b\n",
		"a: &x {g: [n1, n2]}\nb: *x\n", "a: {<<: {g: x}, h: y}\n", "\xff: {a: b}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		order, sources, err := parseYAMLSources("g.yaml", data)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || len(ce.Msg) < len("g.yaml: x") || ce.Msg[:8] != "g.yaml: " {
				t.Fatalf("error %T %v, want a *ConfigError naming the file", err, err)
			}
			return
		}
		if len(order) != len(sources) {
			t.Fatalf("%d sources in order, %d in the map", len(order), len(sources))
		}
		for _, name := range order {
			g := sources[name]
			if g == nil {
				t.Fatalf("source %q listed but missing", name)
			}
			for _, n := range g.names {
				if _, ok := g.vals[n]; !ok {
					t.Fatalf("group %q of %q listed but missing", n, name)
				}
			}
		}
	})
}
