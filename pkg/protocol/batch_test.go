package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

func sampleBatch(lines int) *EventBatch {
	b := &EventBatch{Job: "j1", Shard: "s3", Attempt: 2, Agent: "a-gw1", Seq: 42}
	at := time.UnixMicro(1795821965123456)
	b.Events = append(b.Events, Event{Kind: KindStart, Nodes: []uint32{0, 1, 2, 7}, At: at})
	for i := range lines {
		b.Events = append(b.Events, Event{Kind: KindStdout, Nodes: []uint32{uint32(i % 50)},
			Data: fmt.Appendf(nil, "Linux node%d 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 x86_64 GNU/Linux", i)})
	}
	b.Events = append(b.Events,
		Event{Kind: KindStderr, Partial: true, Nodes: []uint32{3}, Data: []byte("part")},
		Event{Kind: KindEnd, Nodes: []uint32{1, 2, 3, 4, 5, 9, 10, 1 << 20}, State: StateExited, Code: 3, At: at},
		Event{Kind: KindEnd, Nodes: []uint32{6}, State: StateConnect, Reason: "connection refused", Code: 255, At: at, Data: []byte("ssh: connect to host node6 port 22: Connection refused")})
	return b
}

func TestBatchRoundTrip(t *testing.T) {
	indexed := sampleBatch(3)
	indexed.Shard, indexed.Attempt, indexed.Agent, indexed.Indexed, indexed.First = "", 0, "", true, 1<<40+7
	for _, b := range []*EventBatch{sampleBatch(10), {Job: "x", Seq: 1, Last: true}, indexed, {Job: "x", Seq: 9, Last: true, Indexed: true}} {
		got, _ := roundTrip(t, b)
		if len(got.Events) == 0 {
			got.Events = nil
		}
		for i := range got.Events {
			if len(got.Events[i].Data) == 0 {
				got.Events[i].Data = nil
			}
		}
		if !reflect.DeepEqual(&got, b) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, *b)
		}
	}
}

func TestBatchNodeRunsAreCompact(t *testing.T) {
	nodes := make([]uint32, 10000)
	for i := range nodes {
		nodes[i] = uint32(i)
	}
	b := EventBatch{Job: "j", Events: []Event{{Kind: KindEnd, Nodes: nodes, State: StateExited}}}
	data, err := b.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 40 {
		t.Errorf("10000 contiguous nodes take %d bytes", len(data))
	}
}

func TestBatchRejectsBadInput(t *testing.T) {
	b := EventBatch{Events: []Event{{Kind: KindStdout, Nodes: []uint32{3, 2}}}}
	if _, err := b.MarshalBinary(); err == nil {
		t.Error("descending nodes encoded")
	}
	b = EventBatch{Events: []Event{{Kind: 9}}}
	if _, err := b.MarshalBinary(); err == nil {
		t.Error("bad kind encoded")
	}
	good, _ := sampleBatch(3).MarshalBinary()
	for _, data := range [][]byte{nil, {0}, {batchMagic}, good[:len(good)-1], append(bytes.Clone(good), 0),
		// one run of 2^40 nodes
		{batchMagic, 0, 0, 0, 0, 0, 1, 1, 2, 1, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20}} {
		var got EventBatch
		err := got.UnmarshalBinary(data)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("decode %x: err %v, want ErrMalformed", data, err)
		}
	}
}

func FuzzBatch(f *testing.F) {
	for _, n := range []int{0, 1, 5} {
		data, _ := sampleBatch(n).MarshalBinary()
		f.Add(data)
	}
	// An end with a reason, and the same cut inside the reason's length.
	end, _ := (&EventBatch{Job: "j", Seq: 1, Events: []Event{{Kind: KindEnd, Nodes: []uint32{0}, State: StateHostKey,
		Reason: "host key changed", Code: 255, Data: []byte("host key changed: offending key in known_hosts:2")}}}).MarshalBinary()
	f.Add(end)
	f.Add(end[:len(end)-60])
	fuzzReencode[EventBatch](f, nil)
}

func TestCheckVersion(t *testing.T) {
	if err := CheckVersion(VersionHeader); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"", "1", "2", "3", "4", "5", "7", "x", "06x"} {
		err := CheckVersion(v)
		var ve *VersionError
		if !errors.As(err, &ve) || ve.Got != v {
			t.Errorf("CheckVersion(%q) = %v", v, err)
		}
	}
	if msg := CheckVersion("99").Error(); msg != "fleetsh protocol version 99 is not supported (this side speaks version 6): run the same fleetsh release on csub, coordinator and agents" {
		t.Errorf("message %q", msg)
	}
}

func TestValidID(t *testing.T) {
	for _, id := range []string{"a", "job-1_X"} {
		if err := ValidID(id); err != nil {
			t.Errorf("%q: %v", id, err)
		}
	}
	for _, id := range []string{"", "a.b", "a*", ">", "a b", string(make([]byte, 65))} {
		if ValidID(id) == nil {
			t.Errorf("%q accepted", id)
		}
	}
	if (Subjects{}).Events("a1", "j1") != "fleet.ev.a1.j1" || (Subjects{Prefix: "x.y"}).Agent("a") != "x.y.agent.a" {
		t.Error("subjects")
	}
	if LastToken("fleet.ev.a1.j1") != "j1" {
		t.Error("LastToken")
	}
	for subject, want := range map[string]string{
		(Subjects{}).Submit("alice"): "alice", (Subjects{}).Events("a1", "j1"): "a1",
		(Subjects{}).Output("bob", "s1"): "bob", (Subjects{}).Heartbeat("gw"): "gw",
		"other.submit.alice": "", "fleet.submit": "", "fleetx.submit.alice": "",
	} {
		if got := (Subjects{}).Sender(subject); got != want {
			t.Errorf("Sender(%q) = %q, want %q", subject, got, want)
		}
	}
	if got := (Subjects{Prefix: "x.y"}).Sender("x.y.out.bob.s1"); got != "bob" {
		t.Errorf("Sender with a dotted prefix: %q", got)
	}
	if ValidPrefix("a..b") == nil || ValidPrefix("a.>") == nil || ValidPrefix("fleet.prod") != nil {
		t.Error("ValidPrefix")
	}
}

// jsonBatch is how the batch would travel as JSON, for the benchmarks that
// chose the binary encoding. Its records carry their data as a JSON string,
// as a JSON protocol carrying text lines would, not as base64 ([]byte's
// JSON form), so that both sides carry the same text.
type jsonBatch struct {
	Job, Shard, Agent string
	Attempt           int
	Seq               uint64
	Events            []jsonEvent
}

// jsonEvent is an Event whose Data (the shallower field hides Event's)
// is a string.
type jsonEvent struct {
	Event
	Data string
}

func toJSON(b *EventBatch) *jsonBatch {
	jb := &jsonBatch{Job: b.Job, Shard: b.Shard, Agent: b.Agent, Attempt: b.Attempt, Seq: b.Seq,
		Events: make([]jsonEvent, len(b.Events))}
	for i, r := range b.Events {
		jb.Events[i] = jsonEvent{Event: r, Data: string(r.Data)}
		jb.Events[i].Event.Data = nil
	}
	return jb
}

func fromJSON(jb *jsonBatch) *EventBatch {
	b := &EventBatch{Job: jb.Job, Shard: jb.Shard, Agent: jb.Agent, Attempt: jb.Attempt, Seq: jb.Seq,
		Events: make([]Event, len(jb.Events))}
	for i, r := range jb.Events {
		b.Events[i] = r.Event
		if r.Data != "" {
			b.Events[i].Data = []byte(r.Data)
		}
	}
	return b
}

// TestBatchJSONCarriesText: the JSON side of the benchmarks carries the
// lines as text, not base64, and loses nothing of the batch.
func TestBatchJSONCarriesText(t *testing.T) {
	batch := sampleBatch(10)
	data, err := json.Marshal(toJSON(batch))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`"Linux node3 6.1.0-18-amd64`)) {
		t.Errorf("JSON batch does not carry its lines as text: %.200s", data)
	}
	var jb jsonBatch
	if err := json.Unmarshal(data, &jb); err != nil {
		t.Fatal(err)
	}
	got := fromJSON(&jb)
	for i := range got.Events { // JSON's time keeps the zone; compare the instant
		if got.Events[i].At.Equal(batch.Events[i].At) {
			got.Events[i].At = batch.Events[i].At
		}
	}
	if !reflect.DeepEqual(got, batch) {
		t.Errorf("JSON round trip:\n got %+v\nwant %+v", *got, *batch)
	}
}

func BenchmarkBatchEncode(b *testing.B) {
	batch := sampleBatch(600) // ~64 KiB of 100-byte lines
	b.Run("binary", func(b *testing.B) {
		var buf []byte
		var err error
		for b.Loop() {
			if buf, err = batch.AppendBinary(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(buf)), "bytes/batch")
		b.ReportMetric(float64(len(batch.Events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("json", func(b *testing.B) {
		var buf []byte
		var err error
		for b.Loop() {
			if buf, err = json.Marshal(toJSON(batch)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(buf)), "bytes/batch")
		b.ReportMetric(float64(len(batch.Events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

func BenchmarkBatchDecode(b *testing.B) {
	batch := sampleBatch(600)
	b.Run("binary", func(b *testing.B) {
		data, err := batch.MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			var got EventBatch
			if err := got.UnmarshalBinary(data); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(batch.Events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("json", func(b *testing.B) {
		data, err := json.Marshal(toJSON(batch))
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			var got jsonBatch
			if err := json.Unmarshal(data, &got); err != nil {
				b.Fatal(err)
			}
			fromJSON(&got)
		}
		b.ReportMetric(float64(len(batch.Events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

func TestRecordSizeIsAnUpperBound(t *testing.T) {
	b := sampleBatch(50)
	for _, r := range b.Events {
		one := EventBatch{Events: []Event{r}}
		data, err := one.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if enc := len(data) - 8; enc > r.Size() {
			t.Errorf("%v record: encoded %d > Size %d", r.Kind, enc, r.Size())
		}
	}
}
