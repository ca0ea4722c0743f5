package integration

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/sshdtest"
)

// clubakToolCases are the clubak differential cases on the output of the
// tools clubak is fed in practice — pdsh, clush -L and csub -L (whose
// lines are "node: content"), dsh-like "node content" — gathered with -b
// as users run it, in line mode, with node set folding, with
// --interpret-keys and -S, and on large inputs (thousands of nodes, tens
// of thousands of lines) in the interleaved order parallel runs print.
func clubakToolCases() []clubakDiffCase {
	c := func(name, stdin string, args ...string) clubakDiffCase {
		return clubakDiffCase{name: "tool " + name, args: args, stdin: stdin}
	}
	uname := toolOutput(64, 1, func(n, _ int) string {
		if n%16 == 5 {
			return "Linux 6.1.0-18-amd64"
		}
		return "Linux 6.1.0-21-amd64"
	})
	// Several lines per node, interleaved as pdsh prints them, three
	// distinct outputs.
	df := toolOutput(40, 4, func(n, l int) string {
		switch {
		case l == 0:
			return "Filesystem      Size  Used Avail Use% Mounted on"
		case n%3 == 0:
			return fmt.Sprintf("/dev/sda%d        20G   %dG   %dG  %d%% /", l, l+4, 16-l, (l+4)*5)
		}
		return fmt.Sprintf("/dev/nvme0n1p%d   100G  %dG   %dG  %d%% /data", l, l+n%2, 100-l, l+1)
	})
	large := toolOutput(3000, 8, func(n, l int) string {
		if n%97 == 0 && l == 7 {
			return fmt.Sprintf("warning: disk %d almost full", n%5)
		}
		return fmt.Sprintf("line %d: ok", l)
	})
	padded := strings.Builder{}
	for i := range 2000 {
		fmt.Fprintf(&padded, "node%04d: %s\n", perm(i, 2000)+1, []string{"up", "up", "down"}[i%3])
	}
	return []clubakDiffCase{
		c("pdsh gathered", uname, "-b"),
		c("pdsh gathered all", uname, "-B"),
		c("pdsh line mode", uname, "-L"),
		c("pdsh line mode gathered", uname, "-bL"),
		c("pdsh no label", uname, "-bN"),
		c("pdsh regroup", uname, "-b", "-r"),
		c("pdsh keys always", uname, "-b", "--interpret-keys=always"),
		c("pdsh multi-line gathered", df, "-b"),
		c("pdsh multi-line line mode", df, "-L"),
		c("pdsh multi-line live", df),
		c("pdsh multi-line diff", df, "--diff"),
		c("pdsh multi-line tree", df, "-T"),
		c("pdsh multi-line fast", df, "-F", "-b"),
		c("pdsh fqdn", "n1.example.com: up\nn2.example.com: up\nn10.example.com: down\nlogin-a.example.com: up\n", "-b"),
		c("pdsh empty and spaced content", "n1: \nn2:\nn1:    indented\nn2:    indented\nn1: trailing  \nn2: trailing\n", "-b"),
		c("pdsh empty and spaced content line mode", "n1: \nn2:\nn1:    indented\nn2:\tindented\n", "-L"),
		c("pdsh stderr mixed", "n1: out\nn2: pdsh@admin: n2: ssh exited with exit code 255\nn1: more\n", "-b"),
		c("clush -L folded keys", "node[1-3]: same\nnode4: other\nnode[1-3]: second\nnode4: second\n", "-b"),
		c("clush -L folded keys line mode", "node[1-3]: same\nnode4: other\n", "-L"),
		c("clush -bL padded keys", "node[01-03]: a\nnode[04-05]: b\n", "-b"),
		c("csub groups keys", "@racks:rack1: up\n@racks:rack2: up\n", "-b", "-S", ": "),
		c("dsh separator space", "n1 up 3 days\nn2 up 3 days\nn3 up 1 day\n", "-b", "-S", " "),
		c("separator colon space", "n1: a: b\nn2: a: b\nn3: a:b\n", "-b", "-S", ": "),
		c("separator keys never", "n1: a\nn2: b\n", "-L", "-S", ": ", "--interpret-keys=never"),
		c("large gathered", large, "-b"),
		c("large line mode", large, "-L"),
		c("large line mode gathered", large, "-bL"),
		c("large regroup", large, "-b", "-r"),
		c("large diff", large, "--diff", "-q"),
		c("large padded folding", padded.String(), "-b"),
		c("large padded line mode gathered", padded.String(), "-bL"),
	}
}

// toolOutput is the output of a command run on nodes n[1-nodes] by pdsh:
// each node's lines (line(n, l) for l < lines) in its own order, nodes
// interleaved in a fixed pseudo-random order, as parallel runs print.
func toolOutput(nodes, lines int, line func(n, l int) string) string {
	var b strings.Builder
	next := make([]int, nodes)
	for step := range nodes * lines {
		n := perm(step, nodes)
		for next[n] >= lines {
			n = (n + 1) % nodes
		}
		fmt.Fprintf(&b, "n%d: %s\n", n+1, line(n+1, next[n]))
		next[n]++
	}
	return b.String()
}

// perm is a fixed pseudo-random permutation of [0, n) for i in [0, n)
// (and some value of [0, n) for larger i).
func perm(i, n int) int {
	return (i*7919 + 13) % n
}

// TestClubakDiffRealTools feeds both clubaks the output the real tools
// print: pdsh (its exec module, nodes interleaved as they answer),
// ClusterShell's clush -L and -bL and our csub -L and -bL, each running
// the same commands on 40 nodes with -R exec; every input is gathered
// with -b, -L, -bL and -b -r.
func TestClubakDiffRealTools(t *testing.T) {
	clubak, _, env := clubakDiffSetup(t)
	requireReference(t, "/usr/bin/clush", "")
	if _, err := exec.LookPath("pdsh"); err != nil {
		sshdtest.SkipUnlessRequired(t, "pdsh not installed (apt-get install pdsh)")
	}
	csub := ourBinary(t, "FLEETSH_CSUB_OURS", "csub")
	const nodes, script = "n[1-40]", `echo kernel 6.1; echo node %h; case %h in n1*) echo teen;; esac`
	tools := []struct {
		name string
		bin  string
		args []string
	}{
		{"pdsh", "pdsh", []string{"-R", "exec", "-f", "8", "-w", nodes, "sh", "-c", script}},
		{"clush -L", "/usr/bin/clush", []string{"-R", "exec", "-L", "-w", nodes, script}},
		{"clush -bL", "/usr/bin/clush", []string{"-R", "exec", "-bL", "-w", nodes, script}},
		{"csub -L", csub, []string{"-R", "exec", "-L", "-w", nodes, script}},
		{"csub -bL", csub, []string{"-R", "exec", "-bL", "-w", nodes, script}},
	}
	for _, tool := range tools {
		p, err := runProc(t.TempDir(), tool.bin, tool.args, env, strings.NewReader(""), 2*time.Minute)
		if err != nil || p.status != 0 || !strings.Contains(p.stdout, "n40: node n40") && !strings.Contains(p.stdout, ": node n40") {
			t.Fatalf("%s: %v, status %d, stdout %q, stderr %q", tool.name, err, p.status, p.stdout, p.stderr)
		}
		for _, args := range [][]string{{"-b"}, {"-L"}, {"-bL"}, {"-b", "-r"}} {
			d, err := clubakDiffBoth(clubak, args, p.stdout, env)
			if err != nil {
				t.Fatal(err)
			}
			if d != "" {
				t.Errorf("%s | clubak %q:\n%s", tool.name, args, d)
			}
		}
	}
}
