package engine

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// walkGroups is a store's Walk as sorted "keys=message" strings.
func walkGroups[K interface {
	comparable
	~string
}](walk func(func([]byte, []K) bool)) string {
	var groups []string
	for msg, keys := range walk {
		slices.Sort(keys)
		groups = append(groups, fmt.Sprintf("%v=%q", keys, msg))
	}
	slices.Sort(groups)
	return strings.Join(groups, " ")
}

// TestOutputs checks Outputs against MsgTree, which gathers the same
// way: random lines from a small alphabet (so that messages repeat and
// share prefixes) added to random keys, keys ended, removed and given
// lines again after their end, with the same messages and groups at
// every step.
func TestOutputs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var tr MsgTree[string]
		var o Outputs[string]
		nkeys := 1 + rng.IntN(8)
		for step := range 60 {
			key := fmt.Sprintf("n%d", rng.IntN(nkeys))
			switch r := rng.IntN(10); {
			case r < 6:
				line := []byte(strings.Repeat("ab"[rng.IntN(2):][:1], rng.IntN(3)))
				tr.Add(key, line)
				o.Add(key, line)
			case r < 9:
				o.End(key)
			default:
				tr.Remove(key)
				o.Remove(key)
			}
			if o.Len() != tr.Len() {
				t.Fatalf("round %d step %d: Len %d, want %d", round, step, o.Len(), tr.Len())
			}
			for k := range nkeys {
				key := fmt.Sprintf("n%d", k)
				got, gok := o.Message(key)
				want, wok := tr.Message(key)
				if gok != wok || string(got) != string(want) {
					t.Fatalf("round %d step %d: Message(%s) = %q, %v; want %q, %v", round, step, key, got, gok, want, wok)
				}
			}
			if got, want := walkGroups(o.Walk()), walkGroups(tr.Walk()); got != want {
				t.Fatalf("round %d step %d: Walk\n%s\nwant\n%s", round, step, got, want)
			}
		}
	}
}

// TestOutputsFolds checks that identical outputs of ended keys are stored
// once, and that a folded message outlives the removal of some of its
// keys but not of all.
func TestOutputsFolds(t *testing.T) {
	var o Outputs[int]
	for k := range 3 {
		o.Add(k, []byte("same"))
		o.Add(k, []byte(""))
		o.End(k)
	}
	a, _ := o.Message(0)
	b, _ := o.Message(2)
	if &a[0] != &b[0] || len(o.folded) != 1 {
		t.Fatalf("identical ended outputs stored apart (%d folded)", len(o.folded))
	}
	o.Remove(0)
	o.Remove(1)
	if len(o.folded) != 1 {
		t.Fatal("a message still used was freed")
	}
	o.Remove(2)
	if len(o.folded) != 0 || o.Len() != 0 {
		t.Fatalf("%d folded messages, %d keys after every key was removed", len(o.folded), o.Len())
	}
}

// TestOutputsFollow checks that running keys printing the same lines
// share one buffer, that one whose lines differ copies what it shared,
// and that followers outlive their leader's removal.
func TestOutputsFollow(t *testing.T) {
	var o Outputs[string]
	for i := range 100 {
		for _, k := range []string{"lead", "f1", "f2"} {
			o.Add(k, fmt.Appendf(nil, "line %d", i))
		}
	}
	if o.keys["f1"].lead != o.keys["lead"] || o.keys["f2"].lead != o.keys["lead"] {
		t.Fatal("identical running outputs are not shared")
	}
	o.Remove("lead")
	o.Add("f1", []byte("line 100"))
	o.Add("f2", []byte("other"))
	if o.keys["f1"].lead != nil || o.keys["f2"].lead != nil {
		t.Fatal("a follower past its leader's end still follows")
	}
	if m, _ := o.Message("f2"); !strings.HasSuffix(string(m), "line 99\nother") || !strings.HasPrefix(string(m), "line 0\nline 1\n") {
		t.Errorf("f2: %.40q...", m)
	}
	if len(o.leaders) != 0 {
		t.Errorf("%d leaders left", len(o.leaders))
	}
}
