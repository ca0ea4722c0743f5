package exec

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/pyshlex"
	"github.com/fleetsh/fleetsh/pkg/engine"
)

// craftedNames are node names (nodeset accepts them all) that run
// "touch marker" if a shell reads them unquoted, in single or in double
// quotes.
func craftedNames(marker string) []string {
	return []string{
		"a;touch " + marker,
		"a$(touch " + marker + ")",
		"a`touch " + marker + "`",
		"a|touch " + marker,
		"a&&touch " + marker,
		"a'$(touch " + marker + ")'",
		"a';touch " + marker + ";'",
		`a";touch ` + marker + `;"`,
		`a\";touch ` + marker + `;\"`,
		"a\ntouch " + marker,
		"a>" + marker,
		"a\\",
		"'",
		`"`,
		"$",
		"",
		"~root",
		"#",
		"a b",
	}
}

// TestSubstituteNoInjection runs "printf" commands through sh with
// crafted node names in every quoting a command can give %h, and checks
// that nothing else ran and that each name came out as it went in.
func TestSubstituteNoInjection(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "injected")
	for _, cmd := range []string{
		`printf '[%%s]\n' %h`,
		`printf '[%%s]\n' '%h'`,
		`printf '[%%s]\n' "%h"`,
		`printf '[%%s]\n' x%{h}y`,
		`printf '[%%s]\n' 'x%{h}y'`,
		`printf '[%%s]\n' "x%{h}y"`,
		`printf '[%%s]\n' \%h`,
		`printf '[%%s]\n' "\%h"`,
		`printf '[%%s]\n' %hosts`,
		`printf '[%%s]\n' "$(printf '%%s' "%h")"`,
		`printf '[%%s]\n' "$(printf '%%s' %h)"`,
		"printf '[%%s]\\n' \"`printf '%%s' %h`\"",
		`printf '[%%s]\n' "$( (printf '%%s' "%h") )"`,
	} {
		for _, node := range craftedNames(marker) {
			if node == "" && strings.Contains(cmd, `\%h`) {
				continue // the command's backslash then quotes what follows, as with clush
			}
			res, out, errOut := run(t, t.Context(), &engine.Job{Node: node, Nodes: []string{node}, Command: strings.Replace(cmd, "%hosts", "%h", 1)}, true)
			if _, err := os.Stat(marker); err == nil {
				t.Fatalf("%q with node %q ran the injected command (out %q)", cmd, node, out)
			}
			want := node
			switch {
			case strings.Contains(cmd, "x%{h}y"):
				want = "x" + node + "y"
			case strings.Contains(cmd, `\%h`) && !strings.Contains(cmd, `"`) && isPlainName(node) && node != "":
				want = node // the backslash quoted the first letter
			}
			if res.Err != nil || res.ExitCode != 0 || out != "["+want+"]\n" {
				t.Errorf("%q with node %q: %d %v, out %q, stderr %q; want [%s]", cmd, node, res.ExitCode, res.Err, out, errOut, want)
			}
		}
	}
}

// TestSubstitutePlainUnchanged: usual names, addresses and folded sets
// are inserted byte for byte as ClusterShell does.
func TestSubstitutePlainUnchanged(t *testing.T) {
	for _, node := range []string{"node1", "gpu01,node[1-3]", "10.0.0.1", "fe80::1", "user@host", "a-b_c.d", "x/y+z", ""} {
		got, err := Substitute("ssh %h 'echo %h' \"%h\"", node, 0)
		if want := "ssh " + node + " 'echo " + node + "' \"" + node + "\""; err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", node, got, err, want)
		}
	}
	// Paths for cp are no shell's: inserted as they are.
	if got, _ := SubstitutePath("/tmp/%h.log", "a;b 'c'", 0); got != "/tmp/a;b 'c'.log" {
		t.Errorf("SubstitutePath: %q", got)
	}
}

// substituteKeepsWord is FuzzSubstitute's property: a name substituted
// unquoted or in single quotes is one shell word, the name itself.
func substituteKeepsWord(t *testing.T, node string) {
	if strings.ContainsRune(node, 0) {
		return
	}
	for _, pattern := range []string{"echo %h end", "echo '%h' end", "echo x%{h}y end"} {
		out, err := Substitute(pattern, node, 0)
		if err != nil {
			t.Fatalf("%q: %v", pattern, err)
		}
		words, err := pyshlex.Split(out)
		if err != nil {
			t.Fatalf("%q with %q: %q does not split: %v", pattern, node, out, err)
		}
		want := node
		if strings.Contains(pattern, "x%{h}y") {
			want = "x" + node + "y"
		}
		if want == "" && !strings.Contains(pattern, "'") {
			if !slices.Equal(words, []string{"echo", "end"}) {
				t.Fatalf("%q with empty node: %q", pattern, words)
			}
			continue
		}
		if !slices.Equal(words, []string{"echo", want, "end"}) {
			if isPlainName(node) && strings.ContainsAny(node, "\t\n\r ") {
				continue
			}
			t.Fatalf("%q with node %q: %q splits into %q", pattern, node, out, words)
		}
	}
}
