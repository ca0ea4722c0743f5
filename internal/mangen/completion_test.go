package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/testreq"
)

// completionCase is a command line completed at its end, and the
// candidates the completion must offer: all of want (in any order), and
// with exact, nothing else.
type completionCase struct {
	line  string
	want  []string
	exact bool
}

// completionEnv runs the completion with the built nodeset first in PATH
// and the groups.conf fixture (two sources) as the only one.
func completionEnv(t *testing.T) []string {
	fixture, err := filepath.Abs("testdata/groups.conf")
	if err != nil {
		t.Fatal(err)
	}
	cfg := t.TempDir()
	data, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg, "groups.conf"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	return append(os.Environ(), "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "CLUSTERSHELL_CFGDIR="+cfg)
}

// checkCandidates compares what a completion offered with c.
func checkCandidates(t *testing.T, shell string, c completionCase, got []string) {
	t.Helper()
	for _, w := range c.want {
		if !slices.Contains(got, w) {
			t.Errorf("%s %q: got %q, want %q among them", shell, c.line, got, w)
			return
		}
	}
	if c.exact && len(got) != len(c.want) {
		t.Errorf("%s %q: got %q, want exactly %q", shell, c.line, got, c.want)
	}
}

// The cases both shells run. Bash completes the part of a word after its
// last COMP_WORDBREAKS character ('@', ':' and '=' by default), so its
// candidates lack what precedes: bashWant gives them when they differ.
var completionCases = []struct {
	completionCase
	bashWant []string
}{
	{completionCase: completionCase{line: "csub --col", want: []string{"--color"}, exact: true}},
	{completionCase: completionCase{line: "csub --color ", want: []string{"never", "always", "auto"}, exact: true}},
	{completionCase: completionCase{line: "csub --color=al", want: []string{"always"}, exact: true}},
	{completionCase: completionCase{line: "csub -R ", want: []string{"exec", "ssh", "openssh", "rsh", "pdsh"}, exact: true}},
	{completionCase: completionCase{line: "csub -w @", want: []string{"@compute", "@gpu", "@rack:r1", "@rack:r2"}, exact: true},
		bashWant: []string{"compute", "gpu", "rack:r1", "rack:r2"}},
	{completionCase: completionCase{line: "csub -w node1,@c", want: []string{"@compute"}, exact: true},
		bashWant: []string{"compute"}},
	{completionCase: completionCase{line: "csub -w @rack:", want: []string{"@rack:r1", "@rack:r2"}, exact: true},
		bashWant: []string{"r1", "r2"}},
	{completionCase: completionCase{line: "csub -g ", want: []string{"compute", "gpu"}, exact: true}},
	{completionCase: completionCase{line: "csub -s rack -g ", want: []string{"r1", "r2"}, exact: true}},
	{completionCase: completionCase{line: "csub -X g", want: []string{"gpu"}, exact: true}},
	{completionCase: completionCase{line: "csub -s ", want: []string{"local", "rack"}, exact: true}},
	{completionCase: completionCase{line: "csub -b j", want: []string{"jobs"}}},
	{completionCase: completionCase{line: "csub -b a", want: []string{"attach"}}},
	{completionCase: completionCase{line: "nodeset -f @", want: []string{"@compute", "@gpu", "@rack:r1", "@rack:r2"}, exact: true},
		bashWant: []string{"compute", "gpu", "rack:r1", "rack:r2"}},
	{completionCase: completionCase{line: "nodeset --groupsou", want: []string{"--groupsource", "--groupsources"}, exact: true}},
	{completionCase: completionCase{line: "clubak --interpret-keys ", want: []string{"never", "always", "auto"}, exact: true}},
	{completionCase: completionCase{line: "clubak -", want: []string{"-b", "-c", "-L", "-S", "--interpret-keys", "--dshbak"}}},
}

// TestBashCompletion sources each generated bash completion in a
// non-interactive bash, sets COMP_LINE, COMP_POINT, COMP_WORDS and
// COMP_CWORD as bash does for the line, calls the function and reads
// COMPREPLY.
func TestBashCompletion(t *testing.T) {
	needSetup(t)
	bash := testreq.LookPath(t, testreq.Bash, "bash")
	env := completionEnv(t)
	const script = `source "$1"
line=$2
COMP_LINE=$line COMP_POINT=${#line}
# bash's own split: at blanks and at the word breaks, which are words too.
mapfile -t COMP_WORDS < <(grep -oE "[^ $3]+|[$3]" <<< "$line")
COMP_CWORD=${#COMP_WORDS[@]}
if [[ $line == *" " || $line == *[$3] ]]; then COMP_WORDS+=(""); else COMP_CWORD=$((COMP_CWORD - 1)); fi
COMP_WORDBREAKS=$3
"$4" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
`
	for _, c := range completionCases {
		prog, _, _ := strings.Cut(c.line, " ")
		want := c.completionCase
		if c.bashWant != nil {
			want.want = c.bashWant
		}
		cmd := exec.CommandContext(hangCatcher(t), bash, "-c", script, "bash",
			filepath.Join(root, "completions/bash", prog), c.line, `@:=`, "_fleetsh_"+prog)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("bash %q: %v", c.line, err)
			continue
		}
		checkCandidates(t, "bash", want, lines(string(out)))
	}
}

// TestZshCompletion runs the generated zsh completion in an interactive
// zsh on a pseudo-terminal (testdata/zcap.zsh, with zsh/zpty): it types
// the line and a Tab, and records what the completion system offers.
func TestZshCompletion(t *testing.T) {
	needSetup(t)
	zsh := testreq.LookPath(t, testreq.Zsh, "zsh")
	env := completionEnv(t)
	fpath := filepath.Join(root, "completions/zsh")
	// One session for every case: compinit alone may take seconds.
	args := []string{"-f", "testdata/zcap.zsh", fpath}
	for _, c := range completionCases {
		args = append(args, c.line)
	}
	cmd := exec.CommandContext(hangCatcher(t), zsh, args...)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("zsh: %v\n%s", err, out)
	}
	results := strings.Split(string(out), "<CASE>\n")[1:]
	if len(results) != len(completionCases) {
		t.Fatalf("zsh: %d results for %d cases:\n%s", len(results), len(completionCases), out)
	}
	for i, c := range completionCases {
		got := lines(results[i])
		slices.Sort(got)
		checkCandidates(t, "zsh", c.completionCase, slices.Compact(got))
	}
}

// lines are the non-empty lines of s.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimRight(l, "\r"); l != "" {
			out = append(out, l)
		}
	}
	return out
}
