package files

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Op is what a file request asks.
type Op uint8

// File request operations.
const (
	OpHas Op = iota + 1 // which of some chunks the store holds
	OpPut               // store a chunk
	OpGet               // read a chunk
)

var opStrings = [...]string{OpHas: "has", OpPut: "put", OpGet: "get"}

func (o Op) String() string {
	if int(o) < len(opStrings) && opStrings[o] != "" {
		return opStrings[o]
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Result is how the Server ended a request, for its Stats.
type Result uint8

// Request results.
const (
	Served Result = iota // answered with what it asked
	Denied               // refused by Authorize
	Busy                 // refused over MaxInFlight
	Failed               // refused for another reason: malformed, not found, the store failing
)

var resultStrings = [...]string{Served: "served", Denied: "denied", Busy: "busy", Failed: "failed"}

func (r Result) String() string {
	if int(r) < len(resultStrings) {
		return resultStrings[r]
	}
	return fmt.Sprintf("result(%d)", uint8(r))
}

var opTypes = map[string]Op{protocol.TypeFilesHas: OpHas, protocol.TypeFilesPut: OpPut, protocol.TypeFilesGet: OpGet}

// Request is a file request as the Server's Authorize sees it.
type Request struct {
	Op Op
	// Sender is the user or agent id of the subject the request came on
	// (protocol.Subjects.Sender): the NATS server lets only the holder
	// of that identity's credential publish there (pkg/fleet/auth).
	Sender string
	// FromAgent is true for a request on Subjects.AgentFiles (an agent),
	// false on Subjects.Files (a submitter or admin).
	FromAgent bool
	// Job is the job the request says it is for ("" for a push's upload
	// before its job exists): Authorize checks that Sender may use it.
	Job string
	// Digests are the chunks asked about (1 to protocol.MaxHasDigests
	// for OpHas, 1 for OpPut and OpGet).
	Digests []protocol.Digest
	// Bytes is the size of a put's chunk (0 for the other ops): what a
	// quota per sender would count.
	Bytes int
}

// DefaultMaxInFlight is Server.MaxInFlight's default.
const DefaultMaxInFlight = 32

// ErrNotMine is what Authorize returns for a request about a job
// another coordinator runs: the Server stays silent and that one
// answers. Every coordinator's Server gets every request (no queue
// group): only the job's owner knows which agents hold its shards and
// which copies it collected. A request without a job (a push's upload)
// is answered by each of them; the client takes the first answer, and
// the stream stores a chunk once (its message id is its digest).
var ErrNotMine = errors.New("another coordinator's job")

// serveTimeout bounds the store's work on one request: longer than the
// Stream's retries of a JetStream request, so that a slow store answers
// CodeUnavailable rather than nothing.
const serveTimeout = 30 * time.Second

// Server is the coordinator's side of file requests: it serves Store
// (the chunk Stream) to csub and agents, which never reach JetStream
// themselves, on Subjects.AllFiles and Subjects.AllAgentFiles. Each
// request is decoded (bounded by protocol.DecodeFileRequest), passed to
// Authorize with the identity its subject carries, and served only if
// Authorize returns nil; a denied request gets a CodeDenied reply,
// never data.
//
// At most MaxInFlight requests are served at once, which bounds the
// memory the coordinator holds for them to about MaxInFlight×ChunkSize
// (plus what the NATS client buffers before the Server sees it: 64 MiB
// at most, nats.DefaultSubPendingBytesLimit, and little as the Server
// takes each at once). A request that comes when all are taken is
// answered CodeBusy at once
// (a reply of no body), and the Client sends it again after a pause. A
// busy reply, rather than a queue, keeps what waits on the client's side
// and lets a second coordinator of the queue group take the retry.
type Server struct {
	Conn     *nats.Conn
	Subjects protocol.Subjects
	Store    ChunkStore
	// Authorize decides each request: nil to serve it, an error (its
	// text is the denial's reason, sent to the requester) to deny it.
	// Required. It runs on the request's goroutine, up to MaxInFlight at
	// once.
	Authorize func(r Request) error
	// MaxInFlight bounds the requests served at once
	// (DefaultMaxInFlight).
	MaxInFlight int
	Log         *slog.Logger

	mu       sync.Mutex
	subs     []*nats.Subscription
	stopped  bool
	wg       sync.WaitGroup
	slots    chan struct{}
	inFlight atomic.Int64
	stats    serverStats
	drops    wire.Drops
}

// Stats are a Server's counters since Start.
type Stats struct {
	// Requests served by op (denied, busy and malformed ones included).
	Has, Put, Get uint64
	// BytesIn is chunk bytes received by puts; BytesOut sent by gets.
	BytesIn, BytesOut uint64
	// Denied is requests Authorize refused; Busy those answered CodeBusy
	// (over MaxInFlight); Failed those refused for another reason
	// (malformed, not found, the store failing).
	Denied, Busy, Failed uint64
	// Results counts the requests answered, by op (index 0: a request
	// of no known op, refused busy or failed) and result:
	// Results[OpGet][Served] is the chunks read. Requests about another
	// coordinator's job (ErrNotMine) and dropped ones are not answered,
	// so not counted here.
	Results [OpGet + 1][Failed + 1]uint64
	// Dropped is messages not answered (no reply subject).
	Dropped uint64
	// InFlight is requests being served now; Peak the most at once.
	InFlight, Peak int64
}

type serverStats struct {
	has, put, get, in, out atomic.Uint64
	results                [OpGet + 1][Failed + 1]atomic.Uint64
	peak                   atomic.Int64
}

// ended counts a request of op answered with r.
func (st *serverStats) ended(op Op, r Result) {
	if int(op) >= len(st.results) {
		op = 0
	}
	st.results[op][r].Add(1)
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	st := &s.stats
	out := Stats{
		Has: st.has.Load(), Put: st.put.Load(), Get: st.get.Load(),
		BytesIn: st.in.Load(), BytesOut: st.out.Load(),
		Dropped: s.drops.Count(), InFlight: s.inFlight.Load(), Peak: st.peak.Load(),
	}
	for op := range st.results {
		for r := range st.results[op] {
			out.Results[op][r] = st.results[op][r].Load()
		}
		out.Denied += out.Results[op][Denied]
		out.Busy += out.Results[op][Busy]
		out.Failed += out.Results[op][Failed]
	}
	return out
}

// Start subscribes to every user's and every agent's file requests (see
// ErrNotMine).
func (s *Server) Start() error {
	if s.Conn == nil || s.Store == nil || s.Authorize == nil {
		return errors.New("files server: Conn, Store and Authorize are required")
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
	n := s.MaxInFlight
	if n <= 0 {
		n = DefaultMaxInFlight
	}
	s.slots = make(chan struct{}, n)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, subject := range []string{s.Subjects.AllFiles(), s.Subjects.AllAgentFiles()} {
		sub, err := s.Conn.Subscribe(subject, s.dispatch)
		if err != nil {
			s.unsubscribe()
			return fmt.Errorf("files server: subscribe %s: %w", subject, err)
		}
		s.subs = append(s.subs, sub)
	}
	if err := s.Conn.Flush(); err != nil {
		s.unsubscribe()
		return fmt.Errorf("files server: %w", err)
	}
	return nil
}

func (s *Server) unsubscribe() {
	for _, sub := range s.subs {
		_ = sub.Unsubscribe()
	}
	s.subs = nil
}

// Stop unsubscribes and waits for the requests being served.
func (s *Server) Stop() {
	s.mu.Lock()
	s.stopped = true
	s.unsubscribe()
	s.mu.Unlock()
	s.wg.Wait()
}

// dispatch runs on the subscription's goroutine: it never blocks, so the
// NATS client's buffer of pending requests stays small.
func (s *Server) dispatch(m *nats.Msg) {
	if m.Reply == "" {
		s.drops.Drop(s.Log, m, errors.New("file request without a reply subject"))
		return
	}
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	select {
	case s.slots <- struct{}{}:
	default:
		s.mu.Unlock()
		op := opTypes[wire.Type(m)]
		s.count(op)
		s.stats.ended(op, Busy)
		s.refuse(m, &protocol.CodedError{Code: protocol.CodeBusy, Err: fmt.Errorf("%d file requests in flight: try again", cap(s.slots))})
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	n := s.inFlight.Add(1)
	for p := s.stats.peak.Load(); n > p && !s.stats.peak.CompareAndSwap(p, n); p = s.stats.peak.Load() {
	}
	go func() {
		defer func() {
			s.inFlight.Add(-1)
			<-s.slots
			s.wg.Done()
		}()
		s.serve(m)
	}()
}

func (s *Server) count(op Op) {
	switch op {
	case OpHas:
		s.stats.has.Add(1)
	case OpPut:
		s.stats.put.Add(1)
	case OpGet:
		s.stats.get.Add(1)
	}
}

// serve answers one request.
func (s *Server) serve(m *nats.Msg) {
	typ := wire.Type(m)
	op := opTypes[typ]
	s.count(op)
	if err := wire.Check(m); err != nil {
		s.fail(m, op, &protocol.CodedError{Code: protocol.CodeVersion, Err: err})
		return
	}
	sender := s.Subjects.Sender(m.Subject)
	fromAgent := m.Subject == s.Subjects.AgentFiles(sender)
	if sender == "" || !fromAgent && m.Subject != s.Subjects.Files(sender) {
		s.drops.Drop(s.Log, m, errors.New("file request on a subject of no sender"))
		return
	}
	fr, err := protocol.DecodeFileRequest(typ, m.Header.Get(protocol.HeaderJob), m.Header.Get(protocol.HeaderDigest), m.Data)
	if err != nil {
		s.fail(m, op, err)
		return
	}
	r := Request{Op: op, Sender: sender, FromAgent: fromAgent, Job: fr.Job, Digests: fr.Digests, Bytes: len(fr.Data)}
	if err := s.Authorize(r); err != nil {
		if errors.Is(err, ErrNotMine) {
			return
		}
		s.stats.ended(op, Denied)
		// Debug only: Authorize is where the coordinator audits its
		// decisions, and a flood of denied requests must not flood the
		// log (Stats counts them).
		s.Log.Debug("file request denied", "op", op, "sender", sender, "agent", fromAgent, "job", fr.Job, "chunk", fr.Digests[0], "err", err)
		s.refuse(m, &protocol.CodedError{Code: protocol.CodeDenied, Err: err})
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), serveTimeout)
	defer cancel()
	var body []byte
	switch op {
	case OpHas:
		var has []bool
		if has, err = s.Store.Has(ctx, fr.Digests); err == nil && len(has) != len(fr.Digests) {
			err = fmt.Errorf("the store answered %d of %d chunks", len(has), len(fr.Digests))
		}
		body = protocol.EncodeBitmap(has)
	case OpPut:
		if err = s.Store.Put(ctx, fr.Digests[0], fr.Data); err == nil {
			s.stats.in.Add(uint64(len(fr.Data)))
		}
	case OpGet:
		if body, err = s.Store.Get(ctx, fr.Digests[0], nil); err == nil {
			s.stats.out.Add(uint64(len(body)))
		}
	}
	if err != nil {
		s.fail(m, op, storeError(err))
		return
	}
	s.stats.ended(op, Served)
	reply := wire.NewMsg(m.Reply, protocol.TypeFilesReply, body)
	if err := m.RespondMsg(reply); err != nil {
		s.Log.Debug("file reply not sent", "op", op, "sender", sender, "err", err)
	}
}

// storeError gives a store's error its wire code: not found, a chunk of
// other bytes (the requester's, or a damaged store's), or the store
// failing to answer (the requester tries again).
func storeError(err error) error {
	var mm *MismatchError
	switch {
	case errors.Is(err, ErrNotFound):
		return &protocol.CodedError{Code: protocol.CodeNotFound, Err: err}
	case errors.As(err, &mm):
		return &protocol.CodedError{Code: protocol.CodeBadRequest, Err: err}
	}
	return &protocol.CodedError{Code: protocol.CodeUnavailable, Err: err}
}

// fail counts and sends a refusal of a request of op.
func (s *Server) fail(m *nats.Msg, op Op, err error) {
	s.stats.ended(op, Failed)
	s.refuse(m, err)
}

// refuse answers m with err's code and reason, and no body.
func (s *Server) refuse(m *nats.Msg, err error) {
	reason, code := protocol.Failure(err)
	reply := wire.NewMsg(m.Reply, protocol.TypeFilesReply, nil)
	reply.Header.Set(protocol.HeaderCode, string(code))
	// A header value is one line.
	reason = strings.NewReplacer("\r", " ", "\n", " ").Replace(protocol.Truncate(reason, protocol.MaxFileError))
	reply.Header.Set(protocol.HeaderError, reason)
	if err := m.RespondMsg(reply); err != nil {
		s.Log.Debug("file refusal not sent", "subject", m.Subject, "err", err)
	}
}
