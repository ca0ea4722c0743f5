package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Entry is one message of a job's journal. Its parts are independent of
// the order messages are stored in (a message retried after a failure
// may land after its successor): Replay rebuilds the same job from them
// in any order. Records carry their index in the job's output, Progress
// the highest batch merged, shard events are flags.
type Entry struct {
	Accepted  *Accepted    `json:"accepted,omitempty"`
	NodesPart *NodesPart   `json:"nodes_part,omitempty"`
	Shards    []ShardEvent `json:"shards,omitempty"`
	Progress  []Progress   `json:"progress,omitempty"`
	// CancelledBy is set (to who asked, or "-" when unknown) once the job
	// is cancelled.
	CancelledBy string    `json:"cancelled_by,omitempty"`
	Ended       time.Time `json:"ended,omitzero"`
	// Emitted is how many output records the job had emitted when the
	// entry was written (Records keeps those its replay log kept).
	Emitted uint64 `json:"emitted,omitempty"`
	// Records are output records with their index (binary, not JSON).
	Records []Logged `json:"-"`
}

// Accepted is a job's first entry: its spec as accepted (its Nodes in
// Parts NodesPart entries when too large for one message).
type Accepted struct {
	Spec    protocol.JobSpec `json:"spec"`
	Rule    string           `json:"rule,omitempty"`
	Created time.Time        `json:"created"`
	Owner   string           `json:"owner"`
	Parts   int              `json:"parts,omitempty"`
}

// NodesPart is a piece of a large job's folded node set.
type NodesPart struct {
	Part  int    `json:"part"`
	Nodes string `json:"nodes"`
}

// Shard event kinds.
const (
	ShardDispatched = "dispatched" // sent to its agent (Group, Agent, Nodes set)
	ShardAccepted   = "accepted"   // its agent took it
	ShardDead       = "dead"       // given up (agent lost, stuck, refused)
	ShardDone       = "done"       // its summary was reconciled
)

// ShardEvent records a step of one shard attempt.
type ShardEvent struct {
	Kind    string `json:"kind"`
	ID      string `json:"id"`
	Attempt int    `json:"attempt"`
	Group   string `json:"group,omitempty"`
	Agent   string `json:"agent,omitempty"`
	// Nodes are the job node indexes of the shard, ascending, in runs
	// (EncodeNodes): the order the agent numbers them follows from the
	// set.
	Nodes []byte `json:"nodes,omitempty"`
}

// Progress is the last batch of a shard attempt whose effect the journal
// holds.
type Progress struct {
	ID      string `json:"id"`
	Attempt int    `json:"attempt"`
	Seq     uint64 `json:"seq"`
}

// Logged is an output record of the job with its index: the count of
// records emitted before it.
type Logged struct {
	Idx uint64
	protocol.Event
}

const (
	entryMagic   = 0xA7
	entryVersion = 1
)

// ErrMalformed is wrapped by decoding errors.
var ErrMalformed = errors.New("malformed journal entry")

// Encode encodes e.
func (e *Entry) Encode() ([]byte, error) {
	head, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("journal entry: %w", err)
	}
	buf := make([]byte, 0, 16+len(head)+e.recordsSize())
	buf = append(buf, entryMagic, entryVersion)
	buf = binary.AppendUvarint(buf, uint64(len(head)))
	buf = append(buf, head...)
	buf = binary.AppendUvarint(buf, uint64(len(e.Records)))
	if len(e.Records) == 0 {
		return buf, nil
	}
	prev := uint64(0)
	events := make([]protocol.Event, len(e.Records))
	for i, r := range e.Records {
		if i > 0 && r.Idx <= prev {
			return nil, fmt.Errorf("journal entry: record indexes not ascending at %d", i)
		}
		d := r.Idx
		if i > 0 {
			d = r.Idx - prev - 1
		}
		buf = binary.AppendUvarint(buf, d)
		prev = r.Idx
		events[i] = r.Event
	}
	b := protocol.EventBatch{Events: events}
	return b.AppendBinary(buf)
}

func (e *Entry) recordsSize() int {
	n := 0
	for i := range e.Records {
		n += e.Records[i].Size()
	}
	return n
}

// Size estimates the encoded size of the entry's records.
func (e *Entry) Size() int { return e.recordsSize() }

// Decode decodes an entry of a job of nodes nodes. What it allocates is
// bounded by len(data) and nodes (protocol.EventBatch.Decode); record
// data aliases data.
func Decode(data []byte, nodes int) (*Entry, error) {
	bad := func(format string, args ...any) (*Entry, error) {
		return nil, fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
	if len(data) < 2 || data[0] != entryMagic {
		return bad("bad magic")
	}
	if data[1] != entryVersion {
		return bad("version %d", data[1])
	}
	rest := data[2:]
	hlen, n := binary.Uvarint(rest)
	if n <= 0 || hlen > uint64(len(rest)-n) {
		return bad("header length")
	}
	rest = rest[n:]
	var e Entry
	if err := json.Unmarshal(rest[:hlen], &e); err != nil {
		return bad("header: %v", err)
	}
	rest = rest[hlen:]
	nrec, n := binary.Uvarint(rest)
	if n <= 0 || nrec > uint64(len(rest)) {
		return bad("record count")
	}
	rest = rest[n:]
	if nrec == 0 {
		if len(rest) != 0 {
			return bad("%d trailing bytes", len(rest))
		}
		return &e, nil
	}
	idx := make([]uint64, nrec)
	for i := range idx {
		d, n := binary.Uvarint(rest)
		if n <= 0 {
			return bad("record index %d", i)
		}
		rest = rest[n:]
		switch {
		case i == 0:
			idx[i] = d
		case d > 1<<62 || idx[i-1]+1+d < idx[i-1]:
			return bad("record index %d overflows", i)
		default:
			idx[i] = idx[i-1] + 1 + d
		}
	}
	var b protocol.EventBatch
	if err := b.Decode(rest, nodes); err != nil {
		return nil, fmt.Errorf("journal records: %w", err)
	}
	if uint64(len(b.Events)) != nrec {
		return bad("%d records for %d indexes", len(b.Events), nrec)
	}
	e.Records = make([]Logged, nrec)
	for i := range e.Records {
		e.Records[i] = Logged{Idx: idx[i], Event: b.Events[i]}
	}
	return &e, nil
}

// EncodeNodes encodes ascending node indexes as runs: count, then for
// each run its gap from the previous run's end and its length less one
// (protocol.AppendNodeRuns).
func EncodeNodes(idx []uint32) []byte {
	buf, err := protocol.AppendNodeRuns(nil, idx)
	if err != nil { // not ascending: a caller's bug
		panic(err)
	}
	return buf
}

// DecodeNodes decodes EncodeNodes's runs of indexes under nodes.
func DecodeNodes(data []byte, nodes int) ([]uint32, error) {
	nruns, n := binary.Uvarint(data)
	if n <= 0 || nruns > uint64(len(data)) {
		return nil, fmt.Errorf("%w: node runs", ErrMalformed)
	}
	data = data[n:]
	var out []uint32
	next := uint64(0)
	for range nruns {
		gap, n1 := binary.Uvarint(data)
		if n1 <= 0 {
			return nil, fmt.Errorf("%w: node run", ErrMalformed)
		}
		l, n2 := binary.Uvarint(data[n1:])
		if n2 <= 0 {
			return nil, fmt.Errorf("%w: node run", ErrMalformed)
		}
		data = data[n1+n2:]
		first := next + gap
		if gap > uint64(nodes) || first+l >= uint64(nodes) {
			return nil, fmt.Errorf("%w: node index beyond the job's %d nodes", ErrMalformed, nodes)
		}
		for i := first; i <= first+l; i++ {
			out = append(out, uint32(i))
		}
		next = first + l + 1
	}
	if len(data) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes after node runs", ErrMalformed, len(data))
	}
	return out, nil
}

// Append stores data in job's journal without waiting: the future says
// when the server has it. id dedupes a retry (the server drops a
// message whose id it stored in the last two minutes).
func (s *Store) Append(job, id string, data []byte) (jetstream.PubAckFuture, error) {
	m := nats.NewMsg(s.subject(job))
	m.Data = data
	f, err := s.js.PublishMsgAsync(m, jetstream.WithMsgID(id))
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", job, err)
	}
	return f, nil
}

// AppendSync stores data in job's journal and waits until it is stored.
func (s *Store) AppendSync(ctx context.Context, job, id string, data []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	m := nats.NewMsg(s.subject(job))
	m.Data = data
	if _, err := s.js.PublishMsg(ctx, m, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("journal %s: %w", job, err)
	}
	return nil
}

// Read calls fn with each message of job's journal, in stored order.
func (s *Store) Read(ctx context.Context, job string, fn func(data []byte) error) error {
	subject := s.subject(job)
	tctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	last, err := s.stream.GetLastMsgForSubject(tctx, subject)
	cancel()
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("journal %s: %w", job, err)
	}
	cons, err := s.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		return fmt.Errorf("journal %s: %w", job, err)
	}
	for {
		batch, err := cons.Fetch(512, jetstream.FetchMaxWait(s.cfg.Timeout))
		if err != nil {
			return fmt.Errorf("journal %s: %w", job, err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			meta, err := m.Metadata()
			if err != nil {
				return fmt.Errorf("journal %s: %w", job, err)
			}
			if err := fn(m.Data()); err != nil {
				return err
			}
			if meta.Sequence.Stream >= last.Sequence {
				return nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return fmt.Errorf("journal %s: %w", job, err)
		}
		if got == 0 {
			return fmt.Errorf("journal %s: ended before its last message %d", job, last.Sequence)
		}
	}
}

// Job is a job as its journal tells it (Load).
type Job struct {
	Accepted    *Accepted // nil: the journal lost its head (MaxAge, MaxBytes)
	Shards      []*ShardState
	Records     []Logged // ascending indexes
	CancelledBy string
	Ended       time.Time
	Emitted     uint64
}

// ShardState is a shard attempt as the journal tells it.
type ShardState struct {
	ID                   string
	Attempt              int
	Group, Agent         string
	Nodes                []uint32 // ascending
	Accepted, Dead, Done bool
	Seq                  uint64 // last batch merged
	dispatched           bool
}

// Load reads and replays job's journal; nodes is the job's node count
// (its registry record's Total), which bounds what entries may name.
func (s *Store) Load(ctx context.Context, job string, nodes int) (*Job, error) {
	r := NewReplay(nodes)
	err := s.Read(ctx, job, func(data []byte) error {
		e, err := Decode(data, nodes)
		if err != nil {
			return fmt.Errorf("journal %s: %w", job, err)
		}
		return r.Add(e)
	})
	if err != nil {
		return nil, err
	}
	return r.Job()
}

// Replay folds entries into a Job, in any order.
type Replay struct {
	nodes  int
	j      Job
	parts  map[int]string
	shards map[string]*ShardState
	seen   map[uint64]bool
}

// NewReplay starts a replay of a job of nodes nodes.
func NewReplay(nodes int) *Replay {
	return &Replay{nodes: nodes, parts: map[int]string{}, shards: map[string]*ShardState{}, seen: map[uint64]bool{}}
}

// Add folds in one entry.
func (r *Replay) Add(e *Entry) error {
	if e.Accepted != nil {
		r.j.Accepted = e.Accepted
	}
	if p := e.NodesPart; p != nil {
		if p.Part < 0 || p.Part >= protocol.MaxSubmitParts*4 {
			return fmt.Errorf("%w: node part %d", ErrMalformed, p.Part)
		}
		r.parts[p.Part] = p.Nodes
	}
	for _, ev := range e.Shards {
		st := r.shard(ev.ID, ev.Attempt)
		switch ev.Kind {
		case ShardDispatched:
			nodes, err := DecodeNodes(ev.Nodes, r.nodes)
			if err != nil {
				return fmt.Errorf("shard %s/%d: %w", ev.ID, ev.Attempt, err)
			}
			st.Group, st.Agent, st.Nodes, st.dispatched = ev.Group, ev.Agent, nodes, true
		case ShardAccepted:
			st.Accepted = true
		case ShardDead:
			st.Dead = true
		case ShardDone:
			st.Done = true
		}
	}
	for _, p := range e.Progress {
		st := r.shard(p.ID, p.Attempt)
		st.Seq = max(st.Seq, p.Seq)
	}
	if e.CancelledBy != "" {
		r.j.CancelledBy = e.CancelledBy
	}
	if !e.Ended.IsZero() {
		r.j.Ended = e.Ended
	}
	r.j.Emitted = max(r.j.Emitted, e.Emitted)
	for _, rec := range e.Records {
		if !r.seen[rec.Idx] { // a retried message stored twice
			r.seen[rec.Idx] = true
			r.j.Records = append(r.j.Records, rec)
		}
	}
	return nil
}

func (r *Replay) shard(id string, attempt int) *ShardState {
	key := fmt.Sprintf("%s/%d", id, attempt)
	st := r.shards[key]
	if st == nil {
		st = &ShardState{ID: id, Attempt: attempt}
		r.shards[key] = st
	}
	return st
}

// Job returns the replayed job: shards in dispatch order (by shard
// number, then attempt), records by index.
func (r *Replay) Job() (*Job, error) {
	j := r.j
	if a := j.Accepted; a != nil && a.Parts > 0 {
		var nodes []byte
		for i := range a.Parts {
			p, ok := r.parts[i]
			if !ok {
				return nil, fmt.Errorf("%w: node set part %d of %d missing", ErrMalformed, i, a.Parts)
			}
			nodes = append(nodes, p...)
		}
		spec := a.Spec
		spec.Nodes = string(nodes)
		j.Accepted = &Accepted{Spec: spec, Rule: a.Rule, Created: a.Created, Owner: a.Owner}
	}
	for _, st := range r.shards {
		if st.dispatched { // progress or flags of a shard never dispatched: ignore
			j.Shards = append(j.Shards, st)
		}
	}
	slices.SortFunc(j.Shards, func(a, b *ShardState) int {
		if c := compareShardIDs(a.ID, b.ID); c != 0 {
			return c
		}
		return a.Attempt - b.Attempt
	})
	slices.SortFunc(j.Records, func(a, b Logged) int {
		switch {
		case a.Idx < b.Idx:
			return -1
		case a.Idx > b.Idx:
			return 1
		}
		return 0
	})
	if n := len(j.Records); n > 0 {
		j.Emitted = max(j.Emitted, j.Records[n-1].Idx+1)
	}
	return &j, nil
}

// compareShardIDs orders "s2" before "s10": by length, then bytes.
func compareShardIDs(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
