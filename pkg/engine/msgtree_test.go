package engine

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestMsgTree checks messages that share a prefix, branch, repeat a line,
// hold empty lines, and are removed; Walk gives each distinct message once
// with its keys.
func TestMsgTree(t *testing.T) {
	var tr MsgTree[string]
	add := func(key string, lines ...string) {
		for _, l := range lines {
			tr.Add(key, []byte(l))
		}
	}
	add("n1", "a", "b", "c")
	add("n2", "a", "b", "c")
	add("n3", "a", "x", "", "x")
	add("n4", "a")
	add("n5", "b", "b")
	if tr.Len() != 5 {
		t.Fatalf("Len = %d", tr.Len())
	}
	want := map[string]string{"n1": "a\nb\nc", "n2": "a\nb\nc", "n3": "a\nx\n\nx", "n4": "a", "n5": "b\nb"}
	for k, w := range want {
		msg, ok := tr.Message(k)
		if !ok || string(msg) != w {
			t.Errorf("Message(%s) = %q, %v; want %q", k, msg, ok, w)
		}
		var lines []string
		for _, l := range tr.Lines(k) {
			lines = append(lines, string(l))
		}
		if got := strings.Join(lines, "\n"); got != w {
			t.Errorf("Lines(%s) = %q, want %q", k, lines, w)
		}
	}
	if _, ok := tr.Message("n9"); ok || tr.Lines("n9") != nil {
		t.Error("a key without output has a message")
	}
	var groups []string
	for msg, keys := range tr.Walk() {
		slices.Sort(keys)
		groups = append(groups, fmt.Sprintf("%v=%q", keys, msg))
	}
	slices.Sort(groups)
	if got := strings.Join(groups, " "); got != `[n1 n2]="a\nb\nc" [n3]="a\nx\n\nx" [n4]="a" [n5]="b\nb"` {
		t.Errorf("Walk: %s", got)
	}
	// A line added later must not change a shared message.
	tr.Add("n2", []byte("d"))
	if msg, _ := tr.Message("n1"); string(msg) != "a\nb\nc" {
		t.Errorf("n1 changed with n2: %q", msg)
	}
	tr.Remove("n1")
	if _, ok := tr.Message("n1"); ok || tr.Len() != 4 {
		t.Error("Remove left n1")
	}
	tr.Clear()
	if tr.Len() != 0 {
		t.Error("Clear left keys")
	}
}
