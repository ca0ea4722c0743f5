package natstest

import (
	"regexp"
	"runtime"
	"strings"
)

// Goroutines returns the stacks of the goroutines with a frame matching
// code and not except, for tests of the fleet roles that check that
// nothing they started outlives their Run. except (nil: none) names the
// frames that may outlive it: the guard of a NATS handler, which drops a
// message NATS delivers as Run returns.
func Goroutines(code, except *regexp.Regexp) []string {
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
		for _, line := range strings.Split(g, "\n") {
			if code.MatchString(line) && (except == nil || !except.MatchString(line)) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}
