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
		} {
			_ = p.Check(r)
		}
		_ = p.Allow("u", Agents)
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
