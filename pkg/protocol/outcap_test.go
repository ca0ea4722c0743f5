package protocol

import (
	"errors"
	"testing"
)

// TestCutEvent: a cut travels with its cap and whose cap it was.
func TestCutEvent(t *testing.T) {
	out, _ := roundTrip(t, &EventBatch{Job: "j", Shard: "s", Seq: 1, Events: []Event{
		{Kind: KindStdout, Nodes: []uint32{0, 1}, Data: []byte("x")},
		CutEvent([]uint32{0, 1}, 64<<20, false),
		CutEvent([]uint32{2}, MaxOutputLimit, true),
	}})
	if len(out.Events) != 3 {
		t.Fatalf("decoded %+v", out.Events)
	}
	for i, want := range []struct {
		limit   int64
		byAgent bool
		nodes   int
	}{{64 << 20, false, 2}, {MaxOutputLimit, true, 1}} {
		r := &out.Events[i+1]
		limit, byAgent := r.Cut()
		if r.Kind != KindCut || limit != want.limit || byAgent != want.byAgent || len(r.Nodes) != want.nodes || r.Kind.String() != "cut" {
			t.Errorf("event %d: %v %d %v %v", i+1, r.Kind, limit, byAgent, r.Nodes)
		}
	}
	for _, r := range []Event{
		{Kind: KindStdout, Data: CutEvent(nil, 5, true).Data}, // not a cut
		{Kind: KindCut},                     // no count
		{Kind: KindCut, Data: []byte{0xff}}, // truncated varint
		{Kind: KindCut, Data: CutEvent(nil, MaxOutputLimit+1, true).Data}, // over the bound
	} {
		if limit, byAgent := r.Cut(); limit != 0 || byAgent {
			t.Errorf("Cut of %v %x = %d, %v", r.Kind, r.Data, limit, byAgent)
		}
	}
	// A cut without its flag byte (a shorter sender) is the job's cap.
	if limit, byAgent := (&Event{Kind: KindCut, Data: []byte{10}}).Cut(); limit != 10 || byAgent {
		t.Errorf("short cut = %d, %v", limit, byAgent)
	}
}

func TestOutputLimit(t *testing.T) {
	for _, c := range []struct {
		job, ceiling, want int64
		byAgent            bool
	}{
		{0, 0, DefaultMaxOutput, false},
		{0, 64 << 20, DefaultMaxOutput, false},
		{0, 1000, 1000, true},
		{5, 1000, 5, false},
		{1000, 1000, 1000, false},
		{1001, 1000, 1000, true},
		{1 << 30, 0, 1 << 30, false},
	} {
		s := JobSpec{MaxOutput: c.job}
		if got, by := s.OutputLimit(c.ceiling); got != c.want || by != c.byAgent {
			t.Errorf("job %d ceiling %d: %d %v, want %d %v", c.job, c.ceiling, got, by, c.want, c.byAgent)
		}
	}
}

func TestCheckMaxOutput(t *testing.T) {
	for _, v := range []int64{0, 1, MaxOutputLimit} {
		if err := (&JobSpec{MaxOutput: v}).CheckFields(); err != nil {
			t.Errorf("max_output %d: %v", v, err)
		}
	}
	for v, want := range map[int64]string{
		-1:                 "field max_output: -1 bytes, negative",
		MaxOutputLimit + 1: "field max_output: 1099511627777 bytes, over the limit of 1099511627776",
	} {
		err := (&JobSpec{MaxOutput: v}).CheckFields()
		var fe *FieldError
		if !errors.As(err, &fe) || err.Error() != want {
			t.Errorf("max_output %d: %v, want %s", v, err, want)
		}
	}
}
