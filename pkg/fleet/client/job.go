package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Flow-control cadence of the output stream. The coordinator has at most
// protocol.DefaultWindow batches unacknowledged: acking every 4 keeps it
// sending while we read, and the 100 ms bound acks a slow trickle (a
// command printing a line a second) without an ack per batch.
const (
	ackEvery    uint64 = 4
	ackInterval        = 100 * time.Millisecond
	// retransmitInterval spaces identical retransmit requests: the batches
	// after a lost one arrive one by one, each showing the same gap.
	retransmitInterval = time.Second
	// maxDoneChecks bounds how often a job the coordinator calls done may
	// stay silent after a retransmit request before we give up.
	maxDoneChecks = 3
	// maxUnanswered is how many stall checks in a row may go unanswered
	// before the coordinator is declared unreachable when Client.Reconnect
	// is off: one may be lost to a busy coordinator or a NATS reconnect.
	maxUnanswered = 2
	// reconnectGrace is how long after this client's own NATS connection
	// came back an unanswered stall check is not counted: the
	// coordinator, cut off by the same outage, reconnects on its own
	// backoff (at most 10 s apart: wire.Options).
	reconnectGrace = 15 * time.Second
)

// Job is a submitted job and the receiving end of its output stream.
// Next must be called from one goroutine at a time; the other methods are
// safe from any goroutine.
type Job struct {
	c     *Client
	spec  protocol.JobSpec
	set   *nodeset.NodeSet
	nodes []string
	// subMu guards sub against Close from another goroutine: Next
	// replaces it when it attaches again (resume.go).
	subMu  sync.Mutex
	sub    *nats.Subscription
	closed bool
	// stream is the output stream's id: the job's own for its submitter,
	// a fresh one for an Attach or a resumed stream.
	stream string

	// Everything below belongs to the goroutine calling Next.
	order    protocol.Reorder[*protocol.EventBatch]
	ready    []*protocol.EventBatch // in order, not yet returned
	consumed uint64                 // last seq returned by Next
	acked    uint64                 // last seq acked
	ackDue   time.Time              // when consumed > acked: ack by then
	lastRecv time.Time              // last message of the stream (or start)
	retxSeq  uint64                 // last retransmit request...
	retxAt   time.Time              // ...and when
	done     int                    // silent checks of a job reported done
	unanswer int                    // stall checks in a row without an answer
	reconns  uint64                 // the connection's reconnections seen by the stall checks...
	upSince  time.Time              // ...and when they last saw it come back
	eof      bool
	err      error // sticky
	dropped  int   // messages of the output subject ignored (receive)

	resume resumeState // where the reader is in the job's records (resume.go)
}

func newJob(c *Client, spec protocol.JobSpec, set *nodeset.NodeSet, nodes []string, sub *nats.Subscription) *Job {
	j := &Job{c: c, spec: spec, set: set, nodes: nodes, sub: sub, stream: spec.ID, lastRecv: time.Now()}
	j.resume.finals = make([]uint64, (len(nodes)+63)/64)
	return j
}

// ID returns the job's id.
func (j *Job) ID() string { return j.spec.ID }

// Spec returns the job as submitted (ID and User filled in).
func (j *Job) Spec() protocol.JobSpec { return j.spec }

// Nodes returns the job's nodes: the expansion of Spec().Nodes in NodeSet
// order. The node indexes of the output records index this slice, which
// the caller must not modify.
func (j *Job) Nodes() []string { return j.nodes }

// NodeSet returns the job's nodes as a node set (a copy).
func (j *Job) NodeSet() *nodeset.NodeSet { return j.set.Clone() }

// Cancel asks the coordinator to cancel the job. The stream goes on until
// its last batch, which then reports the cancelled nodes.
func (j *Job) Cancel(ctx context.Context) error { return j.c.Cancel(ctx, j.spec.ID) }

// Close stops receiving the job's output (the job itself goes on: see
// Cancel). Next returns io.EOF after the last batch and closes the job by
// itself.
func (j *Job) Close() error {
	j.subMu.Lock()
	defer j.subMu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	err := j.sub.Unsubscribe()
	if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrBadSubscription) {
		err = nil
	}
	return err
}

// Next returns the next batch of the job's merged output stream, in
// sequence order, each batch once. It returns io.EOF after the batch
// marked Last (every node then has its final state). Record node indexes
// are validated against Nodes.
//
// When the coordinator stops serving the stream (it restarted, or it
// dropped a reader that stopped acking) Next attaches again under a new
// stream id from the records it returned, and goes on as if nothing
// happened; while the coordinator is unreachable or does not know the
// job it tries again for Client.Reconnect (resume.go).
//
// An error other than ctx's means the stream cannot go on: the
// coordinator stayed unreachable (*UnreachableError) or without the job
// (ErrUnknownJob), both within an *IncompleteError naming the nodes
// without a final state, or it sent what this client cannot read. Next
// may be called again after ctx ended.
func (j *Job) Next(ctx context.Context) (*protocol.EventBatch, error) {
	for {
		if j.err != nil {
			return nil, j.err
		}
		if len(j.ready) > 0 {
			b := j.ready[0]
			j.ready[0] = nil
			j.ready = j.ready[1:]
			j.consumed = b.Seq
			if b.Last {
				// Ack the end at once: the coordinator keeps the job's
				// stream (and retransmits it) until it knows we have it.
				j.eof = true
				j.ack()
				_ = j.Close()
			} else {
				j.maybeAck(time.Now())
			}
			if !j.account(b) {
				continue // records already returned (a resumed stream)
			}
			return b, nil
		}
		if j.eof {
			return nil, io.EOF
		}
		now := time.Now()
		j.maybeAck(now)
		stall := j.c.stallTimeout()
		wait := stall - now.Sub(j.lastRecv)
		if j.consumed > j.acked {
			wait = min(wait, j.ackDue.Sub(now))
		}
		if wait <= 0 {
			if now.Sub(j.lastRecv) >= stall {
				if err := j.checkStalled(ctx); err != nil {
					if ctx.Err() == nil {
						j.err = err
					}
					return nil, err
				}
			}
			continue
		}
		m, err := j.nextMsg(ctx, wait)
		switch {
		case err == nil:
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			continue // our own timer: ack or stall check
		case ctx.Err() != nil:
			return nil, ctx.Err()
		default:
			j.err = fmt.Errorf("job %s: read output: %w", j.spec.ID, err)
			return nil, j.err
		}
		j.lastRecv = time.Now()
		j.unanswer = 0
		j.receive(m)
	}
}

func (j *Job) nextMsg(ctx context.Context, wait time.Duration) (*nats.Msg, error) {
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return j.sub.NextMsgWithContext(wctx)
}

// receive takes one message of the output stream. Anyone who may
// publish on the job's output subject could send anything there: a
// message that is not a batch of this job's stream (another type, another
// version, malformed, another job's, naming nodes the job does not have)
// is dropped and counted, never fatal, so that the true batches still
// make the job's output and exit status.
func (j *Job) receive(m *nats.Msg) {
	if err := wire.Check(m); err != nil {
		j.drop(m, err)
		return
	}
	if err := wire.Expect(m, protocol.TypeEventBatch); err != nil {
		j.drop(m, err)
		return
	}
	b := new(protocol.EventBatch)
	// Indexes past the job's nodes are malformed: renderers index Nodes
	// without checking.
	if err := b.Decode(m.Data, len(j.nodes)); err != nil {
		j.drop(m, err)
		return
	}
	if b.Job != j.spec.ID || b.Seq == 0 {
		j.drop(m, fmt.Errorf("batch %d of job %q", b.Seq, protocol.Truncate(b.Job, protocol.MaxLogField)))
		return
	}
	ready, dup := j.order.Push(b.Seq, b)
	j.resume.heard()
	switch {
	case dup:
		// A batch sent again: our ack may have been lost, so say again
		// what we have (the coordinator resends what stays unacked).
		if j.consumed > 0 {
			j.sendControl(protocol.ControlAck, j.consumed)
			j.acked, j.ackDue = j.consumed, time.Time{}
		}
	case len(ready) == 0:
		j.retransmit(false)
	default:
		j.ready = append(j.ready, ready...)
	}
}

// drop counts a message receive ignores; the first is logged at WARN.
func (j *Job) drop(m *nats.Msg, err error) {
	j.dropped++
	if j.dropped == 1 {
		j.c.logger().Warn("job output: message dropped (further ones are counted, not logged)",
			"job", j.spec.ID, "subject", m.Subject, "size", len(m.Data), "err", err)
	}
}

// Dropped returns how many messages of the job's output subject were not
// part of its stream (wrong type or version, malformed, another job's)
// and were ignored. Call it from the goroutine that calls Next.
func (j *Job) Dropped() int { return j.dropped }

// retransmit asks for the batches from the first one missing. force
// skips the spacing of identical requests.
func (j *Job) retransmit(force bool) {
	seq := j.order.Delivered() + 1
	now := time.Now()
	if !force && seq == j.retxSeq && now.Sub(j.retxAt) < retransmitInterval {
		return
	}
	j.retxSeq, j.retxAt = seq, now
	j.sendControl(protocol.ControlRetransmit, seq)
}

// maybeAck acks what Next returned when 4 batches or 100 ms are due.
func (j *Job) maybeAck(now time.Time) {
	if j.consumed <= j.acked {
		return
	}
	if j.ackDue.IsZero() {
		j.ackDue = now.Add(ackInterval)
	}
	if j.consumed-j.acked >= ackEvery || !now.Before(j.ackDue) {
		j.ack()
	}
}

func (j *Job) ack() {
	if j.consumed == 0 {
		return
	}
	j.sendControl(protocol.ControlAck, j.consumed)
	j.acked, j.ackDue = j.consumed, time.Time{}
}

// sendControl publishes an ack or retransmit request. A failed publish
// (connection down) is not an error: the stall check and the
// coordinator's own retransmits recover.
func (j *Job) sendControl(kind string, seq uint64) {
	_ = wire.PublishJSON(j.c.Conn, j.c.Subjects.OutputAck(j.c.user(), j.stream), protocol.TypeControl,
		protocol.Control{Kind: kind, Job: j.spec.ID, Seq: seq})
}

// checkStalled runs when nothing arrived for Client.StallTimeout: it asks
// the job registry whether the job is still there and whether it is done.
func (j *Job) checkStalled(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, j.c.stallTimeout())
	defer cancel()
	st, err := j.c.status(sctx, j.spec.ID, true, j.stream)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if now := time.Now(); j.offline(now) {
			// Our own connection was down: the silence is ours, not
			// the coordinator's, and no check counts as unanswered.
			// The wait is bounded all the same (Client.Reconnect, its
			// default when reconnecting is off): a NATS server that
			// never comes back (an embedded one that died with its
			// coordinator) must not hang the reader.
			j.unanswer = 0
			r := &j.resume
			if r.outage.IsZero() {
				r.outage = now
			}
			limit := j.c.reconnect()
			if limit < 0 {
				limit = DefaultReconnect
			}
			if now.Sub(r.outage) >= limit {
				return j.incomplete(err, now.Sub(r.outage))
			}
			j.lastRecv = now
			return nil
		}
		return j.lostContact(err)
	}
	j.unanswer = 0
	j.resume.heard()
	j.lastRecv = time.Now()
	if st.Stream == protocol.StreamGone {
		// Nobody sends our stream any more: get a new one.
		return j.reattach(ctx)
	}
	if st.Done {
		// Every node ended but the end of the stream did not reach us:
		// ask again for everything after what we have.
		j.done++
		if j.done > maxDoneChecks {
			return fmt.Errorf("job %s: the coordinator reports it done but its output stopped after batch %d", j.spec.ID, j.order.Delivered())
		}
		j.retransmit(true)
		return nil
	}
	j.done = 0
	if len(j.order.Missing(0)) > 0 {
		j.retransmit(true) // a gap whose retransmit got lost
	}
	return nil
}

// offline reports whether the client's NATS connection is down, or came
// back less than reconnectGrace ago.
func (j *Job) offline(now time.Time) bool {
	nc := j.c.Conn
	if !nc.IsConnected() {
		return true
	}
	if n := nc.Stats().Reconnects; n != j.reconns {
		j.reconns, j.upSince = n, now
	}
	return !j.upSince.IsZero() && now.Sub(j.upSince) < reconnectGrace
}

// Delivered returns the sequence number of the last batch received in
// order (returned by Next or about to be). Call it from the goroutine
// that calls Next.
func (j *Job) Delivered() uint64 { return j.order.Delivered() }
