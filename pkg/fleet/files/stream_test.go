package files

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// netStream opens a chunk stream (memory storage unless dir is set: a
// file store there) on a fresh server, and returns it with the
// coordinator's connection.
func netStream(t testing.TB, cfg StreamConfig) (*Stream, *nats.Conn, *natstest.Server) {
	t.Helper()
	srv := natstest.StartJetStream(t, t.TempDir())
	nc := srv.Connect(t, "coordinator")
	return netOpenStream(t, nc, cfg), nc, srv
}

func netOpenStream(t testing.TB, nc *nats.Conn, cfg StreamConfig) *Stream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenStream(context.Background(), js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// netChunks returns n chunks of size bytes each (pseudo-random from
// seed) and their digests.
func netChunks(seed uint64, n, size int) ([][]byte, []Digest) {
	r := rand.New(rand.NewPCG(seed, 1))
	data := make([][]byte, n)
	ds := make([]Digest, n)
	for i := range data {
		data[i] = make([]byte, size)
		for j := range data[i] {
			data[i][j] = byte(r.Uint32())
		}
		ds[i] = Sum(data[i])
	}
	return data, ds
}

func TestStreamName(t *testing.T) {
	if got := StreamName(protocol.Subjects{}); got != "fleetsh_fleet_files" {
		t.Errorf("default: %s", got)
	}
	if got := StreamName(protocol.Subjects{Prefix: "site.a"}); got != "fleetsh_site_a_files" {
		t.Errorf("site.a: %s", got)
	}
	c := StreamConfig{Memory: true}
	c.defaults()
	if c.MaxBytes != DefaultStreamMemoryBytes || c.MaxAge != DefaultStreamAge || c.Timeout != DefaultStreamTimeout || c.Replicas != 1 {
		t.Errorf("memory defaults %+v", c)
	}
	c = StreamConfig{}
	c.defaults()
	if c.MaxBytes != -1 {
		t.Errorf("file defaults %+v", c)
	}
	if protocol.MaxFileChunk != ChunkSize {
		t.Errorf("protocol.MaxFileChunk %d, ChunkSize %d", protocol.MaxFileChunk, ChunkSize)
	}
}

func TestStreamRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, _, _ := netStream(t, StreamConfig{Subjects: protocol.Subjects{Prefix: "t"}, Memory: true, MaxBytes: 64 << 20})
	data, ds := netChunks(1, 3, ChunkSize)
	data = append(data, []byte{}, []byte("small"))
	ds = append(ds, Sum(nil), Sum([]byte("small")))
	missing := Sum([]byte("never put"))
	for i := range data {
		if err := s.Put(ctx, ds[i], data[i]); err != nil {
			t.Fatal(err)
		}
	}
	has, err := s.Has(ctx, append([]Digest{missing}, ds...))
	if err != nil {
		t.Fatal(err)
	}
	if has[0] || !netAllTrue(has[1:]) {
		t.Errorf("has %v", has)
	}
	buf := make([]byte, 0, ChunkSize)
	for i := range data {
		got, err := s.Get(ctx, ds[i], buf)
		if err != nil || !bytes.Equal(got, data[i]) {
			t.Fatalf("chunk %d: %d bytes, %v", i, len(got), err)
		}
		if len(got) > 0 && &got[0] != &buf[:1][0] {
			t.Errorf("chunk %d not read into buf", i)
		}
	}
	if _, err := s.Get(ctx, missing, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing chunk: %v", err)
	}
	// The same chunks again: stored once (dedupe within the window, one
	// message per subject after it).
	for i := range data {
		if err := s.Put(ctx, ds[i], data[i]); err != nil {
			t.Fatal(err)
		}
	}
	bytes, chunks, err := s.Usage(ctx)
	if err != nil || chunks != int64(len(data)) || bytes < 3*ChunkSize {
		t.Errorf("usage %d bytes, %d chunks, %v", bytes, chunks, err)
	}
}

func netAllTrue(bs []bool) bool {
	for _, b := range bs {
		if !b {
			return false
		}
	}
	return true
}

func TestStreamRefuses(t *testing.T) {
	ctx := context.Background()
	s, nc, _ := netStream(t, StreamConfig{Subjects: protocol.Subjects{Prefix: "t"}, Memory: true, MaxBytes: 64 << 20})
	var mm *MismatchError
	if err := s.Put(ctx, Sum([]byte("a")), []byte("b")); !errors.As(err, &mm) {
		t.Errorf("wrong bytes: %v", err)
	}
	big := make([]byte, ChunkSize+1)
	if err := s.Put(ctx, Sum(big), big); err == nil {
		t.Error("a chunk over ChunkSize stored")
	}
	// The stream itself refuses a message over ChunkSize and its slack,
	// whoever publishes it.
	js, _ := jetstream.New(nc)
	big = make([]byte, ChunkSize+streamSlack+1)
	if _, err := js.Publish(ctx, protocol.Subjects{Prefix: "t"}.Chunk(Sum(big)), big); err == nil {
		t.Error("the stream took a message over MaxMsgSize")
	}
	// A chunk whose stored bytes are not its own (written behind the
	// store's back) is never returned.
	d := Sum([]byte("good"))
	if _, err := js.Publish(ctx, protocol.Subjects{Prefix: "t"}.Chunk(d), []byte("evil")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, d, nil); !errors.As(err, &mm) {
		t.Errorf("forged chunk: %q, %v", got, err)
	}
	info, err := s.stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := info.Config
	if c.MaxMsgsPerSubject != 1 || c.Discard != jetstream.DiscardNew || !c.AllowDirect || c.Storage != jetstream.MemoryStorage ||
		c.MaxBytes != 64<<20 || c.MaxAge != DefaultStreamAge || c.Subjects[0] != "t.chunks.*" {
		t.Errorf("stream config %+v", c)
	}
}

// BenchmarkStreamHas compares the two ways of asking whether a chunk is
// stored: a stream info filtered on its subject (what Has does) and a
// direct get of its last message. On loopback (2 cores, file store, 64
// chunks of 256 KiB, under the bench lock): info 64 µs a chunk as Has
// sends them (16 at a time), 137 µs one after the other; direct get 847
// µs one after the other, moving each chunk's bytes.
func BenchmarkStreamHas(b *testing.B) {
	ctx := context.Background()
	s, _, _ := netStream(b, StreamConfig{Subjects: protocol.Subjects{Prefix: "b"}, MaxBytes: 256 << 20})
	data, ds := netChunks(2, 64, ChunkSize)
	for i := range data {
		if err := s.Put(ctx, ds[i], data[i]); err != nil {
			b.Fatal(err)
		}
	}
	each := func(f func(d Digest) error) func([]Digest) error {
		return func(ds []Digest) error {
			for _, d := range ds {
				if err := f(d); err != nil {
					return err
				}
			}
			return nil
		}
	}
	for _, c := range []struct {
		name string
		f    func([]Digest) error
	}{
		{"info", func(ds []Digest) error { _, err := s.Has(ctx, ds); return err }},
		{"info-serial", each(func(d Digest) error { _, err := s.has(ctx, d); return err })},
		{"direct-get-serial", each(func(d Digest) error { _, err := s.get(ctx, d); return err })},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := c.f(ds); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(ds)), "µs/chunk")
		})
	}
}

// TestStreamDefaultSizeLeavesRoom: a stream given no size reserves none
// of the server's storage, so that the fleet's other streams (a second
// coordinator's registry, in CI once) can still be made.
func TestStreamDefaultSizeLeavesRoom(t *testing.T) {
	s, nc, _ := netStream(t, StreamConfig{}) // natstest: 1 GiB of file store
	if got := s.Config().MaxBytes; got != -1 {
		t.Fatalf("MaxBytes %d: want -1 (the server's storage only)", got)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "other", Subjects: []string{"other.>"}, MaxBytes: 1 << 30}); err != nil {
		t.Fatalf("no room left for another stream: %v", err)
	}
}
