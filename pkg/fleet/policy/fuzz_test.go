package policy

import (
	"runtime"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// allocPerByte bounds what parsing a policy may allocate per byte of
// file (plus allocBase): YAML's node tree and the compiled patterns grow
// with the text, and nothing in a file may expand beyond it (aliases are
// refused, node sets stay folded).
const (
	allocPerByte = 2048
	allocBase    = 4 << 20
)

func FuzzParse(f *testing.F) {
	f.Add([]byte(example))
	f.Add([]byte("rules: [{users: ['*'], commands: ['**'], nodes: '*'}]"))
	f.Add([]byte("rules: [{users: [u], commands: ['a*b?c\\*'], nodes: 'a[1-100000000]b[1-1000000]'}]"))
	f.Add([]byte("x: &a [1]\nrules: *a"))
	f.Add([]byte(pathsExample))
	f.Add([]byte("rules: [{users: [u], nodes: '*', copy: true, reverse_copy: true, paths: ['/a/**/b*/**', '**/c?', '~x/**', '~']}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		p, err := Parse(data, Options{})
		runtime.ReadMemStats(&after)
		if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(allocBase+allocPerByte*len(data)); got > limit {
			t.Fatalf("%d bytes allocated for a %d-byte policy (limit %d)", got, len(data), limit)
		}
		if err != nil {
			return
		}
		// Whatever it says, a policy decides without panicking.
		for _, r := range []Request{
			{User: "u", Command: "id; x", Nodes: nodeset.MustParse("a[1-3]")},
			{User: "alice", Copy: true, Worker: "exec", Nodes: nodeset.MustParse("n1")},
			{User: "u"},
			{User: "u", Copy: true, Path: "/etc/../root/x", Nodes: nodeset.MustParse("a1")},
			{User: "carol", Copy: true, Reverse: true, Path: "~u/../x", Nodes: nodeset.MustParse("n1")},
		} {
			_ = p.Check(r)
		}
		_ = p.Allow("u", Agents)
		_, _ = p.MayCopy("u"), p.MayReverseCopy("carol")
	})
}

// BenchmarkParseAlloc prints what parsing allocates per byte of policy.
func BenchmarkParseAlloc(b *testing.B) {
	data := []byte(example)
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		if _, err := Parse(data, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/float64(len(data)), "B-alloc/B-file")
}

// BenchmarkCheck measures a decision against the example policy.
func BenchmarkCheck(b *testing.B) {
	p, err := Parse([]byte(example), Options{})
	if err != nil {
		b.Fatal(err)
	}
	r := Request{User: "carol", Command: "uname -a", Nodes: nodeset.MustParse("n[1-10]")}
	for b.Loop() {
		_ = p.Check(r)
	}
}

// FuzzGlobMetacharacters checks the promise of command patterns: a
// pattern that writes out no shell metacharacter and has no "**" never
// matches a command holding one.
func FuzzGlobMetacharacters(f *testing.F) {
	f.Add("uname *", "uname ; rm -rf /")
	f.Add("echo ?", "echo $")
	f.Add("a*b?c", "a|b c")
	f.Add(`x\*`, "x*")
	f.Fuzz(func(t *testing.T, pattern, command string) {
		g, err := compileGlob(pattern)
		if err != nil {
			return
		}
		for i := 0; i < len(pattern); i++ {
			switch c := pattern[i]; {
			case c == '*' && i+1 < len(pattern) && pattern[i+1] == '*':
				return // "**" allows anything
			case c == '\\':
				i++
				if strings.IndexByte(shellMeta, pattern[i]) >= 0 {
					return // written out
				}
			case c != '*' && c != '?' && strings.IndexByte(shellMeta, c) >= 0:
				return // written out
			}
		}
		if g.match(command) && strings.ContainsAny(command, shellMeta) {
			t.Fatalf("%q matches %q", pattern, command)
		}
	})
}

// FuzzPathGlob checks the promises of path patterns, for any pattern
// and path: a path climbing out of its directory matches nothing; a
// path matches only patterns of its class (absolute, the home, another
// home); a pattern whose first name is written out (no "*", "?" or
// "\\") allows only paths under that name, ".." or not; a pattern that
// writes out no shell metacharacter never allows a path holding one; and
// a path allowed is allowed in its clean form too.
func FuzzPathGlob(f *testing.F) {
	f.Add("/etc/**", "/etc/../root/x")
	f.Add("**", "../x")
	f.Add("**", "~root/../x")
	f.Add("~a/**", "~a/../../etc")
	f.Add("/a/**/b", "/a/x/../../b")
	f.Add("/etc/*", "/etc/$(id)")
	f.Fuzz(func(t *testing.T, pattern, p string) {
		g, err := compilePathGlob(pattern)
		if err != nil {
			return
		}
		r := &rule{name: "r", paths: []*pathGlob{g}}
		allowed := r.checkPath(&Request{Copy: true, Path: p}) == ""
		if !allowed {
			return
		}
		c, class, ok := cleanPath(p)
		if !ok || class != g.class {
			t.Fatalf("%q allows %q (clean %q, ok %v, class %c, pattern class %c)", pattern, p, c, ok, class, g.class)
		}
		if r.checkPath(&Request{Copy: true, Path: c}) != "" {
			t.Fatalf("%q allows %q but not its clean form %q", pattern, p, c)
		}
		pc, _, _ := cleanPath(pattern)
		first, _, _ := strings.Cut(strings.TrimPrefix(pc, "/"), "/")
		if first != "" && !strings.ContainsAny(first, "*?\\") {
			name, _, _ := strings.Cut(strings.TrimPrefix(c, "/"), "/")
			if name != first {
				t.Fatalf("%q allows %q, outside %q", pattern, p, first)
			}
		}
		if strings.ContainsAny(p, shellMeta) && !strings.ContainsAny(pattern, shellMeta) {
			t.Fatalf("%q allows %q", pattern, p)
		}
	})
}
