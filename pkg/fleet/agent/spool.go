package agent

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A spool keeps one shard's numbered event batches from the moment they
// are made until the coordinator acknowledges them, whatever happens to
// the network meanwhile: the engine never waits for the coordinator.
// Batches are sent in order, at most window of them unacknowledged; the
// rest wait unsent. The batches of all the agent's shards share one
// budget: up to budget.maxMem bytes in memory, then a shard's oldest
// batches in memory are written to spill files (segments of at most
// segmentSize bytes in budget.dir, mode 0600), read back when they are
// sent (again), and their segment removed once every batch in it was
// acknowledged, or the shard ends. Past budget.maxDisk on disk too the
// flusher stops taking events (budget.room), which holds the engine back:
// events are never dropped.

// segmentSize is the size at which a spool starts a new spill file: an
// acknowledged segment is removed, so this is also the granularity at
// which disk space comes back.
const segmentSize = 4 << 20

// recordHeader is the size of a spilled record's header: magic, sequence
// number, data length, CRC-32C of the data.
const recordHeader = 4 + 8 + 4 + 4

// recordMagic starts every spilled record: a read at a wrong offset or
// of a foreign file fails at once.
var recordMagic = [4]byte{'f', 's', 'p', '1'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errRecord is a spilled record that does not decode.
var errRecord = errors.New("corrupt spill record")

// encodeRecord appends the spill record of batch seq to dst.
func encodeRecord(dst []byte, seq uint64, data []byte) []byte {
	dst = append(dst, recordMagic[:]...)
	dst = binary.BigEndian.AppendUint64(dst, seq)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(data)))
	dst = binary.BigEndian.AppendUint32(dst, crc32.Checksum(data, castagnoli))
	return append(dst, data...)
}

// recordLen checks a record header and returns the length of its data,
// which is at most maxLen.
func recordLen(hdr []byte, maxLen int) (seq uint64, n int, err error) {
	if len(hdr) < recordHeader {
		return 0, 0, fmt.Errorf("%w: %d bytes, under the %d-byte header", errRecord, len(hdr), recordHeader)
	}
	if [4]byte(hdr[:4]) != recordMagic {
		return 0, 0, fmt.Errorf("%w: bad magic %q", errRecord, hdr[:4])
	}
	seq = binary.BigEndian.Uint64(hdr[4:])
	l := binary.BigEndian.Uint32(hdr[12:])
	if uint64(l) > uint64(maxLen) {
		return 0, 0, fmt.Errorf("%w: length %d over %d", errRecord, l, maxLen)
	}
	return seq, int(l), nil
}

// decodeRecord decodes the record at the start of p, whose data is at
// most maxLen bytes: its batch's sequence number, its data (a window of
// p, not a copy) and the record's size. It allocates nothing.
func decodeRecord(p []byte, maxLen int) (seq uint64, data []byte, size int, err error) {
	seq, n, err := recordLen(p, maxLen)
	if err != nil {
		return 0, nil, 0, err
	}
	if len(p)-recordHeader < n {
		return 0, nil, 0, fmt.Errorf("%w: %d bytes of data, want %d", errRecord, len(p)-recordHeader, n)
	}
	data = p[recordHeader : recordHeader+n : recordHeader+n]
	if crc32.Checksum(data, castagnoli) != binary.BigEndian.Uint32(p[16:]) {
		return 0, nil, 0, fmt.Errorf("%w: checksum mismatch (batch %d)", errRecord, seq)
	}
	return seq, data, recordHeader + n, nil
}

// readRecord reads the record of batch want at off in r: it reads the
// header first, so it allocates at most maxLen bytes whatever the file
// holds.
func readRecord(r io.ReaderAt, off int64, want uint64, maxLen int) ([]byte, error) {
	var hdr [recordHeader]byte
	if _, err := r.ReadAt(hdr[:], off); err != nil {
		return nil, fmt.Errorf("read spill record at %d: %w", off, err)
	}
	_, n, err := recordLen(hdr[:], maxLen)
	if err != nil {
		return nil, err
	}
	p := make([]byte, recordHeader+n)
	if _, err := r.ReadAt(p, off); err != nil {
		return nil, fmt.Errorf("read spill record at %d: %w", off, err)
	}
	seq, data, _, err := decodeRecord(p, maxLen)
	if err != nil {
		return nil, err
	}
	if seq != want {
		return nil, fmt.Errorf("%w: batch %d where %d was written", errRecord, seq, want)
	}
	return data, nil
}

// budget is what an agent's spools may keep, shared by all its shards.
// Lock order: a spool's mu, then the budget's.
type budget struct {
	maxMem, maxDisk int64
	base            string // where the spill directory is made
	prefix          string // its name's start

	mu       sync.Mutex
	mem      int64 // batch bytes in memory
	disk     int64 // bytes of spill files
	spilled  int64 // bytes ever written to spill files
	peakDisk int64
	dir      string // made at the first spill
	broken   error  // the spill directory or a write failed: no more spilling
	changed  chan struct{}
}

func newBudget(maxMem, maxDisk int64, base, prefix string) *budget {
	return &budget{maxMem: maxMem, maxDisk: maxDisk, base: base, prefix: prefix, changed: make(chan struct{})}
}

// room reports whether a new batch of n bytes may be kept: in memory, or
// by spilling as much to disk. A flusher takes no events while it is
// false. With nothing in memory there is always room for one batch, so
// that bounds under a batch slow the shards down but never stop them.
func (b *budget) room(n int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mem == 0 || b.mem+int64(n) <= b.maxMem || b.broken == nil && b.disk+int64(n+recordHeader) <= b.maxDisk
}

// wait returns a channel closed at the next release of memory or disk.
func (b *budget) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.changed
}

// release returns mem bytes of memory and disk bytes of disk (b.mu held).
func (b *budget) release(mem, disk int64) {
	if mem == 0 && disk == 0 {
		return
	}
	b.mem -= mem
	b.disk -= disk
	close(b.changed)
	b.changed = make(chan struct{})
}

// spillDir makes the agent's private spill directory on first use (b.mu
// held).
func (b *budget) spillDir() (string, error) {
	if b.broken != nil {
		return "", b.broken
	}
	if b.dir == "" {
		if err := os.MkdirAll(b.base, 0o700); err != nil {
			b.broken = fmt.Errorf("spill directory: %w", err)
			return "", b.broken
		}
		dir, err := os.MkdirTemp(b.base, b.prefix) // mode 0700
		if err != nil {
			b.broken = fmt.Errorf("spill directory: %w", err)
			return "", b.broken
		}
		b.dir = dir
	}
	return b.dir, nil
}

// clean removes the spill directories a previous run under the same
// prefix (the same agent id) left behind: killed, it could not remove
// them, and nothing will ever read them.
func (b *budget) clean() (removed []string) {
	ents, _ := os.ReadDir(b.base) // none yet: nothing to clean
	for _, e := range ents {
		if dir := filepath.Join(b.base, e.Name()); e.IsDir() && strings.HasPrefix(e.Name(), b.prefix) && os.RemoveAll(dir) == nil {
			removed = append(removed, dir)
		}
	}
	return removed
}

// stats returns the bytes ever spilled and the most on disk at once.
func (b *budget) stats() (spilled, peak int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.spilled, b.peakDisk
}

// close removes the spill directory and what it still holds.
func (b *budget) close() error {
	b.mu.Lock()
	dir := b.dir
	b.dir = ""
	b.mu.Unlock()
	if dir == "" {
		return nil
	}
	return os.RemoveAll(dir)
}

// spool is one shard's batches (see above). Safe for concurrent use.
type spool struct {
	b       *budget
	name    string // the shard's key, made a file name
	window  int
	maxLen  int   // largest batch
	segSize int64 // segmentSize
	// spilled counts the bytes this spool wrote to disk (added to with mu
	// held, read without it).
	spilled atomic.Int64

	mu      sync.Mutex
	next    uint64  // number of the next batch
	acked   uint64  // every batch up to it is acknowledged
	sentTo  uint64  // every batch up to it was sent at least once
	ents    []entry // batches acked+1 .. next-1
	memFrom uint64  // batches before it are on disk or acknowledged
	segs    []*segment
	nseg    int
	closed  bool
	changed chan struct{} // closed and replaced on ack, kick and close
}

type entry struct {
	data []byte   // nil once spilled
	seg  *segment // where it was spilled
	off  int64
	at   time.Time // last sent (zero: never)
}

type segment struct {
	f    *os.File
	size int64
	live int // batches in it not acknowledged
}

func newSpool(b *budget, key string, window, maxLen int) *spool {
	return &spool{b: b, name: strings.NewReplacer("/", "_", string(os.PathSeparator), "_").Replace(key),
		window: max(window, 1), maxLen: maxLen, segSize: segmentSize, next: 1, memFrom: 1, changed: make(chan struct{})}
}

// entry returns batch seq's entry (s.mu held; acked < seq < next).
func (s *spool) entry(seq uint64) *entry { return &s.ents[seq-s.acked-1] }

// add numbers a batch with encode and keeps it. It never waits: the
// caller checks budget.room first; a batch the budget has no room for
// stays in memory. It returns encode's error.
func (s *spool) add(encode func(seq uint64) ([]byte, error)) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := s.next
	data, err := encode(seq)
	if err != nil {
		return 0, err
	}
	s.next++
	s.ents = append(s.ents, entry{data: data})
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.mem += int64(len(data))
	if !s.closed {
		s.spill()
	}
	return seq, nil
}

// spill writes this shard's oldest batches in memory to disk while the
// agent is over its memory bound and the disk has room (s.mu and s.b.mu
// held).
func (s *spool) spill() {
	for s.b.mem > s.b.maxMem && s.memFrom < s.next {
		if s.memFrom <= s.acked {
			s.memFrom = s.acked + 1
			continue
		}
		e := s.entry(s.memFrom)
		if e.data == nil {
			s.memFrom++
			continue
		}
		n := int64(recordHeader + len(e.data))
		if s.b.broken != nil || s.b.disk+n > s.b.maxDisk {
			return
		}
		if err := s.write(e, s.memFrom); err != nil {
			s.b.broken = err
			return
		}
		s.b.mem -= int64(len(e.data))
		s.b.disk += n
		s.b.spilled += n
		s.spilled.Add(n)
		s.b.peakDisk = max(s.b.peakDisk, s.b.disk)
		e.data = nil
		s.memFrom++
	}
}

// write appends batch seq's record to the current segment (both locks
// held).
func (s *spool) write(e *entry, seq uint64) error {
	var seg *segment
	if n := len(s.segs); n > 0 && s.segs[n-1].size < s.segSize {
		seg = s.segs[n-1]
	} else {
		dir, err := s.b.spillDir()
		if err != nil {
			return err
		}
		s.nseg++
		path := filepath.Join(dir, fmt.Sprintf("%s.%d.spill", s.name, s.nseg))
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("spill file: %w", err)
		}
		seg = &segment{f: f}
		s.segs = append(s.segs, seg)
	}
	rec := encodeRecord(make([]byte, 0, recordHeader+len(e.data)), seq, e.data)
	if _, err := seg.f.WriteAt(rec, seg.size); err != nil {
		return fmt.Errorf("spill file %s: %w", seg.f.Name(), err)
	}
	e.seg, e.off = seg, seg.size
	seg.size += int64(len(rec))
	seg.live++
	return nil
}

// data returns batch seq's bytes, from memory or its spill file (s.mu
// held).
func (s *spool) data(seq uint64) ([]byte, error) {
	e := s.entry(seq)
	if e.data != nil {
		return e.data, nil
	}
	return readRecord(e.seg.f, e.off, seq, s.maxLen)
}

// collect returns batches from..to (inclusive) and marks them sent now;
// a batch that cannot be read back is left out and reported (s.mu held).
func (s *spool) collect(from, to uint64) ([][]byte, error) {
	var out [][]byte
	var errs []error
	now := time.Now()
	for q := max(from, s.acked+1); q <= to && q < s.next; q++ {
		d, err := s.data(q)
		if err != nil {
			errs = append(errs, fmt.Errorf("batch %d: %w", q, err))
			continue
		}
		out = append(out, d)
		s.entry(q).at = now
	}
	return out, errors.Join(errs...)
}

// pending returns the batches to send now, in order: those never sent,
// while fewer than window are unacknowledged.
func (s *spool) pending() ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	to := min(s.next-1, s.acked+uint64(s.window))
	if to <= s.sentTo {
		return nil, nil
	}
	from := s.sentTo + 1
	s.sentTo = to
	return s.collect(from, to)
}

// ack acknowledges every batch up to seq and frees them. An ack beyond
// the last batch sent is a confused or forged peer's: it is ignored (ok
// false), since taking it would make every later ack look old.
func (s *spool) ack(seq uint64) (ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return true // late: the shard is over
	}
	if seq > s.sentTo {
		return false
	}
	if seq <= s.acked {
		return true
	}
	var mem, disk int64
	for q := s.acked + 1; q <= seq; q++ {
		e := s.entry(q)
		mem += int64(len(e.data))
		if e.seg != nil {
			e.seg.live--
			// A segment no batch lives in goes, unless it is the one
			// still written to.
			if e.seg.live == 0 && (len(s.segs) == 0 || e.seg != s.segs[len(s.segs)-1] || e.seg.size >= s.segSize) {
				disk += s.drop(e.seg)
			}
		}
	}
	clear(s.ents[:seq-s.acked])
	s.ents = s.ents[seq-s.acked:]
	s.acked = seq
	if len(s.ents) == 0 {
		s.ents = nil // let the array go
		// The last segment held only acknowledged batches: drop it too.
		for _, seg := range s.segs {
			if seg.live == 0 {
				disk += s.drop(seg)
			}
		}
	}
	s.b.mu.Lock()
	s.b.release(mem, disk)
	s.b.mu.Unlock()
	s.wake()
	return true
}

// drop closes and removes a segment and returns its size (s.mu held).
func (s *spool) drop(seg *segment) int64 {
	for i, x := range s.segs {
		if x == seg {
			s.segs = append(s.segs[:i], s.segs[i+1:]...)
			break
		}
	}
	name := seg.f.Name()
	_ = seg.f.Close()
	_ = os.Remove(name)
	return seg.size
}

// wake closes the changed channel (s.mu held).
func (s *spool) wake() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// wait returns a channel closed at the next ack, kick or close.
func (s *spool) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// kick wakes whoever waits on the spool (the flusher, to send again).
func (s *spool) kick() {
	s.mu.Lock()
	s.wake()
	s.mu.Unlock()
}

// from returns the batches sent at least once from seq on, to send again
// (the coordinator asked for them), and marks them sent now.
func (s *spool) from(seq uint64) ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.collect(seq, s.sentTo)
}

// inFlight returns every batch sent and not acknowledged, to send again
// (after a reconnection), and marks them sent now.
func (s *spool) inFlight() ([][]byte, error) { return s.from(0) }

// stale returns the batches sent more than age ago and still not
// acknowledged (the batch or its ack was lost), and marks them sent now.
func (s *spool) stale(age time.Duration) ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	var out [][]byte
	var errs []error
	for q := s.acked + 1; q <= s.sentTo; q++ {
		if now.Sub(s.entry(q).at) < age {
			continue
		}
		got, err := s.collect(q, q)
		out = append(out, got...)
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// last returns the number of the last batch made (0 before the first).
func (s *spool) last() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next - 1
}

// unacked returns how many batches wait for an ack, sent or not.
func (s *spool) unacked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ents)
}

// outstanding returns how many batches were sent and not acknowledged.
func (s *spool) outstanding() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int(s.sentTo - s.acked)
}

// spilledBytes returns the bytes this spool wrote to disk.
func (s *spool) spilledBytes() int64 { return s.spilled.Load() }

// unsent returns how many batches were never sent.
func (s *spool) unsent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int(s.next - 1 - s.sentTo)
}

// close frees the spool's memory and removes its spill files: the
// shard's data was acknowledged, or will never be.
func (s *spool) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	var mem, disk int64
	for i := range s.ents {
		mem += int64(len(s.ents[i].data))
	}
	for len(s.segs) > 0 {
		disk += s.drop(s.segs[0])
	}
	s.ents = nil
	s.acked = s.next - 1
	s.sentTo = s.acked
	s.b.mu.Lock()
	s.b.release(mem, disk)
	s.b.mu.Unlock()
	s.wake()
}
