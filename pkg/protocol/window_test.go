package protocol

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// hangBound bounds the wait for a send that must complete: a regression
// that leaves senders blocked fails with a message naming them instead of
// hanging until go test's timeout. It is a liveness bound, generous for a
// loaded machine, not a timing assertion: the sends take microseconds.
const hangBound = 10 * time.Second

func TestWindowBlocksAtSize(t *testing.T) {
	w := NewWindow(3)
	ctx := context.Background()
	enc := func(seq uint64) ([]byte, error) { return fmt.Appendf(nil, "b%d", seq), nil }
	for i := 1; i <= 3; i++ {
		if seq, _, err := w.Send(ctx, enc); err != nil || seq != uint64(i) {
			t.Fatalf("send %d: %d %v", i, seq, err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, _, err := w.Send(short, enc); err == nil {
		t.Fatal("fourth send did not wait for room")
	}
	done := make(chan uint64)
	go func() {
		seq, _, _ := w.Send(ctx, enc)
		done <- seq
	}()
	w.Ack(2)
	select {
	case seq := <-done:
		if seq != 4 {
			t.Fatalf("after ack got seq %d", seq)
		}
	case <-time.After(hangBound):
		w.Close()
		t.Fatalf("fourth send still blocked %v after Ack(2) made room", hangBound)
	}
	if got := w.From(3); !reflect.DeepEqual(got, [][]byte{[]byte("b3"), []byte("b4")}) {
		t.Errorf("From(3) = %q", got)
	}
	if w.Unacked() != 2 || w.Last() != 4 || w.Acked() != 2 {
		t.Errorf("unacked %d last %d acked %d", w.Unacked(), w.Last(), w.Acked())
	}
	if len(w.Stale(time.Hour)) != 0 || len(w.Stale(0)) != 2 {
		t.Error("Stale")
	}
	w.Ack(1) // older ack changes nothing
	if w.Acked() != 2 {
		t.Error("ack went backwards")
	}
	w.Close()
	if _, _, err := w.Send(ctx, enc); err != ErrClosed {
		t.Errorf("send after close: %v", err)
	}
}

func TestReorder(t *testing.T) {
	var r Reorder[string]
	steps := []struct {
		seq   uint64
		ready []string
		dup   bool
	}{
		{1, []string{"1"}, false},
		{3, nil, false},
		{3, nil, true},
		{5, nil, false},
		{1, nil, true},
		{2, []string{"2", "3"}, false},
	}
	for _, s := range steps {
		ready, dup := r.Push(s.seq, fmt.Sprint(s.seq))
		if !reflect.DeepEqual(ready, s.ready) || dup != s.dup {
			t.Fatalf("push %d: %v %v, want %v %v", s.seq, ready, dup, s.ready, s.dup)
		}
	}
	if got := r.Missing(0); !reflect.DeepEqual(got, []uint64{4}) {
		t.Errorf("missing %v", got)
	}
	if got := r.Missing(7); !reflect.DeepEqual(got, []uint64{4, 6, 7}) {
		t.Errorf("missing to 7: %v", got)
	}
	if len(r.Missing(1<<62)) > 1<<17 {
		t.Error("bogus last not bounded")
	}
	if r.Delivered() != 3 {
		t.Errorf("delivered %d", r.Delivered())
	}
}

func TestWindowCloseThenAck(t *testing.T) {
	w := NewWindow(1)
	enc := func(seq uint64) ([]byte, error) { return []byte{byte(seq)}, nil }
	if _, _, err := w.Send(context.Background(), enc); err != nil {
		t.Fatal(err)
	}
	if d, ok := w.Get(1); !ok || d[0] != 1 {
		t.Error("Get(1)")
	}
	if _, ok := w.Get(2); ok {
		t.Error("Get(2)")
	}
	w.Close()
	w.Close()
	w.Ack(1) // must not panic
}

func TestWindowManySenders(t *testing.T) {
	w := NewWindow(4)
	enc := func(seq uint64) ([]byte, error) { return nil, nil }
	done := make(chan uint64, 100)
	for range 100 {
		go func() {
			seq, _, _ := w.Send(context.Background(), enc)
			done <- seq
		}()
	}
	bound := time.After(hangBound)
	for got := 0; got < 100; {
		select {
		case <-done:
			got++
		case <-time.After(10 * time.Millisecond):
			w.Ack(w.Last())
		case <-bound:
			w.Close() // releases the senders still waiting
			t.Fatalf("%d of 100 sends through a window of 4 still blocked after %v of acks", 100-got, hangBound)
		}
	}
}
