package agent

import (
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

func takeAll(b *buffer) []protocol.Event {
	var out []protocol.Event
	for {
		recs, done := b.take(true)
		out = append(out, recs...)
		if done || len(recs) == 0 {
			return out
		}
	}
}

// 500 nodes ending with the same output in one flush make one start,
// one output and one end record; standard error is not gathered (clush
// -b prints it as it comes).
func TestBufferGather(t *testing.T) {
	b := newBuffer(protocol.DefaultMaxBatch, 8<<20, true)
	for i := range 500 {
		key := fmt.Sprint("n", i)
		b.start([]uint32{uint32(i)})
		b.line(key, []uint32{uint32(i)}, protocol.KindStdout, []byte("same"))
		b.line(key, []uint32{uint32(i)}, protocol.KindStdout, []byte(""))
		if i == 42 {
			b.line(key, []uint32{uint32(i)}, protocol.KindStderr, []byte("oops"))
		}
		b.end(key, []uint32{uint32(i)}, protocol.Event{State: protocol.StateExited, Code: 0})
	}
	b.close()
	recs := takeAll(b)
	if b.outs.Len() != 0 {
		t.Errorf("ended nodes' output still held: %d keys", b.outs.Len())
	}
	var kinds []string
	for _, r := range recs {
		kinds = append(kinds, fmt.Sprintf("%s:%d:%q", r.Kind, len(r.Nodes), r.Data))
	}
	want := []string{`start:500:""`, `stderr:1:"oops"`, `stdout:500:"same\n"`, `end:500:""`}
	if !slices.Equal(kinds, want) {
		t.Errorf("got  %q\nwant %q", kinds, want)
	}
}

// Lines of a node in a row share a record; a long line is cut into
// Partial pieces (the line after it joins the last piece); identical
// ends in a row share a record.
func TestBufferCoalesce(t *testing.T) {
	b := newBuffer(minBatch*4, 8<<20, false)
	n0, n1, n2 := []uint32{0}, []uint32{1}, []uint32{2}
	b.line("a", n0, protocol.KindStdout, []byte("l1"))
	b.line("a", n0, protocol.KindStdout, []byte("l2"))
	b.line("a", n0, protocol.KindStderr, []byte("e1"))
	b.line("b", n1, protocol.KindStdout, make([]byte, minBatch*5))
	b.line("b", n1, protocol.KindStdout, []byte("after"))
	b.end("b", n1, protocol.Event{State: protocol.StateExited, Code: 0})
	b.end("c", n2, protocol.Event{State: protocol.StateExited, Code: 0})
	b.end("a", n0, protocol.Event{State: protocol.StateExited, Code: 0})
	b.end("x", []uint32{3}, protocol.Event{State: protocol.StateExited, Code: 1})
	b.close()
	var got []string
	for _, r := range takeAll(b) {
		got = append(got, fmt.Sprintf("%s%v:%v:%d", r.Kind, r.Nodes, r.Partial, len(r.Data)))
	}
	want := []string{"stdout[0]:false:5", "stderr[0]:false:2",
		"stdout[1]:true:2048", "stdout[1]:true:2048", "stdout[1]:false:1030",
		"end[0 1 2]:false:0", "end[3]:false:0"}
	if !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestSplitNodes(t *testing.T) {
	var nodes []uint32
	for i := range 100 {
		nodes = append(nodes, uint32(2*i)) // 100 runs
	}
	parts := splitNodes(nodes, 2+runCost*30)
	if len(parts) != 4 || len(parts[0]) != 30 || len(parts[3]) != 10 {
		t.Errorf("parts of %v", func() (l []int) {
			for _, p := range parts {
				l = append(l, len(p))
			}
			return
		}())
	}
	if got := splitNodes([]uint32{1, 2, 3, 4}, 1); len(got) != 1 {
		t.Errorf("one run split: %v", got)
	}
}

// The engine loop is held back while more than maxBuf bytes wait, and
// let go when the flusher takes them or the shard is stopped.
func TestBufferBackPressure(t *testing.T) {
	b := newBuffer(minBatch, 4*minBatch, false)
	line := make([]byte, 300)
	var added atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 100 {
			b.line(fmt.Sprint(i), []uint32{uint32(i)}, protocol.KindStdout, line)
			added.Add(1)
		}
	}()
	time.Sleep(100 * time.Millisecond)
	held := added.Load()
	if held > 15 || held < 10 {
		t.Fatalf("%d lines of 300 bytes added with a 4 KiB buffer", held)
	}
	b.take(false) // one batch: room for a few more
	waitFor(t, 5*time.Second, func() bool { return added.Load() > held })
	b.stop()
	<-done
}
