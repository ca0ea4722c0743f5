package natstest

import (
	"regexp"
	"runtime"
	"strings"
)

// Goroutines returns the stacks of the goroutines whose stack matches
// code, for tests of the fleet roles that check that nothing they
// started outlives their Run.
func Goroutines(code *regexp.Regexp) []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if code.MatchString(g) {
			out = append(out, g)
		}
	}
	return out
}
