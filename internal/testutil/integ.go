package testutil

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// The helpers the integration tests and the bench scenarios (packages
// integration and bench/...) share.

// EnvInt reads a positive integer from the environment variable name,
// def when it is unset; anything else fails tb.
func EnvInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		tb.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return v
}

// LastLine is the last line of s (a tool's output, its last message),
// without the newlines that end s.
func LastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// RequireCommands fails tb unless every one of names (paths or commands
// on PATH) is installed: a benchmark measures every tool or nothing.
// packages are what apt-get installs them from, for the message.
func RequireCommands(tb testing.TB, packages string, names ...string) {
	tb.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			tb.Fatalf("%s not installed (apt-get install -y %s)", name, packages)
		}
	}
}
