package nodeset

import (
	"os"
	"path/filepath"
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
