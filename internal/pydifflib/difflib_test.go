package pydifflib

import (
	"encoding/json"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/testreq"
)

func TestUnifiedDiff(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want string
	}{
		{"a b c", "a b c", ""},
		{"common normal end", "common special end",
			"--- A\n+++ B\n@@ -1,3 +1,3 @@\n common\n-normal\n+special\n end"},
		{"a", "a b", "--- A\n+++ B\n@@ -1 +1,2 @@\n a\n+b"},
		{"", "x", "--- A\n+++ B\n@@ -0,0 +1 @@\n+x"},
		{"x", "", "--- A\n+++ B\n@@ -1 +0,0 @@\n-x"},
		// Two hunks: more than 6 equal lines between the changes.
		{"1 2 3 4 5 6 7 8 9 10 11", "0 2 3 4 5 6 7 8 9 10 12",
			"--- A\n+++ B\n@@ -1,4 +1,4 @@\n-1\n+0\n 2\n 3\n 4\n@@ -8,4 +8,4 @@\n 8\n 9\n 10\n-11\n+12"},
	} {
		got := strings.Join(UnifiedDiff(strings.Fields(c.a), strings.Fields(c.b), "A", "B"), "\n")
		if got != c.want {
			t.Errorf("%q vs %q:\n got %q\nwant %q", c.a, c.b, got, c.want)
		}
	}
}

// TestAgainstPython compares random diffs, long ones included (autojunk
// starts at 200 lines), with Python's difflib when python3 is installed.
func TestAgainstPython(t *testing.T) {
	py := testreq.LookPath(t, testreq.Python3, "python3")
	rng := rand.New(rand.NewPCG(1, 2))
	type pair struct{ A, B []string }
	var cases []pair
	for i := range 300 {
		n, alpha := rng.IntN(12), 1+rng.IntN(5)
		if i%10 == 0 {
			n, alpha = 150+rng.IntN(250), 2+rng.IntN(40)
		}
		gen := func() []string {
			s := make([]string, 0, n)
			for range n + rng.IntN(3) {
				s = append(s, string(rune('a'+rng.IntN(alpha))))
			}
			return s
		}
		a := gen()
		b := slices.Clone(a)
		for range 1 + rng.IntN(4) {
			if len(b) > 0 {
				b[rng.IntN(len(b))] = string(rune('A' + rng.IntN(3)))
			}
		}
		if rng.IntN(3) == 0 {
			b = gen()
		}
		cases = append(cases, pair{a, b})
	}
	in, _ := json.Marshal(cases)
	cmd := exec.Command(py, "-c", `
import difflib, json, sys
out = []
for c in json.load(sys.stdin):
    out.append(list(difflib.unified_diff(c["A"], c["B"], "A", "B", lineterm="")))
json.dump(out, sys.stdout)
`)
	cmd.Stdin = strings.NewReader(string(in))
	data, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	var want [][]string
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		got := UnifiedDiff(c.A, c.B, "A", "B")
		if !slices.Equal(got, want[i]) {
			t.Fatalf("case %d (%d vs %d lines):\n got %q\nwant %q", i, len(c.A), len(c.B), got, want[i])
		}
	}
}
