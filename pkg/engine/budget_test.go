package engine

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// blockingReader counts lines and holds the loop on its first line until
// released, as a slow consumer (a full network window) would.
type blockingReader struct {
	Handler
	release chan struct{}
	once    sync.Once
	lines   atomic.Int64
}

func (b *blockingReader) OnRead(w *Worker, node string, s Stream, line []byte) {
	b.once.Do(func() { <-b.release })
	b.lines.Add(1)
}

// TestOutputInFlightIsBounded checks that a node printing short lines
// faster than the loop handles them is held back once maxOutputInFlight
// bytes wait (it was bounded by event count only: ~400 MB for `yes`),
// and that every line still arrives once the loop goes on.
func TestOutputInFlightIsBounded(t *testing.T) {
	const total = 4 << 20 // bytes of "y\n": 2M lines, 100 MB of line headers
	var written atomic.Int64
	drv := &funcDriver{run: func(ctx context.Context, j *Job) Result {
		chunk := bytes.Repeat([]byte("y\n"), 16<<10)
		for written.Load() < total {
			if _, err := j.Stdout.Write(chunk); err != nil {
				return Result{ExitCode: 1}
			}
			written.Add(int64(len(chunk)))
		}
		return Result{}
	}}
	task := New()
	if err := task.SetDefault(DefaultStdoutMsgTree, false); err != nil {
		t.Fatal(err)
	}
	h := &blockingReader{release: make(chan struct{})}
	if _, err := task.Shell("x", Options{Nodes: nodeset.MustParse("n1"), Handler: h, Driver: drv}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- task.Resume(0) }()

	// Wait until the writer stops getting anywhere, then check how far it got.
	last := int64(-1)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		if n := written.Load(); n == last {
			break
		} else {
			last = n
		}
	}
	task.output.mu.Lock()
	used := task.output.used
	task.output.mu.Unlock()
	if used > maxOutputInFlight {
		t.Errorf("%d bytes of output in flight, budget %d", used, maxOutputInFlight)
	}
	// Each line costs its slice header on top of its 2 bytes: well under
	// the budget in data, and far from the whole output.
	if n := written.Load(); n >= total || n > maxOutputInFlight {
		t.Errorf("writer got %d bytes out of %d through a held loop", n, total)
	}
	close(h.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, want := h.lines.Load(), int64(total/2); got != want {
		t.Errorf("%d lines delivered, want %d", got, want)
	}
	if task.output.used != 0 {
		t.Errorf("%d bytes of budget not given back", task.output.used)
	}
}

// TestByteBudgetLetsAHugeWriteThrough checks that one acquire larger than
// the whole budget does not wait for ever when nothing else is held.
func TestByteBudgetLetsAHugeWriteThrough(t *testing.T) {
	b := newByteBudget(10)
	b.acquire(100) // alone: let through
	got := make(chan struct{})
	go func() { b.acquire(1); close(got) }()
	select {
	case <-got:
		t.Fatal("acquire went through while the budget was overdrawn")
	case <-time.After(50 * time.Millisecond):
	}
	b.release(100)
	<-got
	b.release(1)
	if b.used != 0 {
		t.Fatalf("used = %d", b.used)
	}
}
