package agent

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// batch is test batch q's bytes: n bytes naming q.
func batch(q uint64, n int) []byte {
	p := bytes.Repeat([]byte{byte('a' + q%26)}, n)
	copy(p, fmt.Sprintf("batch %d;", q))
	return p
}

func addN(t *testing.T, s *spool, n, size int) {
	t.Helper()
	for range n {
		if _, err := s.add(func(seq uint64) ([]byte, error) { return batch(seq, size), nil }); err != nil {
			t.Fatal(err)
		}
	}
}

// wantBatches checks that got are batches first, first+1, ...
func wantBatches(t *testing.T, got [][]byte, err error, first uint64, size int) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range got {
		if want := batch(first+uint64(i), size); !bytes.Equal(d, want) {
			t.Fatalf("batch %d: got %.20q, want %.20q", first+uint64(i), d, want)
		}
	}
}

func spillFiles(t *testing.T, b *budget) []string {
	t.Helper()
	if b.dir == "" {
		return nil
	}
	m, err := filepath.Glob(filepath.Join(b.dir, "*.spill"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// In memory: batches go in order, at most window unacknowledged; an ack
// beyond what was sent is refused.
func TestSpoolWindow(t *testing.T) {
	b := newBudget(1<<20, 1<<20, t.TempDir(), "t-")
	s := newSpool(b, "job/s1/1", 2, 1<<10)
	addN(t, s, 5, 100)
	got, err := s.pending()
	wantBatches(t, got, err, 1, 100)
	if len(got) != 2 {
		t.Fatalf("%d batches out, window 2", len(got))
	}
	if got, _ := s.pending(); len(got) != 0 {
		t.Fatalf("%d more batches out with a full window", len(got))
	}
	if s.ack(3) {
		t.Fatal("ack beyond the last batch sent taken")
	}
	if !s.ack(1) {
		t.Fatal("ack refused")
	}
	got, err = s.pending()
	wantBatches(t, got, err, 3, 100)
	if len(got) != 1 || s.unsent() != 2 || s.unacked() != 4 {
		t.Fatalf("%d sent, %d unsent, %d unacked", len(got), s.unsent(), s.unacked())
	}
	again, err := s.inFlight()
	wantBatches(t, again, err, 2, 100)
	if len(again) != 2 {
		t.Fatalf("%d in flight, want 2", len(again))
	}
	if st, _ := s.stale(time.Hour); len(st) != 0 {
		t.Fatalf("%d stale", len(st))
	}
	if st, _ := s.stale(0); len(st) != 2 {
		t.Fatalf("%d stale, want 2", len(st))
	}
	s.close()
	if b.mem != 0 || spillFiles(t, b) != nil {
		t.Fatalf("after close: %d bytes in memory", b.mem)
	}
}

// Past the memory bound the oldest batches go to disk, in private files;
// they come back in order and their files go once acknowledged.
func TestSpoolSpill(t *testing.T) {
	base := filepath.Join(t.TempDir(), "state")
	b := newBudget(1000, 1<<20, base, "agent-")
	s := newSpool(b, "job/s1/1", 4, 1<<10)
	s.segSize = 2000 // a few batches per file
	addN(t, s, 40, 300)
	if b.mem > 1000 {
		t.Fatalf("%d bytes in memory, bound 1000", b.mem)
	}
	files := spillFiles(t, b)
	if len(files) < 3 {
		t.Fatalf("spill files: %v", files)
	}
	if st, err := os.Stat(b.dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("spill directory: %v %v", st.Mode(), err)
	}
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("spill file %s: %v %v", f, st.Mode(), err)
		}
	}
	if spilled, peak := b.stats(); spilled < 36*300 || peak != b.disk {
		t.Fatalf("spilled %d, peak %d, disk %d", spilled, peak, b.disk)
	}
	for seq := uint64(1); seq <= 40; seq += 4 {
		got, err := s.pending()
		wantBatches(t, got, err, seq, 300)
		if len(got) != 4 {
			t.Fatalf("%d batches from %d", len(got), seq)
		}
		again, err := s.from(seq + 2)
		wantBatches(t, again, err, seq+2, 300)
		s.ack(seq + 3)
		// Acknowledged segments go at once.
		if n := len(spillFiles(t, b)); int64(n) > (b.disk+s.segSize-1)/s.segSize+1 {
			t.Fatalf("%d files for %d bytes on disk", n, b.disk)
		}
	}
	if b.mem != 0 || b.disk != 0 || len(spillFiles(t, b)) != 0 {
		t.Fatalf("all acked: %d in memory, %d on disk, files %v", b.mem, b.disk, spillFiles(t, b))
	}
	dir := b.dir
	if err := b.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Fatal("spill directory left")
	}
	if ents, _ := os.ReadDir(base); len(ents) != 0 {
		t.Fatalf("left in the base: %v", ents)
	}
}

// A run killed before it could remove its spill directory leaves it: the
// next run of the same agent removes it, and nobody else's.
func TestSpoolCleanStale(t *testing.T) {
	base := t.TempDir()
	old := newBudget(0, 1<<20, base, "fleetsh-spill-gw1.")
	addN(t, newSpool(old, "j/s/1", 16, 1<<10), 2, 300)
	// Agent ids hold no dot: gw1-b's directories are not gw1's.
	other := newBudget(0, 1<<20, base, "fleetsh-spill-gw1-b.")
	addN(t, newSpool(other, "j/s/1", 16, 1<<10), 2, 300)
	if got := newBudget(0, 1<<20, base, "fleetsh-spill-gw1.").clean(); len(got) != 1 || got[0] != old.dir {
		t.Fatalf("removed %v, want %s", got, old.dir)
	}
	if _, err := os.Stat(other.dir); err != nil {
		t.Fatalf("another agent's spill directory went: %v", err)
	}
}

// Past both bounds there is no room (the flusher then holds the engine
// back); an ack makes room and says so. Closing removes the files.
func TestSpoolBounds(t *testing.T) {
	b := newBudget(1000, 2000, t.TempDir(), "t-")
	s := newSpool(b, "j/s/1", 16, 1<<10)
	for b.room(300) {
		addN(t, s, 1, 300)
	}
	if b.mem > 1000+300 || b.disk > 2000 {
		t.Fatalf("%d in memory, %d on disk", b.mem, b.disk)
	}
	wait := b.wait()
	got, _ := s.pending()
	s.ack(uint64(len(got)))
	select {
	case <-wait:
	default:
		t.Fatal("an ack did not wake the budget's waiters")
	}
	if !b.room(300) {
		t.Fatal("no room after every batch was acked")
	}
	addN(t, s, 5, 300)
	if len(spillFiles(t, b)) == 0 {
		t.Fatal("nothing spilled")
	}
	s.close()
	if b.mem != 0 || b.disk != 0 || len(spillFiles(t, b)) != 0 {
		t.Fatalf("closed: %d in memory, %d on disk", b.mem, b.disk)
	}
	if !s.ack(99) {
		t.Fatal("a late ack after close is harmless")
	}
}

// Bounds under one batch slow a shard down, never stop it: with nothing
// in memory there is room for one batch.
func TestSpoolTinyBounds(t *testing.T) {
	b := newBudget(10, 10, t.TempDir(), "t-")
	s := newSpool(b, "j/s/1", 16, 1<<10)
	for i := range 3 {
		if !b.room(300) {
			t.Fatalf("batch %d: no room with nothing kept", i)
		}
		addN(t, s, 1, 300)
		if b.room(300) {
			t.Fatalf("batch %d: room for a second batch", i)
		}
		got, err := s.pending()
		wantBatches(t, got, err, uint64(i+1), 300)
		s.ack(uint64(i + 1))
	}
}

// A spill directory that cannot be made stops spilling, never the data:
// batches stay in memory and the room check then says no.
func TestSpoolBrokenDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	b := newBudget(500, 1<<20, filepath.Join(file, "sub"), "t-")
	s := newSpool(b, "j/s/1", 16, 1<<10)
	addN(t, s, 4, 300)
	if b.broken == nil || b.room(300) {
		t.Fatalf("broken %v, room %v", b.broken, b.room(300))
	}
	got, err := s.pending()
	wantBatches(t, got, err, 1, 300)
	if len(got) != 4 {
		t.Fatalf("%d batches kept", len(got))
	}
}

// A damaged spill file is reported, not sent.
func TestSpoolCorrupt(t *testing.T) {
	b := newBudget(0, 1<<20, t.TempDir(), "t-")
	s := newSpool(b, "j/s/1", 16, 1<<10)
	addN(t, s, 3, 300)
	if _, err := s.segs[0].f.WriteAt([]byte("XX"), recordHeader+int64(recordHeader+300)+5); err != nil {
		t.Fatal(err)
	}
	got, err := s.pending()
	if !errors.Is(err, errRecord) || len(got) != 2 {
		t.Fatalf("%d batches, err %v", len(got), err)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("x"), batch(7, 5000)} {
		rec := encodeRecord(nil, 42, data)
		seq, got, n, err := decodeRecord(append(rec, "next"...), len(data))
		if err != nil || seq != 42 || !bytes.Equal(got, data) || n != len(rec) {
			t.Fatalf("%d bytes: seq %d, %d bytes, size %d, %v", len(data), seq, len(got), n, err)
		}
		if len(data) > 0 {
			if _, _, _, err := decodeRecord(rec, len(data)-1); !errors.Is(err, errRecord) {
				t.Fatalf("over maxLen: %v", err)
			}
		}
		if _, err := readRecord(bytes.NewReader(rec), 0, 43, len(data)); !errors.Is(err, errRecord) {
			t.Fatalf("wrong batch read: %v", err)
		}
	}
}

// FuzzDecodeRecord: the spill decoder never panics, never reads past its
// input, allocates nothing, and what it accepts encodes back to the same
// bytes. readRecord allocates at most maxLen whatever the file says.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodeRecord(nil, 1, []byte("hello")), 16)
	f.Add(encodeRecord(nil, 1<<40, batch(3, 100)), 100)
	f.Add(encodeRecord(nil, 0, nil), 0)
	f.Add([]byte("fsp1\x00\x00\x00\x00\x00\x00\x00\x01\xff\xff\xff\xff\x00\x00\x00\x00"), 1<<20)
	f.Fuzz(func(t *testing.T, p []byte, maxLen int) {
		maxLen = max(0, min(maxLen, 1<<20))
		seq, data, n, err := decodeRecord(p, maxLen)
		ok := err == nil
		if err != nil {
			if !errors.Is(err, errRecord) {
				t.Fatalf("error not errRecord: %v", err)
			}
		} else {
			if n > len(p) || len(data) > maxLen {
				t.Fatalf("size %d of %d bytes, data %d over %d", n, len(p), len(data), maxLen)
			}
			if again := encodeRecord(nil, seq, data); !bytes.Equal(again, p[:n]) {
				t.Fatalf("re-encoded differently")
			}
		}
		got, err := readRecord(bytes.NewReader(p), 0, seq, maxLen)
		if err == nil && len(got) > maxLen {
			t.Fatalf("read %d bytes over %d", len(got), maxLen)
		}
		if !ok {
			return
		}
		if allocs := testing.AllocsPerRun(1, func() { _, _, _, _ = decodeRecord(p, maxLen) }); allocs > 0 {
			t.Fatalf("decodeRecord allocated %v times", allocs)
		}
	})
}
