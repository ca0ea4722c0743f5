package exec

import (
	"bytes"
	"encoding/json"
	"errors"
	osexec "os/exec"
	"testing"

	"github.com/fleetsh/fleetsh/internal/testreq"
)

// placeholderCases were checked against ClusterShell 1.9.1 (clush -R exec)
// and Python 3.11's string.Template; TestSubstituteMatchesPython re-checks
// them, and more, against the local python3 when there is one.
var placeholderCases = []struct {
	pattern, node string
	rank          int
	want, err     string
}{
	{pattern: "echo %h rank=%n", node: "node1", rank: 3, want: "echo node1 rank=3"},
	{pattern: "%host %{host} %{h} %rank %{n} %{rank}", node: "n", rank: 7, want: "n n n 7 7 7"},
	{pattern: "echo %hosts", node: "node[1-3]", want: "echo node[1-3]"},
	{pattern: "echo 100%% done", node: "n", want: "echo 100% done"},
	{pattern: "%%h %%%h", node: "n", want: "%h %n"},
	{pattern: "%h-ib0:%h.%n", node: "a", rank: 1, want: "a-ib0:a.1"},
	{pattern: "no placeholder", node: "a", want: "no placeholder"},
	{pattern: "", node: "a", want: ""},
	{pattern: "ünïcode %h é", node: "nœud", want: "ünïcode nœud é"},
	{pattern: "echo 100% done", err: "Invalid placeholder in string: line 1, col 9 is not a valid pattern, use '%%' to escape '%'"},
	{pattern: "echo %foo", err: "'foo' is not a valid pattern, use '%%' to escape '%'"},
	{pattern: "echo %H", err: "'H' is not a valid pattern, use '%%' to escape '%'"},
	{pattern: "echo %hostname", err: "'hostname' is not a valid pattern, use '%%' to escape '%'"},
	{pattern: "echo %h1", err: "'h1' is not a valid pattern, use '%%' to escape '%'"},
	{pattern: "echo a\nb %", err: "Invalid placeholder in string: line 2, col 3 is not a valid pattern, use '%%' to escape '%'"},
	{pattern: "a\r\nb\rc\n\n%{", err: "Invalid placeholder in string: line 5, col 1 is not a valid pattern, use '%%' to escape '%'"},
	{pattern: "é%1", err: "Invalid placeholder in string: line 1, col 2 is not a valid pattern, use '%%' to escape '%'"},
	{pattern: "%{h", err: "Invalid placeholder in string: line 1, col 1 is not a valid pattern, use '%%' to escape '%'"},
	{pattern: "%{ h}", err: "Invalid placeholder in string: line 1, col 1 is not a valid pattern, use '%%' to escape '%'"},
	{pattern: "%h %zz %", err: "'zz' is not a valid pattern, use '%%' to escape '%'"},
	{pattern: "%h\v\f\x1c%", err: "Invalid placeholder in string: line 4, col 1 is not a valid pattern, use '%%' to escape '%'"},
	{pattern: "x\u2028yy%-", err: "Invalid placeholder in string: line 2, col 3 is not a valid pattern, use '%%' to escape '%'"},
	{pattern: "%_x", err: "'_x' is not a valid pattern, use '%%' to escape '%'"},
}

func TestSubstitute(t *testing.T) {
	for _, c := range placeholderCases {
		got, err := Substitute(c.pattern, c.node, c.rank)
		if c.err != "" {
			var pe *PlaceholderError
			if !errors.As(err, &pe) || pe.Msg != c.err {
				t.Errorf("Substitute(%q): err %v, want %q", c.pattern, err, c.err)
			}
			if Validate(c.pattern) == nil {
				t.Errorf("Validate(%q) = nil", c.pattern)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Substitute(%q, %q, %d) = %q, %v; want %q", c.pattern, c.node, c.rank, got, err, c.want)
		}
	}
}

func TestRunsOnce(t *testing.T) {
	for s, want := range map[string]bool{
		"echo %hosts": true, "echo %{hosts}": true, "echo %%hosts": true,
		"echo %host": false, "echo %h": false, "hosts": false,
	} {
		if RunsOnce(s) != want {
			t.Errorf("RunsOnce(%q) != %v", s, want)
		}
	}
}

// pythonTemplate is ClusterShell's _replace_cmd, run by python3.
const pythonTemplate = `
import json, sys
from string import Template
class R(Template):
    delimiter = '%'
out = []
for pat, node, rank in json.load(sys.stdin):
    try:
        out.append([R(pat).substitute({'h': node, 'host': node, 'hosts': node, 'n': rank, 'rank': rank}), ""])
    except (KeyError, ValueError) as e:
        out.append(["", "%s is not a valid pattern, use '%%%%' to escape '%%'" % e])
json.dump(out, sys.stdout)
`

// TestSubstituteMatchesPython compares Substitute with Python's Template on
// the table above and on a set of odd patterns.
func TestSubstituteMatchesPython(t *testing.T) {
	py := testreq.LookPath(t, testreq.Python3, "python3")
	type in struct {
		pat, node string
		rank      int
	}
	var ins []in
	for _, c := range placeholderCases {
		ins = append(ins, in{c.pattern, c.node, c.rank})
	}
	for _, p := range []string{"%", "%%", "%%%", "%{", "%{}", "%{1}", "%{h}}", "%h%n%%%", "%{_}",
		"a\x85b%", "\r%", "\r\n%", "tab\t%9", "%Hosts", "%{hosts", "%rank0", "%n_", "%h.%h",
		"\n\n\n  %{hosts}\n%!"} {
		ins = append(ins, in{p, "nd1", 2})
	}
	var args [][3]any
	for _, i := range ins {
		args = append(args, [3]any{i.pat, i.node, i.rank})
	}
	input, _ := json.Marshal(args)
	cmd := osexec.Command(py, "-c", pythonTemplate)
	cmd.Stdin = bytes.NewReader(input)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	var want [][2]string
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	for k, i := range ins {
		got, err := Substitute(i.pat, i.node, i.rank)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if got != want[k][0] || gotErr != want[k][1] {
			t.Errorf("Substitute(%q) = %q, %q; python: %q, %q", i.pat, got, gotErr, want[k][0], want[k][1])
		}
	}
}

func FuzzSubstitute(f *testing.F) {
	for _, c := range placeholderCases {
		f.Add(c.pattern, "node1")
	}
	for _, n := range craftedNames("/tmp/x") {
		f.Add("echo %h", n)
	}
	f.Fuzz(func(t *testing.T, s, node string) {
		substituteKeepsWord(t, node)
		out, err := Substitute(s, "N", 5)
		if err == nil && !RunsOnce(s) && len(out) > 2*len(s)+1 {
			t.Fatalf("output %q too long for %q", out, s)
		}
		if err != nil && Validate(s) == nil {
			t.Fatalf("Validate(%q) accepts what Substitute rejects", s)
		}
	})
}
