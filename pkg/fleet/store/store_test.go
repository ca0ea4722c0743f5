package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

func open(t *testing.T, srv *natstest.Server) *Store {
	t.Helper()
	nc := srv.Connect(t, "store-test")
	s, err := Open(context.Background(), nc, Config{Subjects: protocol.Subjects{Prefix: "t1"}, MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNames(t *testing.T) {
	n := NamesOf(protocol.Subjects{Prefix: "site.a"})
	if n.Bucket != "fleetsh_site_a_jobs" || n.Stream != "fleetsh_site_a_journal" || n.Subject != "site.a.journal.*" {
		t.Fatalf("%+v", n)
	}
	if d := NamesOf(protocol.Subjects{}); d.Subject != "fleet.journal.*" {
		t.Fatalf("%+v", d)
	}
}

func TestNoJetStream(t *testing.T) {
	srv := natstest.Start(t, 0)
	nc := srv.Connect(t, "store-test")
	_, err := Open(context.Background(), nc, Config{Timeout: time.Second})
	if !errors.Is(err, ErrNoJetStream) || !strings.Contains(err.Error(), "store_dir") {
		t.Fatalf("err = %v", err)
	}
}

// The registry and the journals survive a restart of the server.
func TestRegistryAndJournalSurviveRestart(t *testing.T) {
	ctx := context.Background()
	srv := natstest.StartJetStream(t, t.TempDir())
	s := open(t, srv)
	rec := &Record{JobStatus: protocol.JobStatus{ID: "job1", User: "u", Nodes: "n[1-4]", Total: 4}, Owner: "c1"}
	if err := s.Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, &Record{JobStatus: protocol.JobStatus{ID: "job1"}}); err == nil {
		t.Fatal("second create of job1 accepted")
	}
	stale := *rec
	rec.Done, rec.Finals = true, map[protocol.State]int{protocol.StateExited: 4}
	if err := s.Update(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, &stale); !errors.Is(err, ErrConflict) {
		t.Fatalf("update at an old revision: %v", err)
	}

	spec := protocol.JobSpec{ID: "job1", User: "u", Nodes: "n[1-4]", Command: "true"}
	entries := []*Entry{
		{Accepted: &Accepted{Spec: spec, Created: time.Unix(100, 0).UTC(), Owner: "c1"}},
		{Shards: []ShardEvent{{Kind: ShardDispatched, ID: "s1", Attempt: 1, Agent: "a1", Nodes: EncodeNodes([]uint32{0, 1, 3})}}},
		{Progress: []Progress{{ID: "s1", Attempt: 1, Seq: 2}}, Emitted: 3, Records: []Logged{
			{Idx: 0, Event: protocol.Event{Kind: protocol.KindStart, Nodes: []uint32{0, 1}, At: time.Unix(1, 0)}},
			{Idx: 2, Event: protocol.Event{Kind: protocol.KindStdout, Nodes: []uint32{1}, Data: []byte("hi")}},
		}},
		{Shards: []ShardEvent{{Kind: ShardDone, ID: "s1", Attempt: 1}}, Ended: time.Unix(200, 0).UTC()},
	}
	// Stored out of order, and one twice: the same job comes back.
	for i, k := range []int{0, 2, 1, 3, 2} {
		data, err := entries[k].Encode()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AppendSync(ctx, "job1", "job1-"+string(rune('a'+i)), data); err != nil {
			t.Fatal(err)
		}
	}
	srv.Restart(0)
	s = open(t, srv)
	recs, err := s.Records(ctx)
	if err != nil || len(recs) != 1 || !recs[0].Done || recs[0].Owner != "c1" || recs[0].Finals[protocol.StateExited] != 4 {
		t.Fatalf("records %+v, %v", recs, err)
	}
	j, err := s.Load(ctx, "job1", 4)
	if err != nil {
		t.Fatal(err)
	}
	if j.Accepted == nil || j.Accepted.Spec.Nodes != "n[1-4]" || j.Emitted != 3 || j.Ended.IsZero() {
		t.Fatalf("job %+v", j)
	}
	if len(j.Shards) != 1 || !j.Shards[0].Done || j.Shards[0].Seq != 2 || len(j.Shards[0].Nodes) != 3 || j.Shards[0].Nodes[2] != 3 {
		t.Fatalf("shards %+v", j.Shards[0])
	}
	if len(j.Records) != 2 || j.Records[1].Idx != 2 || string(j.Records[1].Data) != "hi" {
		t.Fatalf("records %+v", j.Records)
	}
	if err := s.Forget(ctx, "job1"); err != nil {
		t.Fatal(err)
	}
	if recs, err := s.Records(ctx); err != nil || len(recs) != 0 {
		t.Fatalf("after forget: %v %v", recs, err)
	}
	if j, err := s.Load(ctx, "job1", 4); err != nil || j.Accepted != nil || len(j.Records) != 0 {
		t.Fatalf("after forget: %+v %v", j, err)
	}
}

// A journal whose node set came in parts is joined again.
func TestNodesParts(t *testing.T) {
	r := NewReplay(10)
	_ = r.Add(&Entry{NodesPart: &NodesPart{Part: 1, Nodes: "-9]"}})
	_ = r.Add(&Entry{Accepted: &Accepted{Spec: protocol.JobSpec{ID: "j"}, Parts: 2}})
	if _, err := r.Job(); err == nil {
		t.Fatal("a missing part went unnoticed")
	}
	_ = r.Add(&Entry{NodesPart: &NodesPart{Part: 0, Nodes: "n[0"}})
	j, err := r.Job()
	if err != nil || j.Accepted.Spec.Nodes != "n[0-9]" {
		t.Fatalf("%+v %v", j, err)
	}
}

func TestDecodeBounds(t *testing.T) {
	e := &Entry{Records: []Logged{{Idx: 5, Event: protocol.Event{Kind: protocol.KindStart, Nodes: []uint32{9}}}}}
	data, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(data, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(data, 5); err == nil {
		t.Fatal("node 9 of a 5-node job decoded")
	}
	for i := range data {
		_, _ = Decode(data[:i], 10) // no panic
	}
	if _, err := DecodeNodes(EncodeNodes([]uint32{0, 1, 2, 7}), 7); err == nil {
		t.Fatal("node 7 of a 7-node job decoded")
	}
	got, err := DecodeNodes(EncodeNodes([]uint32{0, 1, 2, 7}), 8)
	if err != nil || len(got) != 4 || got[3] != 7 {
		t.Fatalf("%v %v", got, err)
	}
}

func FuzzDecode(f *testing.F) {
	e := &Entry{Progress: []Progress{{ID: "s1", Attempt: 1, Seq: 3}}, Records: []Logged{
		{Idx: 1, Event: protocol.Event{Kind: protocol.KindStdout, Nodes: []uint32{1, 2}, Data: []byte("x")}}}}
	data, _ := e.Encode()
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Decode(data, 100)
		if err != nil {
			return
		}
		for _, r := range e.Records {
			for _, n := range r.Nodes {
				if n >= 100 {
					t.Fatalf("node %d decoded", n)
				}
			}
		}
	})
}
