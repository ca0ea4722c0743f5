// Package store keeps the coordinator's durable state on NATS JetStream:
// the job registry, a key-value bucket of one small record per job
// (Record), and each job's journal, a stream with one subject per job
// holding what the coordinator needs to rebuild the job after a restart
// (Entry: the job accepted, its shards dispatched, accepted, given up and
// done, the output records its replay log keeps, the last batch merged
// per shard, a cancel, its end).
//
// Both are named from the fleet's subject prefix, so several fleets share
// a NATS system: for prefix "fleet" the bucket is "fleetsh_fleet_jobs"
// and the stream "fleetsh_fleet_journal" on subjects "fleet.journal.<job>"
// (only the coordinator may publish there: pkg/fleet/auth gives users and
// agents no subject of that form, and denies them $JS).
//
// Limits (Config): the journal stream holds at most MaxBytes (4 GiB on
// file, 64 MiB in memory) and MaxAge (7 days, at least the registry's
// KeepJobs) of entries, the oldest dropped first; a message is at most
// the server's max_payload (the coordinator cuts entries to fit). The
// registry keeps one revision per job. Decoders bound what they allocate
// by the message they are given and the job's node count.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Config configures a Store. files.StreamConfig, the coordinator's chunk
// stream's configuration, is a Config too, with defaults of its own.
type Config struct {
	Subjects protocol.Subjects
	// Replicas is how many servers of a NATS cluster keep each message
	// (1; 3 on a cluster of three).
	Replicas int
	// Memory keeps the state in the servers' memory, not on disk (csub's
	// in-process fleet, which dies with csub).
	Memory bool
	// MaxBytes bounds the journal stream (DefaultMaxBytes, or
	// DefaultMemoryBytes with Memory); the oldest entries go first.
	MaxBytes int64
	// MaxAge is how long journal entries are kept (DefaultMaxAge). A job
	// running longer cannot be resumed after a restart.
	MaxAge time.Duration
	// Timeout bounds each request to JetStream (5 s).
	Timeout time.Duration
}

// Defaults of Config.
const (
	DefaultMaxBytes    = 4 << 30
	DefaultMemoryBytes = 64 << 20
	DefaultMaxAge      = 7 * 24 * time.Hour
	DefaultTimeout     = 5 * time.Second
)

func (c *Config) defaults() {
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultMaxBytes
		if c.Memory {
			c.MaxBytes = DefaultMemoryBytes
		}
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
}

// Storage returns the JetStream storage c asks for: memory with Memory,
// else file.
func (c *Config) Storage() jetstream.StorageType {
	if c.Memory {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

// Store is an open registry and journal.
type Store struct {
	cfg    Config
	nc     *nats.Conn
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	stream jetstream.Stream
	names  Names
}

// Names are the JetStream names of a fleet's state.
type Names struct {
	Bucket, Stream, Subject string // Subject: the journal's wildcard subject
}

// NamesOf returns the names for the fleet subj.
func NamesOf(subj protocol.Subjects) Names {
	p := subj.Prefix
	if p == "" {
		p = protocol.DefaultPrefix
	}
	return Names{Bucket: AssetName(subj, "jobs"), Stream: AssetName(subj, "journal"), Subject: p + ".journal.*"}
}

// AssetName returns the name of the fleet subj's JetStream asset kind
// (a bucket or a stream): "fleetsh_<prefix>_<kind>", the prefix's
// characters other than letters, digits, '-' and '_' (all that asset
// names take) made '_'.
func AssetName(subj protocol.Subjects, kind string) string {
	p := subj.Prefix
	if p == "" {
		p = protocol.DefaultPrefix
	}
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, p)
	return "fleetsh_" + safe + "_" + kind
}

// ErrNoJetStream is wrapped by Open's error when the NATS server runs
// without JetStream.
var ErrNoJetStream = errors.New("the NATS server has no JetStream")

// Open creates (or updates) the registry bucket and the journal stream on
// nc's server and returns the store.
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*Store, error) {
	cfg.defaults()
	// An ack that never comes (lost with a connection) fails its future
	// after Timeout rather than hold the journal's writer for ever.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096), jetstream.WithPublishAsyncTimeout(cfg.Timeout))
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	s := &Store{cfg: cfg, nc: nc, js: js, names: NamesOf(cfg.Subjects)}
	tctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if _, err := js.AccountInfo(tctx); err != nil {
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) ||
			errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w (%v): enable it in the server's configuration (jetstream { store_dir: \"/var/lib/nats\" }, or nats-server -js; coordinator init-site writes it)", ErrNoJetStream, err)
		}
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	storage := cfg.Storage()
	err = s.retryCreate(ctx, func(ctx context.Context) (err error) {
		s.kv, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: s.names.Bucket, Description: "fleetsh job registry (" + cfg.Subjects.Prefix + ")",
			History: 1, Storage: storage, Replicas: cfg.Replicas, MaxValueSize: MaxRecord,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("job registry %s: %w", s.names.Bucket, err)
	}
	err = s.retryCreate(ctx, func(ctx context.Context) (err error) {
		s.stream, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name: s.names.Stream, Description: "fleetsh job journals (" + cfg.Subjects.Prefix + ")",
			Subjects: []string{s.names.Subject}, Storage: storage, Replicas: cfg.Replicas,
			Retention: jetstream.LimitsPolicy, Discard: jetstream.DiscardOld,
			MaxBytes: cfg.MaxBytes, MaxAge: cfg.MaxAge, Duplicates: 2 * time.Minute,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("job journal %s of at most %d bytes: %w (coordinator --store-max-bytes sets it)", s.names.Stream, cfg.MaxBytes, err)
	}
	return s, nil
}

// Names returns the store's JetStream names.
func (s *Store) Names() Names { return s.names }

// Config returns the store's configuration, defaults applied.
func (s *Store) Config() Config { return s.cfg }

// MaxRecord bounds a registry record (its node set is cut to fit).
const MaxRecord = 64 << 10

// maxRecordNodes bounds the folded node set a record keeps.
const maxRecordNodes = 16 << 10

// Record is a job's entry in the registry: what `csub jobs` lists of it,
// and who runs it. Owner is the id of the coordinator running the job
// (coordinator --id); Rev, the record's revision, is what an update
// must name (compare-and-set), so that two coordinators never both take
// a job whose owner died.
type Record struct {
	protocol.JobStatus
	Owner string `json:"owner"`
	// Rev is the record's revision in the bucket (not stored).
	Rev uint64 `json:"-"`
}

// cut keeps the record under MaxRecord.
func (r *Record) cut() {
	if len(r.Nodes) > maxRecordNodes {
		r.Nodes, r.Truncated = "", true
	}
	r.Unfinished = ""
	r.Command = protocol.Truncate(r.Command, protocol.MaxReplyField)
}

// encode cuts r under MaxRecord and encodes it.
func (r *Record) encode() ([]byte, error) {
	r.cut()
	data, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("registry record %s: %w", r.ID, err)
	}
	return data, nil
}

// Create adds a job's record; it fails if the job has one.
func (s *Store) Create(ctx context.Context, r *Record) error {
	return s.write(ctx, r, func(ctx context.Context, data []byte) (uint64, error) {
		return s.kv.Create(ctx, r.ID, data)
	})
}

// ErrConflict is wrapped by Update's error when the record changed since
// the revision it names (another coordinator took the job).
var ErrConflict = errors.New("the record changed since it was read")

// Update replaces a job's record if it is still at r.Rev, and sets r.Rev
// to the new revision.
func (s *Store) Update(ctx context.Context, r *Record) error {
	return s.write(ctx, r, func(ctx context.Context, data []byte) (uint64, error) {
		rev, err := s.kv.Update(ctx, r.ID, data, r.Rev)
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
			err = fmt.Errorf("%w: %w", ErrConflict, err)
		}
		return rev, err
	})
}

// write encodes r and stores it with put (Create's or Update's request,
// within Timeout), then sets r.Rev to the revision put made.
func (s *Store) write(ctx context.Context, r *Record, put func(ctx context.Context, data []byte) (uint64, error)) error {
	data, err := r.encode()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	rev, err := put(ctx, data)
	if err != nil {
		return fmt.Errorf("registry record %s: %w", r.ID, err)
	}
	r.Rev = rev
	return nil
}

// tries is how many times the store asks JetStream for what it sets up
// or reads at a coordinator's start when no answer comes in Timeout.
const tries = 4

// retry runs f with a context of Timeout, again (tries in all) while it
// fails for want of an answer in time: on a cluster just formed, or with
// two coordinators creating the same replicated bucket at once, JetStream
// may take longer than one Timeout (its servers electing the asset's
// leader) before it answers.
func (s *Store) retry(ctx context.Context, f func(context.Context) error) error {
	return Retry(ctx, s.cfg.Timeout, f)
}

// retryCreate is retry for the creation of an asset, which also tries
// again (5 times, 250 ms apart) while the server says it has no storage
// to reserve: another coordinator of the same servers may be creating
// its assets at that moment, or its file store (pkg/fleet/files, sized by
// --files-max-bytes) reserving room (CI once saw a second coordinator's
// registry refused in between).
func (s *Store) retryCreate(ctx context.Context, f func(context.Context) error) error {
	for try := 1; ; try++ {
		err := s.retry(ctx, f)
		var apiErr *jetstream.APIError
		if try == 5 || !errors.As(err, &apiErr) || apiErr.ErrorCode != errCodeStorageExceeded && apiErr.ErrorCode != errCodeNoPeers {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// JetStream's error codes for an asset the servers have no storage for.
const (
	errCodeStorageExceeded jetstream.ErrorCode = 10047
	errCodeNoPeers         jetstream.ErrorCode = 10005
)

// Retry runs f with a context of timeout, again (4 tries in all) while
// it fails for want of an answer in time: what the store does with its
// requests to JetStream, for other JetStream assets of the coordinator
// (pkg/fleet/files's chunk stream).
func Retry(ctx context.Context, timeout time.Duration, f func(context.Context) error) error {
	var err error
	for try := 0; try < tries && ctx.Err() == nil; try++ {
		tctx, cancel := context.WithTimeout(ctx, timeout)
		err = f(tctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrTimeout) {
			return err
		}
	}
	return err
}

// Records returns every job's record.
func (s *Store) Records(ctx context.Context) ([]*Record, error) {
	var out []*Record
	err := s.retry(ctx, func(ctx context.Context) (err error) {
		out, err = s.records(ctx)
		return err
	})
	return out, err
}

func (s *Store) records(ctx context.Context) ([]*Record, error) {
	w, err := s.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	defer func() { _ = w.Stop() }()
	var out []*Record
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("registry: %w", ctx.Err())
		case e := <-w.Updates():
			if e == nil { // all current values seen
				return out, nil
			}
			if len(e.Value()) > MaxRecord {
				continue
			}
			var r Record
			if err := json.Unmarshal(e.Value(), &r); err != nil || r.ID != e.Key() {
				continue // not ours: skip rather than fail the start
			}
			r.Rev = e.Revision()
			out = append(out, &r)
		}
	}
}

// Forget deletes a job's record and journal.
func (s *Store) Forget(ctx context.Context, job string) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	err := s.kv.Purge(ctx, job)
	if perr := s.stream.Purge(ctx, jetstream.WithPurgeSubject(s.subject(job))); perr != nil {
		err = errors.Join(err, perr)
	}
	if err != nil {
		return fmt.Errorf("forget job %s: %w", job, err)
	}
	return nil
}

func (s *Store) subject(job string) string {
	return strings.TrimSuffix(s.names.Subject, "*") + job
}

// Usage is what one of the store's JetStream streams holds.
type Usage struct {
	// Name is the stream's: the journal's, or the registry bucket's
	// ("KV_" and the bucket's name).
	Name            string
	Bytes, Messages uint64
}

// Usage asks the server what the journal stream and the registry bucket
// hold (one request each).
func (s *Store) Usage(ctx context.Context) ([]Usage, error) {
	info, err := s.stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("job journal %s: %w", s.names.Stream, err)
	}
	out := []Usage{{Name: s.names.Stream, Bytes: info.State.Bytes, Messages: info.State.Msgs}}
	st, err := s.kv.Status(ctx)
	if err != nil {
		return out, fmt.Errorf("job registry %s: %w", s.names.Bucket, err)
	}
	return append(out, Usage{Name: "KV_" + s.names.Bucket, Bytes: st.Bytes(), Messages: st.Values()}), nil
}
