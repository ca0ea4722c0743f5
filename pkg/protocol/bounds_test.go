package protocol

import (
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"testing"
)

// hugeRunsBatch is the attack of issue 12: a few hundred bytes whose
// records each name a run of MaxEventNodes nodes. Decoded without a
// bound on the batch, it made the coordinator allocate 600 MB.
func hugeRunsBatch(records int) []byte {
	buf := appendHeader(nil, batchMagic, header{0, "j", "s1", 1})
	buf = appendString(buf, "a")
	buf = binary.AppendUvarint(buf, 1)
	buf = binary.AppendUvarint(buf, uint64(records))
	for range records {
		buf = append(buf, byte(KindStdout))
		buf = binary.AppendUvarint(buf, 1)               // one run
		buf = binary.AppendUvarint(buf, 0)               // from node 0
		buf = binary.AppendUvarint(buf, MaxEventNodes-1) // MaxEventNodes nodes
		buf = binary.AppendUvarint(buf, 0)               // no data
	}
	return buf
}

// allocated returns the bytes fn allocates (runtime.MemStats.TotalAlloc:
// every allocation, freed or not).
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// decodeAllocBound is what FuzzBatchAlloc and the tests allow Decode to
// allocate: 64 bytes per byte of message (an Event is 120 bytes in memory
// and 3 or more on the wire, plus its reason's copy), 4 bytes per node
// reference the bound allows (RefsPerNode per node indexed), and 4 KiB
// for the testing machinery's own noise.
func decodeAllocBound(size, nodes int) uint64 {
	return uint64(64*size + 4*RefsPerNode*nodes + 4<<10)
}

func TestDecodeBoundsHugeRuns(t *testing.T) {
	data := hugeRunsBatch(34)
	t.Logf("attack batch: %d bytes, naming %d nodes", len(data), 34*MaxEventNodes)
	// A shard of 10 or 1000 nodes: a run past them is malformed before
	// any allocation. A shard of MaxShardNodes nodes may take RefsPerNode
	// records of every node (what its own agent could send), not 34:
	// what the batch allocates stays within what the shard holds.
	for _, nodes := range []int{10, 1000, MaxShardNodes} {
		var b EventBatch
		var err error
		got := allocated(func() { err = b.Decode(data, nodes) })
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%d nodes: decode: %v, want ErrMalformed", nodes, err)
		}
		if limit := decodeAllocBound(len(data), nodes); got > limit {
			t.Errorf("%d nodes: decode of %d bytes allocated %d bytes, over %d", nodes, len(data), got, limit)
		}
	}
}

func TestDecodeRefsBound(t *testing.T) {
	// RefsPerNode whole-shard records fit; one more does not.
	const nodes = 1000
	all := make([]uint32, nodes)
	for i := range all {
		all[i] = uint32(i)
	}
	b := EventBatch{Job: "j", Seq: 1}
	for range RefsPerNode {
		b.Events = append(b.Events, Event{Kind: KindStdout, Nodes: all, Data: []byte("x")})
	}
	data, _ := b.MarshalBinary()
	var got EventBatch
	if err := got.Decode(data, nodes); err != nil {
		t.Fatalf("%d records of every node: %v", RefsPerNode, err)
	}
	b.Events = append(b.Events, b.Events[0])
	data, _ = b.MarshalBinary()
	if err := got.Decode(data, nodes); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "references") {
		t.Fatalf("%d records of every node: %v, want the references bound", RefsPerNode+1, err)
	}
	// An index out of the set is malformed.
	b.Events = []Event{{Kind: KindStdout, Nodes: []uint32{nodes}}}
	data, _ = b.MarshalBinary()
	if err := got.Decode(data, nodes); !errors.Is(err, ErrMalformed) {
		t.Fatalf("node %d of %d: %v", nodes, nodes, err)
	}
	// Short runs are paid for in bytes: a record per line of one node
	// is never over the bound.
	b.Events = nil
	for range 5000 {
		b.Events = append(b.Events, Event{Kind: KindStdout, Nodes: []uint32{0}})
	}
	data, _ = b.MarshalBinary()
	if err := got.Decode(data, 1); err != nil {
		t.Fatalf("5000 one-node records of a one-node shard: %v", err)
	}
}

func TestDecodeHeader(t *testing.T) {
	data, _ := sampleBatch(3).MarshalBinary()
	var h EventBatch
	if err := h.DecodeHeader(data); err != nil {
		t.Fatal(err)
	}
	if h.Job != "j1" || h.Shard != "s3" || h.Attempt != 2 || h.Agent != "a-gw1" || h.Seq != 42 || h.Events != nil {
		t.Errorf("header %+v", h)
	}
	if err := h.DecodeHeader([]byte{1, 2, 3}); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad magic: %v", err)
	}
}

// FuzzBatchAlloc asserts that Decode allocates at most
// decodeAllocBound(len(data), nodes): 64 bytes per byte of message plus
// 32 per node of the set the batch indexes (RefsPerNode references of 4
// bytes), whatever the bytes.
func FuzzBatchAlloc(f *testing.F) {
	for _, n := range []int{0, 1, 5} {
		data, _ := sampleBatch(n).MarshalBinary()
		f.Add(data, uint16(1<<11))
	}
	f.Add(hugeRunsBatch(34), uint16(10))
	f.Add(hugeRunsBatch(3), uint16(65535))
	f.Fuzz(func(t *testing.T, data []byte, nodes uint16) {
		var b EventBatch
		var err error
		got := allocated(func() { err = b.Decode(data, int(nodes)) })
		if limit := decodeAllocBound(len(data), int(nodes)); got > limit {
			t.Fatalf("decode of %d bytes for %d nodes allocated %d bytes, over %d (err %v)", len(data), nodes, got, limit, err)
		}
		if err != nil {
			return
		}
		refs := 0
		for _, r := range b.Events {
			refs += len(r.Nodes)
			if n := len(r.Nodes); n > 0 && int(r.Nodes[n-1]) >= int(nodes) {
				t.Fatalf("node %d decoded for a set of %d", r.Nodes[n-1], nodes)
			}
		}
		if refs > MaxNodeRefs(len(data), int(nodes)) {
			t.Fatalf("%d references decoded, over %d", refs, MaxNodeRefs(len(data), int(nodes)))
		}
	})
}

func TestCheckFields(t *testing.T) {
	ok := JobSpec{ID: "j", Nodes: "n1", Command: strings.Repeat("x", MaxCommand), Info: map[string]string{"ssh_options": "-oX=y"}}
	if err := ok.CheckFields(); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", MaxPath+1)
	manyInfo := map[string]string{}
	for i := range MaxInfoKeys + 1 {
		manyInfo[strings.Repeat("k", i+1)] = "v"
	}
	for _, tc := range []struct {
		spec  JobSpec
		field string
	}{
		{JobSpec{Command: strings.Repeat("x", MaxCommand+1)}, "command"},
		{JobSpec{User: strings.Repeat("u", MaxName+1)}, "user"},
		{JobSpec{Worker: strings.Repeat("w", MaxName+1)}, "worker"},
		{JobSpec{Copy: &CopySpec{Source: big}}, "copy.source"},
		{JobSpec{Copy: &CopySpec{Source: "a", Dest: big}}, "copy.dest"},
		{JobSpec{Info: manyInfo}, "info"},
		{JobSpec{Info: map[string]string{strings.Repeat("k", MaxInfoKey+1): ""}}, "info key"},
		{JobSpec{Info: map[string]string{"ssh_options": strings.Repeat("v", MaxInfoValue+1)}}, "info[ssh_options]"},
	} {
		var fe *FieldError
		if err := tc.spec.CheckFields(); !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(err.Error(), "field "+tc.field+":") {
			t.Errorf("%s: %v", tc.field, err)
		}
	}
	hb := Heartbeat{Hello: Hello{Agent: "a", Name: strings.Repeat("n", MaxName+1)}}
	if err := hb.CheckFields(); err == nil || !strings.Contains(err.Error(), "field name:") {
		t.Errorf("heartbeat name: %v", err)
	}
	hb = Heartbeat{Shards: make([]string, MaxHeartbeatShards+1)}
	if err := hb.CheckFields(); err == nil || !strings.Contains(err.Error(), "field shards:") {
		t.Errorf("heartbeat shards: %v", err)
	}
}

func TestTruncate(t *testing.T) {
	if got := Truncate("short", 10); got != "short" {
		t.Errorf("%q", got)
	}
	if got := Truncate("ééé", 3); got != "é... (6 bytes)" {
		t.Errorf("cut inside a character: %q", got)
	}
	if got := Truncate(strings.Repeat("x", 1<<20), MaxLogField); len(got) > MaxLogField+32 {
		t.Errorf("%d bytes", len(got))
	}
}

func TestWindowAckBeyondSent(t *testing.T) {
	w := NewWindow(2)
	send := func() uint64 {
		seq, _, err := w.Send(t.Context(), func(seq uint64) ([]byte, error) { return []byte{byte(seq)}, nil })
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	send()
	send()
	if w.Ack(1 << 62) {
		t.Fatal("an ack beyond what was sent was taken")
	}
	// The stream goes on: the true acks still free the window.
	if !w.Ack(2) || w.Unacked() != 0 {
		t.Fatalf("ack 2: %d unacked", w.Unacked())
	}
	if seq := send(); seq != 3 || !w.Ack(3) || w.Acked() != 3 {
		t.Fatalf("seq %d, acked %d", seq, w.Acked())
	}
}
