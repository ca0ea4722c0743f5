package csub

import (
	"bytes"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// ClusterShell's human_bi_bytes_unit (CLI/Utils.py), values computed with
// clush 1.9.1's Python.
func TestHumanBiBytes(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{
		{0, "0 B"}, {9.9, "9 B"}, {1023.99, "1023 B"}, {1024, "1.00 KiB"}, {1536, "1.50 KiB"},
		{10 << 20, "10.00 MiB"}, {3 << 30, "3.00 GiB"}, {5 << 40, "5.00 TiB"}, {1 << 50, "1024.00 TiB"},
	} {
		if got := humanBiBytes(c.v); got != c.want {
			t.Errorf("%v: %q, want %q", c.v, got, c.want)
		}
	}
}

// The counter adds clush's " write: <rate>/s" once the nodes took some
// standard input, and shows it at every tick then (RunTimer.update).
func TestRunTimerWriteRate(t *testing.T) {
	var errb bytes.Buffer
	o := newOutputs(&bytes.Buffer{}, &errb)
	tm := &runTimer{o: o, total: 2, done: func() int { return 0 }, tslen: 1, cntLast: -1, quit: make(chan struct{})}
	tm.show(2, time.Second)
	tm.show(2, time.Second) // count unchanged, nothing written: not shown again
	r := &renderer{timer: tm}
	r.record(&protocol.Event{Kind: protocol.KindWritten, Nodes: []uint32{0, 1}, Data: protocol.WrittenEvent(nil, 28).Data})
	tm.show(2, 2*time.Second)
	tm.show(2, 4*time.Second)
	tm.written = 3 << 20
	tm.show(1, time.Second)
	o.flush()
	want := "csub: 0/2\rcsub: 0/2 write: 14 B/s\rcsub: 0/2 write: 7 B/s\rcsub: 1/2 write: 3.00 MiB/s\r"
	if errb.String() != want {
		t.Fatalf("got %q, want %q", errb.String(), want)
	}
}
