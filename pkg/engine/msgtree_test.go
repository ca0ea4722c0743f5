package engine

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unsafe"
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

// TestMsgTreeWalkTree checks ClusterShell's walk order (the example of
// clubak -T: a line before its followers, the newest sibling first), the
// children counts, the keys ending at each line, and Depth.
func TestMsgTreeWalkTree(t *testing.T) {
	var tr MsgTree[string]
	for _, kv := range [][2]string{{"b", "1"}, {"a", "2"}, {"c", "1"}, {"b", "x"}, {"c", "y"}, {"b", "z"}} {
		tr.Add(kv[0], []byte(kv[1]))
	}
	var got []string
	for l := range tr.WalkTree() {
		keys := slices.Clone(l.Keys)
		slices.Sort(keys)
		got = append(got, fmt.Sprintf("%s/%d/%d/%s", l.Line, l.Depth, l.Children, strings.Join(keys, ",")))
	}
	want := []string{"2/1/0/a", "1/1/2/", "y/2/0/c", "x/2/1/", "z/3/0/b"}
	if !slices.Equal(got, want) {
		t.Errorf("WalkTree = %q, want %q", got, want)
	}
	if d := tr.Depth(); d != 3 {
		t.Errorf("Depth = %d, want 3", d)
	}
	var empty MsgTree[int]
	for range empty.WalkTree() {
		t.Error("an empty tree yields a line")
	}
	if empty.Depth() != 0 {
		t.Error("an empty tree has a depth")
	}
}

// TestMsgElemSize keeps an element in the 48-byte size class.
func TestMsgElemSize(t *testing.T) {
	if n := unsafe.Sizeof(msgElem{}); n > 48 {
		t.Errorf("msgElem is %d bytes, want at most 48", n)
	}
}

// TestMsgTreePrune: in a pruned tree, removing a key frees the lines no
// other key's message goes through, keeps the ones still used (a shared
// prefix, a message another key ends at), and the tree stays right: same
// messages, same walk order, new keys after a freed branch.
func TestMsgTreePrune(t *testing.T) {
	var tr MsgTree[string]
	tr.Prune()
	add := func(key string, lines ...string) {
		for _, l := range lines {
			tr.Add(key, []byte(l))
		}
	}
	add("n1", "a", "b", "c")
	add("n2", "a", "b", "c")
	add("n3", "a", "x", "y")
	add("n4", "a", "b")
	add("n5", "q")
	elems := func() int {
		n := 0
		for range tr.WalkTree() {
			n++
		}
		return n
	}
	if n := elems(); n != 6 { // a b c x y q
		t.Fatalf("%d lines, want 6", n)
	}
	tr.Remove("n1") // n2 still ends at c
	tr.Remove("n3") // x y freed, a kept
	tr.Remove("n5") // q freed
	if n := elems(); n != 3 {
		t.Errorf("%d lines after removals, want 3 (a b c)", n)
	}
	for k, w := range map[string]string{"n2": "a\nb\nc", "n4": "a\nb"} {
		if msg, ok := tr.Message(k); !ok || string(msg) != w {
			t.Errorf("Message(%s) = %q, %v", k, msg, ok)
		}
	}
	tr.Remove("n2") // c freed, b kept for n4
	if n := elems(); n != 2 {
		t.Errorf("%d lines, want 2 (a b)", n)
	}
	// A freed line comes back as a new one, and the walk order stays
	// ClusterShell's (the newest sibling first).
	add("n6", "a", "z")
	add("n7", "a", "x")
	var got []string
	for l := range tr.WalkTree() {
		got = append(got, fmt.Sprintf("%s/%d", l.Line, l.Depth))
	}
	if want := []string{"a/1", "x/2", "z/2", "b/2"}; !slices.Equal(got, want) {
		t.Errorf("WalkTree = %q, want %q", got, want)
	}
	// Freeing the oldest child of a line leaves the others in order.
	tr.Remove("n4")
	got = got[:0]
	for l := range tr.WalkTree() {
		got = append(got, fmt.Sprintf("%s/%d", l.Line, l.Depth))
	}
	if want := []string{"a/1", "x/2", "z/2"}; !slices.Equal(got, want) {
		t.Errorf("WalkTree after freeing b = %q, want %q", got, want)
	}
	for _, k := range []string{"n6", "n7"} {
		tr.Remove(k)
	}
	if n := elems(); n != 0 || tr.Len() != 0 {
		t.Errorf("%d lines, %d keys left in an emptied tree", n, tr.Len())
	}
}
