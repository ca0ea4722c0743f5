package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// A job's reader may lose its output stream without the job ending: the
// coordinator restarted (it has no stream for us), or it dropped us
// because we stopped acking for its DetachAfter (a suspended csub, a
// long outage of our own connection). Every output record has an index
// (protocol.EventBatch.First), so the reader knows how many records it
// returned; when a stall check hears that its stream is gone it attaches
// again under a new stream id from that index, drops what it already
// has, and Next goes on as if nothing happened. While the coordinator is
// unreachable or does not know the job (a restart in progress) it tries
// again with capped backoff for Client.Reconnect, then gives up with an
// *IncompleteError naming the nodes without a final state.

// DefaultReconnect is Client.Reconnect's default: long enough for a
// coordinator restart or a NATS failover, short enough that a script
// does not hang on a fleet that is gone.
const DefaultReconnect = 2 * time.Minute

// Spacing of the checks while the coordinator cannot be reached: from
// retryFirst, doubling up to retryMax, so that a coordinator back after
// a restart is found within seconds, and a long outage costs a request
// every few seconds.
const (
	retryFirst = 500 * time.Millisecond
	retryMax   = 5 * time.Second
)

func (c *Client) reconnect() time.Duration {
	if c.Reconnect == 0 {
		return DefaultReconnect
	}
	return c.Reconnect
}

// Records is a range of output record indexes, From included, To not.
type Records struct{ From, To uint64 }

func (r Records) String() string {
	if r.To == r.From+1 {
		return fmt.Sprint(r.From)
	}
	return fmt.Sprintf("%d-%d", r.From, r.To-1)
}

// resumeState is where the reader is in the job's records. It belongs to
// the goroutine calling Next.
type resumeState struct {
	next    uint64    // index of the next record Next returns
	lost    []Records // records the coordinator did not keep for us
	finals  []uint64  // bit set: nodes whose final state Next returned
	nfinal  int
	outage  time.Time // first failed check of the current outage (zero: none)
	retries int       // failed checks in the current outage
	resumed int       // streams attached again
}

// heard ends an outage: the coordinator answered, or our stream moves.
func (r *resumeState) heard() { r.outage, r.retries = time.Time{}, 0 }

// account places batch b, about to be returned by Next, in the job's
// records: a batch starting past the next index shows records the
// coordinator did not keep (Lost), one starting before it (a resumed
// stream) loses the records already returned. It notes the nodes that
// got their final state, and reports whether b is still worth returning.
func (j *Job) account(b *protocol.EventBatch) bool {
	r := &j.resume
	if b.Indexed {
		switch {
		case b.First > r.next:
			if n := len(r.lost); n > 0 && r.lost[n-1].To == r.next {
				r.lost[n-1].To = b.First
			} else {
				r.lost = append(r.lost, Records{r.next, b.First})
			}
		case b.First < r.next:
			skip := min(r.next-b.First, uint64(len(b.Events)))
			b.Events = b.Events[skip:]
			b.First += skip
		}
		r.next = max(r.next, b.First+uint64(len(b.Events)))
	} else {
		r.next += uint64(len(b.Events))
	}
	for k := range b.Events {
		if b.Events[k].Kind != protocol.KindEnd {
			continue
		}
		for _, n := range b.Events[k].Nodes {
			w, bit := n/64, uint64(1)<<(n%64)
			if r.finals[w]&bit == 0 {
				r.finals[w] |= bit
				r.nfinal++
			}
		}
	}
	return len(b.Events) > 0 || b.Last
}

// Lost returns the records of the job's output the coordinator did not
// keep for this reader (lines over its replay limit, which an attach or
// a resumed stream cannot send): their indexes, in order. Call it from
// the goroutine that calls Next.
func (j *Job) Lost() []Records { return j.resume.lost }

// Resumed returns how many times Next attached to the job again after
// losing its stream. Call it from the goroutine that calls Next.
func (j *Job) Resumed() int { return j.resume.resumed }

// unfinished returns the nodes whose final state Next did not return.
func (j *Job) unfinished() *nodeset.NodeSet {
	set := nodeset.New()
	for i, name := range j.nodes {
		if j.resume.finals[i/64]&(1<<(i%64)) == 0 {
			_ = set.AddNode(name)
		}
	}
	return set
}

// lostContact handles a stall check or a new attach that the
// coordinator did not answer, or answered that it does not know the
// job: try again later, within Client.Reconnect, else give up.
func (j *Job) lostContact(err error) error {
	var ue *UnreachableError
	unreachable := errors.As(err, &ue)
	if !unreachable && !errors.Is(err, ErrUnknownJob) {
		return fmt.Errorf("job %s: output stopped: %w", j.spec.ID, err)
	}
	r := &j.resume
	now := time.Now()
	if r.outage.IsZero() {
		r.outage = now
	}
	limit := j.c.reconnect()
	if limit < 0 {
		// No reconnecting: only a check lost to a busy coordinator or a
		// NATS reconnect is forgiven.
		if j.unanswer++; unreachable && j.unanswer < maxUnanswered {
			j.lastRecv = now
			return nil
		}
		return j.incomplete(err, now.Sub(r.outage))
	}
	if now.Sub(r.outage) >= limit {
		return j.incomplete(err, now.Sub(r.outage))
	}
	delay := min(retryFirst<<min(r.retries, 8), retryMax)
	r.retries++
	if r.retries == 1 {
		j.c.logger().Warn("job output: lost the coordinator, trying again", "job", j.spec.ID, "for", limit, "err", err)
	}
	// The next stall check is due delay from now (Next waits for
	// StallTimeout of silence after lastRecv).
	j.lastRecv = now.Add(delay - j.c.stallTimeout())
	return nil
}

// reattach asks for a new output stream from the records Next returned,
// and reads that one from now on.
func (j *Job) reattach(ctx context.Context) error {
	stream := NewID()
	actx, cancel := context.WithTimeout(ctx, j.c.stallTimeout())
	defer cancel()
	sub, st, err := j.c.attach(actx, j.spec.ID, stream, j.resume.next)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return j.lostContact(err)
	}
	if st.Total != len(j.nodes) {
		_ = sub.Unsubscribe()
		return fmt.Errorf("job %s: attached again, the coordinator counts %d nodes, this client %d", j.spec.ID, st.Total, len(j.nodes))
	}
	j.subMu.Lock()
	if j.closed {
		j.subMu.Unlock()
		_ = sub.Unsubscribe()
		return fmt.Errorf("job %s: %w", j.spec.ID, errClosed)
	}
	old := j.sub
	j.sub, j.stream = sub, stream
	j.subMu.Unlock()
	_ = old.Unsubscribe()
	// A new stream: its batches are numbered from 1, and those of the
	// old one still queued are dropped with its subscription.
	j.order = protocol.Reorder[*protocol.EventBatch]{}
	j.ready, j.consumed, j.acked, j.ackDue = nil, 0, 0, time.Time{}
	j.retxSeq, j.retxAt, j.done, j.unanswer = 0, time.Time{}, 0, 0
	j.lastRecv = time.Now()
	j.resume.heard()
	j.resume.resumed++
	j.c.logger().Info("job output: stream attached again", "job", j.spec.ID, "stream", stream, "from", j.resume.next)
	return nil
}

var errClosed = errors.New("job closed")

// IncompleteError ends a job's stream before its last batch: the
// coordinator stayed unreachable, or without the job, for longer than
// Client.Reconnect. The job itself may go on (Attach shows it once the
// coordinator is back); this reader could not account for the nodes
// Unfinished.
type IncompleteError struct {
	Job string
	// Unfinished is the folded set of the nodes whose final state Next
	// did not return, Count their number.
	Unfinished string
	Count      int
	// Received is the index of the first record Next did not return:
	// the job's output from there on is missing here.
	Received uint64
	// Tried is how long Next tried to get the stream back.
	Tried time.Duration
	Err   error
}

func (e *IncompleteError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "job %s: lost its output stream", e.Job)
	if e.Tried > 0 {
		fmt.Fprintf(&b, " (tried again for %v)", e.Tried.Round(time.Second))
	}
	fmt.Fprintf(&b, ": %v; ", e.Err)
	if e.Count == 0 {
		b.WriteString("every node's final state arrived, but not the end of the stream")
	} else {
		fmt.Fprintf(&b, "%d %s without a final state: %s", e.Count, plural(e.Count, "node", "nodes"), e.Unfinished)
	}
	fmt.Fprintf(&b, "; output from record %d on is missing", e.Received)
	return b.String()
}

func (e *IncompleteError) Unwrap() error { return e.Err }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func (j *Job) incomplete(err error, tried time.Duration) error {
	return &IncompleteError{Job: j.spec.ID, Unfinished: j.unfinished().String(), Count: len(j.nodes) - j.resume.nfinal,
		Received: j.resume.next, Tried: tried, Err: err}
}
