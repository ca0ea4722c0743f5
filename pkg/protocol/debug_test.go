package protocol

import (
	"bytes"
	"errors"
	"testing"
)

// TestDebugRecord: a debug record (no nodes) travels whole; a kind past
// the last one is refused.
func TestDebugRecord(t *testing.T) {
	out, data := roundTrip(t, &EventBatch{Job: "j", Shard: "s", Seq: 3, Events: []Event{
		{Kind: KindDebug, Data: []byte("EXECCLIENT: echo ok")},
		{Kind: KindStdout, Nodes: []uint32{0}, Data: []byte("ok")},
		{Kind: KindDebug, Data: []byte("node1: b'ok'")},
	}})
	if len(out.Events) != 3 || out.Events[0].Kind != KindDebug || len(out.Events[0].Nodes) != 0 ||
		!bytes.Equal(out.Events[2].Data, []byte("node1: b'ok'")) || KindDebug.String() != "debug" {
		t.Fatalf("decoded %+v", out.Events)
	}
	bad := EventBatch{Job: "j", Events: []Event{{Kind: lastKind + 1}}}
	if _, err := bad.MarshalBinary(); err == nil {
		t.Fatal("an unknown kind was encoded")
	}
	// The same bytes with the kind byte past the last kind are malformed.
	i := bytes.IndexByte(data, byte(KindDebug))
	data[i] = byte(lastKind + 1)
	if err := out.UnmarshalBinary(data); !errors.Is(err, ErrMalformed) {
		t.Fatalf("unknown kind decoded: %v", err)
	}
}
