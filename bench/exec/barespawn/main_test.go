package main

import (
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	if failed, err := run(5, 2, "true"); failed != 0 || err != nil {
		t.Fatalf("true: %d failed, %v", failed, err)
	}
	// Output is drained (a command filling its pipes must not block).
	if failed, err := run(3, 2, "head -c 200000 /dev/zero; head -c 200000 /dev/zero >&2"); failed != 0 || err != nil {
		t.Fatalf("output: %d failed, %v", failed, err)
	}
	failed, err := run(3, 2, "exit 3")
	if failed != 3 || err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("exit 3: %d failed, %v", failed, err)
	}
}
