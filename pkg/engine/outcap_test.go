package engine

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// cutRecorder records reads (quoted), cuts and hups in order, and
// nothing else.
type cutRecorder struct{ recorder }

func (r *cutRecorder) OnStart(*Worker)          {}
func (r *cutRecorder) OnPickup(*Worker, string) {}
func (r *cutRecorder) OnClose(*Worker, bool)    {}

func (r *cutRecorder) OnRead(_ *Worker, node string, s Stream, line []byte) {
	r.add("%s %s %q", node, s, line)
}
func (r *cutRecorder) OnOutputCut(_ *Worker, node string, limit int64) {
	r.add("%s cut %d", node, limit)
}
func (r *cutRecorder) OnHup(_ *Worker, node string, rc int, _ error) { r.add("%s rc %d", node, rc) }

// write is one Write of a driver: to stderr when err is set.
type write struct {
	err  bool
	data string
}

// runCapped runs writes on node n1 under limit and returns the events.
func runCapped(t *testing.T, limit int64, stderr bool, writes ...write) string {
	t.Helper()
	drv := &funcDriver{run: func(ctx context.Context, j *Job) Result {
		for _, w := range writes {
			out := j.Stdout
			if w.err && j.Stderr != nil {
				out = j.Stderr
			}
			if n, err := io.WriteString(out, w.data); n != len(w.data) || err != nil {
				t.Errorf("Write(%q) = %d, %v: a writer must take everything", w.data, n, err)
			}
		}
		return Result{ExitCode: 7}
	}}
	task := New()
	rec := &cutRecorder{}
	if _, err := task.Shell("x", Options{Nodes: nodeset.MustParse("n1"), Handler: rec, Driver: drv, Stderr: stderr, MaxOutput: limit}); err != nil {
		t.Fatal(err)
	}
	if err := task.Resume(0); err != nil {
		t.Fatal(err)
	}
	return strings.Join(rec.events, " | ")
}

func out(s string) write  { return write{data: s} }
func errw(s string) write { return write{err: true, data: s} }

func TestOutputCapBoundaries(t *testing.T) {
	for _, c := range []struct {
		name   string
		limit  int64
		stderr bool
		writes []write
		want   string
	}{
		{"exactly the cap: no cut", 10, false, []write{out("123456789\n")},
			`n1 stdout "123456789" | n1 rc 7`},
		{"one byte over", 10, false, []write{out("123456789\nX")},
			`n1 stdout "123456789" | n1 cut 10 | n1 rc 7`},
		{"line straddling the cap", 6, false, []write{out("abc\ndefgh\nmore\n")},
			`n1 stdout "abc" | n1 stdout "de" | n1 cut 6 | n1 rc 7`},
		{"straddling, across writes", 6, false, []write{out("abc\nd"), out("e"), out("fgh\n"), out("more\n")},
			`n1 stdout "abc" | n1 stdout "de" | n1 cut 6 | n1 rc 7`},
		{"line without newline over the cap", 5, false, []write{out("abcdefgh")},
			`n1 stdout "abcde" | n1 cut 5 | n1 rc 7`},
		{"line without newline under the cap", 10, false, []write{out("abc")},
			`n1 stdout "abc" | n1 rc 7`},
		{"cap at a newline", 4, false, []write{out("abc\ndef\n")},
			`n1 stdout "abc" | n1 cut 4 | n1 rc 7`},
		{"cap before a newline", 3, false, []write{out("abc\ndef\n")},
			`n1 stdout "abc" | n1 cut 3 | n1 rc 7`},
		{"cut inside a CRLF keeps the CR", 4, false, []write{out("abc\r\n")},
			`n1 stdout "abc\r" | n1 cut 4 | n1 rc 7`},
		{"CRLF endings, last line keeps its CR", 100, false, []write{out("a\r\nb\rc\r\nd\r")},
			`n1 stdout "a" | n1 stdout "b\rc" | n1 stdout "d\r" | n1 rc 7`},
		{"stdout and stderr count together", 10, true, []write{out("ab\n"), errw("cd"), out("ef\nXY"), errw("Z\n"), out("more\n")},
			`n1 stdout "ab" | n1 stdout "ef" | n1 stdout "XY" | n1 stderr "cd" | n1 cut 10 | n1 rc 7`},
		{"stderr cut, stdout dropped after", 5, true, []write{errw("err1\n"), errw("e"), out("o\n")},
			`n1 stderr "err1" | n1 cut 5 | n1 rc 7`},
		{"merged stderr counts too", 6, false, []write{out("ab\n"), errw("cd\n"), errw("ef\n")},
			`n1 stdout "ab" | n1 stdout "cd" | n1 cut 6 | n1 rc 7`},
		{"binary bytes unchanged", 8, false, []write{out("\x00\xff\x80\n\xc3\x28\x00\x01\x02")},
			`n1 stdout "\x00\xff\x80" | n1 stdout "\xc3(\x00\x01" | n1 cut 8 | n1 rc 7`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := runCapped(t, c.limit, c.stderr, c.writes...); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

// TestOutputCapByteByByte cuts at every position of an output written a
// byte at a time: the bytes before the cap are delivered, and nothing
// else.
func TestOutputCapByteByByte(t *testing.T) {
	const text = "ab\ncd\r\n\nefg"
	for limit := int64(1); limit <= int64(len(text))+1; limit++ {
		var writes []write
		for i := range len(text) {
			writes = append(writes, out(text[i:i+1]))
		}
		got := runCapped(t, limit, false, writes...)
		// What a reader sees: the bytes before the cap, split as lines.
		kept := text[:min(int(limit), len(text))]
		var want []string
		for len(kept) > 0 {
			line, rest, more := strings.Cut(kept, "\n")
			if more {
				line = strings.TrimSuffix(line, "\r")
			}
			want = append(want, fmt.Sprintf("n1 stdout %q", line))
			kept = rest
		}
		if limit < int64(len(text)) {
			want = append(want, fmt.Sprintf("n1 cut %d", limit))
		}
		want = append(want, "n1 rc 7")
		if w := strings.Join(want, " | "); got != w {
			t.Errorf("limit %d:\ngot  %s\nwant %s", limit, got, w)
		}
	}
}

// TestOutputCapLongLine: under a cap a line is held whole up to it;
// without one it comes in 1 MiB pieces, as before.
func TestOutputCapLongLine(t *testing.T) {
	long := bytes.Repeat([]byte("0123456789abcdef"), (maxLine*5/2)/16)
	for _, limit := range []int64{0, 4 * maxLine} {
		drv := &funcDriver{run: func(ctx context.Context, j *Job) Result {
			for p := long; len(p) > 0; p = p[min(len(p), 64<<10):] {
				j.Stdout.Write(p[:min(len(p), 64<<10)])
			}
			fmt.Fprint(j.Stdout, "\nnext\n")
			return Result{}
		}}
		var lines []int
		task := New()
		h := &lineLens{lens: &lines}
		if _, err := task.Shell("x", Options{Nodes: nodeset.MustParse("n1"), Handler: h, Driver: drv, MaxOutput: limit}); err != nil {
			t.Fatal(err)
		}
		if err := task.Resume(0); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprint([]int{len(long), 4})
		if limit == 0 {
			want = fmt.Sprint([]int{maxLine, maxLine, len(long) - 2*maxLine, 4})
		}
		if got := fmt.Sprint(lines); got != want {
			t.Errorf("limit %d: line lengths %s, want %s", limit, got, want)
		}
	}
}

type lineLens struct {
	Handler
	lens *[]int
}

func (h *lineLens) OnRead(_ *Worker, _ string, _ Stream, line []byte) {
	*h.lens = append(*h.lens, len(line))
}

// TestOutputCapGroup: a GroupDriver's lines (pdsh) are capped per node.
func TestOutputCapGroup(t *testing.T) {
	g := &groupCaps{limit: 8, used: map[string]int64{}}
	var got []string
	for _, l := range []struct{ node, line string }{
		{"n1", "abc"}, {"n2", "1234567"}, {"n1", "defgh"}, {"n1", "x"}, {"n2", "8"}, {"n2", ""},
	} {
		keep, cut := g.take(l.node, []byte(l.line))
		got = append(got, fmt.Sprintf("%s %q %v %v", l.node, keep, keep != nil, cut))
	}
	want := []string{`n1 "abc" true false`, `n2 "1234567" true false`, `n1 "defg" true true`, `n1 "" false false`,
		`n2 "" false true`, `n2 "" false false`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	var none *groupCaps
	if keep, cut := none.take("n1", []byte("abc")); string(keep) != "abc" || cut {
		t.Errorf("no cap: %q %v", keep, cut)
	}
}
