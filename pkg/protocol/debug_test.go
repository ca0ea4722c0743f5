package protocol

import (
	"bytes"
	"errors"
	"testing"
)

// TestDebugRecord: a debug record (no nodes) travels whole; a kind past
// it is still refused.
func TestDebugRecord(t *testing.T) {
	out, data := roundTrip(t, &EventBatch{Job: "j", Shard: "s", Seq: 3, Records: []Record{
		{Kind: KindDebug, Data: []byte("EXECCLIENT: echo ok")},
		{Kind: KindStdout, Nodes: []uint32{0}, Data: []byte("ok")},
		{Kind: KindDebug, Data: []byte("node1: b'ok'")},
	}})
	if len(out.Records) != 3 || out.Records[0].Kind != KindDebug || len(out.Records[0].Nodes) != 0 ||
		!bytes.Equal(out.Records[2].Data, []byte("node1: b'ok'")) || KindDebug.String() != "debug" {
		t.Fatalf("decoded %+v", out.Records)
	}
	bad := EventBatch{Job: "j", Records: []Record{{Kind: KindDebug + 1}}}
	if _, err := bad.MarshalBinary(); err == nil {
		t.Fatal("an unknown kind was encoded")
	}
	// The same bytes with the kind byte past KindDebug are malformed.
	i := bytes.IndexByte(data, byte(KindDebug))
	data[i] = byte(KindDebug + 1)
	if err := out.UnmarshalBinary(data); !errors.Is(err, ErrMalformed) {
		t.Fatalf("unknown kind decoded: %v", err)
	}
}
