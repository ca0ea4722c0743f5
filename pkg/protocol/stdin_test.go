package protocol

import (
	"bytes"
	"errors"
	"testing"
)

func TestStdinChunkRoundTrip(t *testing.T) {
	for _, c := range []StdinChunk{
		{Job: "j1", Seq: 1, Data: []byte("hello\n")},
		{Job: "j1", Shard: "s2", Attempt: 3, Seq: 7, EOF: true},
		{Job: "j1", Seq: 9, EOF: true, Data: bytes.Repeat([]byte{0}, StdinChunkSize)},
	} {
		got, _ := roundTrip(t, &c)
		if got.Job != c.Job || got.Shard != c.Shard || got.Attempt != c.Attempt || got.Seq != c.Seq || got.EOF != c.EOF || !bytes.Equal(got.Data, c.Data) {
			t.Errorf("got %+v, want %+v", got, c)
		}
	}
	big := StdinChunk{Job: "j", Seq: 1, Data: make([]byte, StdinChunkSize+1)}
	if _, err := big.MarshalBinary(); err == nil {
		t.Error("oversized chunk encoded")
	}
	var c StdinChunk
	for _, bad := range [][]byte{nil, {stdinMagic}, {0x00, 0}, {stdinMagic, 0, 1, 'j', 0, 0, 0, 0}} {
		if err := c.UnmarshalBinary(bad); !errors.Is(err, ErrMalformedStdin) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestWrittenRecord(t *testing.T) {
	got, _ := roundTrip(t, &EventBatch{Job: "j", Seq: 1, Events: []Event{WrittenEvent([]uint32{0, 2}, 1<<40)}})
	if r := got.Events[0]; r.Kind != KindWritten || r.Written() != 1<<40 || len(r.Nodes) != 2 || r.Kind.String() != "written" {
		t.Fatalf("%+v", r)
	}
	if (&Event{Kind: KindStdout, Data: []byte{1}}).Written() != 0 {
		t.Error("Written of a stdout record")
	}
}

// FuzzStdinChunk: any input decodes or fails cleanly, allocating no more
// than it holds, and what decodes encodes back the same.
func FuzzStdinChunk(f *testing.F) {
	c := StdinChunk{Job: "j", Shard: "s", Attempt: 1, Seq: 2, EOF: true, Data: []byte("x")}
	data, _ := c.MarshalBinary()
	f.Add(data)
	f.Add([]byte{stdinMagic, 0})
	fuzzReencode(f, func(a, b *StdinChunk) bool { return a.Seq == b.Seq && bytes.Equal(a.Data, b.Data) })
}
