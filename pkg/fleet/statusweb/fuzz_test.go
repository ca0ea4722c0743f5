package statusweb

import (
	"regexp"
	"testing"
	"unicode/utf8"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// cutSet keeps any set under its limit, as valid UTF-8 when it was, and
// the cut of a folded set is a subset of it with the count of the rest.
func FuzzCutSet(f *testing.F) {
	for _, s := range []string{"n[1-100]", "a1,b2,c3,d4,e5", "n[1,3,5,7,9,11,13]", "x[,y,z", "x,é[", "r[1-2]n[1-64]-ib0,gpu[01-08]"} {
		f.Add(s, 8)
	}
	f.Fuzz(func(t *testing.T, s string, limit int) {
		limit = 1 + abs(limit)%256
		if len(s) > 4096 {
			return
		}
		count := -1
		if ns, err := nodeset.Parse(s); err == nil {
			// What the coordinator sends is folded by the nodeset
			// package: a set such as "[-100]" reads back otherwise.
			s, count = ns.String(), ns.Len()
		}
		out, more := cutSet(s, limit, count)
		if len(s) <= limit {
			if out != s || more != 0 {
				t.Fatalf("%q fits but became %q, %d", s, out, more)
			}
			return
		}
		if len(out) > limit || utf8.ValidString(s) && !utf8.ValidString(out) {
			t.Fatalf("cutSet(%q, %d) = %q", s, limit, out)
		}
		if count < 0 || more < 0 {
			return
		}
		whole, cut := nodeset.MustParse(s), nodeset.MustParse(out)
		if !whole.Intersection(cut).Equal(cut) || cut.Len()+more != whole.Len() {
			t.Fatalf("cutSet(%q, %d) = %q, %d: not its first nodes", s, limit, out, more)
		}
	})
}

// loopbackHost is what any Host header the check lets through looks like:
// localhost or an address, with any port.
var loopbackHost = regexp.MustCompile(`(?i)^(localhost\.?|\[?[0-9a-f:.]+\]?)(:.*)?$`)

// A Host header never panics the check, and only loopback ones pass.
func FuzzHostAllowed(f *testing.F) {
	for _, s := range []string{"localhost", "127.0.0.1:80", "[::1]:9090", "evil.example", "[", "]:", "localhost."} {
		f.Add(s)
	}
	h := &handler{hosts: map[string]bool{}}
	f.Fuzz(func(t *testing.T, host string) {
		if h.hostAllowed(host) && !loopbackHost.MatchString(host) {
			t.Fatalf("%q allowed", host)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
