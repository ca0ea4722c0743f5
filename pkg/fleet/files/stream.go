package files

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetsh/fleetsh/pkg/fleet/store"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Who touches the chunk stream: the coordinator alone. Users and agents
// are denied JetStream's APIs ($JS, $O: pkg/fleet/auth) and have no
// right on the stream's subjects; they reach chunks through the
// coordinator's Server (Client on their side), which authorizes each
// request by the identity its subject carries. csub puts the chunks of a
// push and gets those of its reverse copies; agents get the chunks of the
// trees they copy and put their nodes' copies.

// StreamConfig configures the coordinator's chunk stream. Its fields are
// those of store.Config (the job registry's and journals'), with the
// chunk stream's defaults (defaults):
//   - MaxBytes bounds the stream. On file its default is no bound of its
//     own: only the servers' JetStream storage (a MaxBytes is reserved
//     from that storage at once, and a default size that ate it would
//     leave the registry and journals of another coordinator of the same
//     servers no room: CI saw it). In memory, DefaultStreamMemoryBytes.
//     When it is full, new chunks are refused until old ones expire
//     (MaxAge).
//   - MaxAge is how long a chunk is kept (DefaultStreamAge): a job
//     copying a tree pushed longer ago finds chunks missing.
//   - Timeout bounds each request to JetStream (DefaultStreamTimeout);
//     one that gets no answer in time is sent again (store.Retry).
type StreamConfig store.Config

// Defaults of StreamConfig.
const (
	DefaultStreamMemoryBytes = 1 << 30
	DefaultStreamAge         = 24 * time.Hour
	DefaultStreamTimeout     = store.DefaultTimeout
)

// streamSlack is what a chunk's message may hold beyond ChunkSize: its
// headers (Nats-Msg-Id and JetStream's own).
const streamSlack = 4 << 10

// hasWorkers bounds the JetStream requests one Has sends at once.
const hasWorkers = 16

// defaults fills in what the configuration leaves zero (or negative).
func (c *StreamConfig) defaults() {
	size := int64(-1) // on file: only the servers' own JetStream storage
	if c.Memory {
		size = DefaultStreamMemoryBytes
	}
	c.Replicas = cmp.Or(max(c.Replicas, 0), 1)
	c.MaxBytes = cmp.Or(max(c.MaxBytes, 0), size)
	c.MaxAge = cmp.Or(max(c.MaxAge, 0), DefaultStreamAge)
	c.Timeout = cmp.Or(max(c.Timeout, 0), DefaultStreamTimeout)
}

// StreamName returns the chunk stream's name for the fleet subj:
// "fleetsh_<prefix>_files", named as pkg/fleet/store names its assets.
func StreamName(subj protocol.Subjects) string { return store.AssetName(subj, "files") }

// Stream is the coordinator's chunk store: a JetStream stream with one
// subject per chunk (Subjects.Chunk) holding at most one message, the
// chunk's bytes. It implements ChunkStore.
type Stream struct {
	cfg    StreamConfig
	js     jetstream.JetStream
	stream jetstream.Stream
	name   string
}

// OpenStream creates (or updates) the chunk stream on js's server.
//
// A stream that is full refuses new chunks (DiscardNew) rather than drop
// the oldest: those may be the chunks a running job's agents are about
// to fetch, and a push that fails saying the store is full is better
// than a copy that fails on every gateway. Content leaves by MaxAge.
func OpenStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) (*Stream, error) {
	cfg.defaults()
	s := &Stream{cfg: cfg, js: js, name: StreamName(cfg.Subjects)}
	storage := (*store.Config)(&cfg).Storage()
	err := s.retry(ctx, func(ctx context.Context) (err error) {
		s.stream, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name: s.name, Description: "fleetsh file chunks (" + cfg.Subjects.Prefix + ")",
			Subjects: []string{cfg.Subjects.AllChunks()}, Storage: storage, Replicas: cfg.Replicas,
			Retention: jetstream.LimitsPolicy, Discard: jetstream.DiscardNew,
			MaxMsgsPerSubject: 1, MaxBytes: cfg.MaxBytes, MaxAge: cfg.MaxAge,
			MaxMsgSize: ChunkSize + streamSlack, AllowDirect: true, Duplicates: 2 * time.Minute,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("chunk stream %s of at most %d bytes: %w (coordinator --files-max-bytes sets it)", s.name, cfg.MaxBytes, err)
	}
	return s, nil
}

// Name returns the stream's name.
func (s *Stream) Name() string { return s.name }

// Config returns the stream's configuration, defaults applied.
func (s *Stream) Config() StreamConfig { return s.cfg }

// retry runs f as pkg/fleet/store does its JetStream requests: with a
// context of Timeout, again while it fails for want of an answer in
// time.
func (s *Stream) retry(ctx context.Context, f func(context.Context) error) error {
	return store.Retry(ctx, s.cfg.Timeout, f)
}

// Put stores data under d after checking that it hashes to d; its
// Nats-Msg-Id is the digest, so a put sent again (a retry) within the
// stream's duplicate window is stored once, and a later one replaces the
// same bytes (one message per subject).
func (s *Stream) Put(ctx context.Context, d Digest, data []byte) error {
	if len(data) > ChunkSize {
		return fmt.Errorf("chunk %s: %d bytes, over %d", d, len(data), ChunkSize)
	}
	if err := Verify(d, data, "a put to "+s.name); err != nil {
		return err
	}
	m := nats.NewMsg(s.cfg.Subjects.Chunk(d))
	m.Data = data
	id := d.String()
	err := s.retry(ctx, func(ctx context.Context) error {
		_, err := s.js.PublishMsg(ctx, m, jetstream.WithMsgID(id), jetstream.WithExpectStream(s.name))
		return err
	})
	if err != nil {
		return fmt.Errorf("chunk %s to %s: %w", d, s.name, err)
	}
	return nil
}

// get returns the stored message of chunk d (a direct get of the last
// message on its subject: any replica answers), or ErrNotFound.
func (s *Stream) get(ctx context.Context, d Digest) (*jetstream.RawStreamMsg, error) {
	var m *jetstream.RawStreamMsg
	err := s.retry(ctx, func(ctx context.Context) (err error) {
		m, err = s.stream.GetLastMsgForSubject(ctx, s.cfg.Subjects.Chunk(d))
		return err
	})
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, fmt.Errorf("chunk %s in %s: %w", d, s.name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("chunk %s in %s: %w", d, s.name, err)
	}
	return m, nil
}

// Get returns chunk d, checked against its digest.
func (s *Stream) Get(ctx context.Context, d Digest, buf []byte) ([]byte, error) {
	m, err := s.get(ctx, d)
	if err != nil {
		return nil, err
	}
	if err := Verify(d, m.Data, s.name); err != nil {
		return nil, err
	}
	if len(m.Data) <= cap(buf) {
		return append(buf[:0], m.Data...), nil
	}
	return m.Data, nil
}

// Has reports which chunks the stream holds, asking about hasWorkers at
// a time. Each is a stream info request filtered on the chunk's subject
// (an answer of a few hundred bytes), not a get of the chunk (up to
// ChunkSize bytes for a yes): BenchmarkStreamHas measures both.
func (s *Stream) Has(ctx context.Context, ds []Digest) ([]bool, error) {
	out := make([]bool, len(ds))
	errs := make([]error, len(ds))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(hasWorkers, len(ds)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i], errs[i] = s.has(ctx, ds[i])
			}
		}()
	}
feed:
	for i := range ds {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("chunks in %s: %w", s.name, err)
	}
	for _, err := range errs {
		if err != nil {
			return nil, err // the first: the others likely say the same
		}
	}
	return out, nil
}

// has asks whether the stream holds chunk d.
func (s *Stream) has(ctx context.Context, d Digest) (bool, error) {
	subject := s.cfg.Subjects.Chunk(d)
	var n uint64
	err := s.retry(ctx, func(ctx context.Context) error {
		info, err := s.stream.Info(ctx, jetstream.WithSubjectFilter(subject))
		if err != nil {
			return err
		}
		n = info.State.Subjects[subject]
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("chunk %s in %s: %w", d, s.name, err)
	}
	return n > 0, nil
}

// Usage returns the bytes and chunks the stream holds (one request).
func (s *Stream) Usage(ctx context.Context) (bytes, chunks int64, err error) {
	var info *jetstream.StreamInfo
	err = s.retry(ctx, func(ctx context.Context) (err error) {
		info, err = s.stream.Info(ctx)
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("chunk stream %s: %w", s.name, err)
	}
	return int64(info.State.Bytes), int64(info.State.Msgs), nil
}
