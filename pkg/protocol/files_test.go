package protocol

import (
	"bytes"
	"reflect"
	"testing"
)

func TestTreeEventRoundTrip(t *testing.T) {
	ref := TreeRef{Digest: SumDigest([]byte("m")), Size: 300 << 10, Files: 3, Bytes: 1 << 40,
		Chunks: []Digest{SumDigest([]byte("a")), SumDigest([]byte("b"))}}
	ev := TreeEvent([]uint32{4}, ref)
	got, ok := ev.Tree()
	if !ok || !reflect.DeepEqual(got, ref) {
		t.Fatalf("Tree() = %+v, %v; want %+v", got, ok, ref)
	}
	// It survives a batch's encoding.
	b := &EventBatch{Job: "j", Shard: "s", Seq: 1, Events: []Event{ev}}
	data, err := b.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var dec EventBatch
	if err := dec.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if got, ok := dec.Events[0].Tree(); !ok || !reflect.DeepEqual(got, ref) {
		t.Fatalf("after a batch: %+v, %v", got, ok)
	}
	for _, bad := range [][]byte{nil, ev.Data[:31], ev.Data[:len(ev.Data)-1], append(bytes.Clone(ev.Data), 0)} {
		e := Event{Kind: KindTree, Data: bad}
		if _, ok := e.Tree(); ok {
			t.Errorf("Tree() accepted %x", bad)
		}
	}
	if e := (Event{Kind: KindStdout, Data: ev.Data}); func() bool { _, ok := e.Tree(); return ok }() {
		t.Error("a stdout event read as a tree")
	}
}

// FuzzTreeEvent: any data decodes without panic, allocating no more
// than its own size allows, and what decodes reads the same once encoded again
// (uvarints need not be minimal).
func FuzzTreeEvent(f *testing.F) {
	f.Add(TreeEvent(nil, TreeRef{Size: 1, Chunks: []Digest{{1}}}).Data)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		e := Event{Kind: KindTree, Data: data}
		ref, ok := e.Tree()
		if !ok {
			return
		}
		if len(ref.Chunks)*len(ref.Digest) > len(data) {
			t.Fatalf("%d chunks from %d bytes", len(ref.Chunks), len(data))
		}
		again := TreeEvent(nil, ref)
		if back, ok := again.Tree(); !ok || !reflect.DeepEqual(back, ref) {
			t.Fatalf("%+v re-encoded reads %+v, %v", ref, back, ok)
		}
	})
}
