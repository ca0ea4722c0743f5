package nodeset

import (
	"os"
	"path/filepath"
	"testing"
)

// A broken groups.conf only matters once groups are used.
func TestLazyResolver(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "groups.conf")
	if err := os.WriteFile(bad, []byte("[Main\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l := NewLazyResolver(bad)
	p := &Parser{Resolver: l}
	if ns, err := p.Parse("n[1-3]"); err != nil || ns.Len() != 3 {
		t.Fatalf("plain set with a bad groups.conf: %v", err)
	}
	if _, err := p.Parse("@g"); err == nil {
		t.Error("group with a bad groups.conf parsed")
	}
	if l.Sources() != nil || l.DefaultSource() != "" || l.HasNodeGroups("") || l.SetDefaultSource("x") == nil {
		t.Error("bad configuration answered")
	}

	good := filepath.Join(dir, "good.conf")
	if err := os.WriteFile(good, []byte("[Main]\ndefault: local\n[local]\nmap: echo n1 n2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l = NewLazyResolver(good)
	nodes, err := l.GroupNodes("", "g")
	if err != nil || len(nodes) != 2 || l.DefaultSource() != "local" {
		t.Errorf("GroupNodes %v %v, default %q", nodes, err, l.DefaultSource())
	}
}
