package engine

import "testing"

// TestDefaultIsOneTask: Default is ClusterShell's task_self(): every call,
// from any goroutine, returns the same task, distinct from New's.
func TestDefaultIsOneTask(t *testing.T) {
	got := make(chan *Task, 8)
	for range cap(got) {
		go func() { got <- Default() }()
	}
	first := <-got
	for range cap(got) - 1 {
		if tk := <-got; tk != first {
			t.Fatalf("Default returned %p and %p", first, tk)
		}
	}
	if first == nil || first == New() {
		t.Fatal("Default is nil or not distinct from a new task")
	}
}
