package golden

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestShellSplit(t *testing.T) {
	for in, want := range map[string][]string{
		`nodeset -f 'a b' "c\"d" $'e\nf\x41' g\ h`: {"nodeset", "-f", "a b", `c"d`, "e\nfA", "g h"},
		`csub -w 'n[1-2]' 'echo '"'"'x'"'"`:        {"csub", "-w", "n[1-2]", "echo 'x'"},
	} {
		if got, err := ShellSplit(in); err != nil || !slices.Equal(got, want) {
			t.Errorf("ShellSplit(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{`a 'b`, `a "b`, `a $'b`, `a \`, `$'\q'`} {
		if _, err := ShellSplit(in); err == nil {
			t.Errorf("ShellSplit(%q) accepted", in)
		}
	}
}

func TestParseFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cases.txt")
	data := "header\n=== one\n$ prog -a 'b c'\n<<< stdin noeol\nin\n>>> stdout\nout\n>>> stderr\n>>> exit 2\n# after\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	cases, err := ParseFile(path, "prog")
	if err != nil || len(cases) != 1 {
		t.Fatalf("%v, %v", cases, err)
	}
	c := cases[0]
	if c.Name != "one" || c.Line != 2 || c.Cmd != "prog -a 'b c'" || !slices.Equal(c.Args, []string{"-a", "b c"}) ||
		c.Stdin != "in" || c.Stdout != "out\n" || c.Stderr != "" || c.Exit != 2 {
		t.Errorf("%+v", c)
	}
	for _, bad := range []string{
		"=== a\n$ other\n",                        // another program
		"=== a\n$ prog\n>>> stdout\n>>> exit 0\n", // no stderr section
		"=== a\n$ prog\n>>> stdout\n>>> stderr\n>>> exit 0\n=== a\n$ prog\n>>> stdout\n>>> stderr\n>>> exit 0\n", // twice
	} {
		if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ParseFile(path, "prog"); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
