package coordinator

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Bounded input. Every message the coordinator takes is untrusted until
// the subject it came on says who sent it, and even then it may only
// cost what the job it names already holds:
//
//   - each subject carries its message types (Fleet-Type): any other is
//     dropped and logged (rate-limited, wire.Drops), never decoded as
//     something else;
//   - an event batch is decoded against its shard's nodes
//     (protocol.EventBatch.Decode), after its header named a live shard
//     of that agent, and a batch further ahead of what was delivered
//     than the agent's window allows is dropped;
//   - an output ack beyond the last batch sent is dropped;
//   - job specs, Hellos and heartbeats are checked against the field
//     limits (protocol.CheckFields), and logs show at most
//     protocol.MaxLogField bytes of a field a peer chose;
//   - a job's nodes are capped (MaxJobNodes), and so are the nodes of all
//     the jobs one user has in the registry (MaxUserNodes, users.go).

// typed runs h for the messages of one of types; a message of the
// protocol version with another type is dropped. A message in another
// version goes to h, which answers a request with the version error.
func (c *Coordinator) typed(h nats.MsgHandler, types ...string) nats.MsgHandler {
	return func(m *nats.Msg) {
		if wire.Check(m) == nil {
			if err := wire.Expect(m, types...); err != nil {
				c.drop(m, err)
				return
			}
		}
		h(m)
	}
}

// drop counts and logs (rate-limited) a message the coordinator ignores.
func (c *Coordinator) drop(m *nats.Msg, err error) {
	c.drops.Drop(c.log, m, err)
}

// decode reads m, a message that wants no answer, into v and reports
// whether it did: a message in another protocol version is ignored (it
// has no reply subject to hear the version error), one that does not
// decode is dropped.
func (c *Coordinator) decode(m *nats.Msg, v any) bool {
	if wire.Check(m) != nil {
		return false
	}
	if err := protocol.Unmarshal(m.Data, v); err != nil {
		c.drop(m, err)
		return false
	}
	return true
}

// Dropped returns how many messages the coordinator dropped: of the
// wrong type, malformed, beyond their stream, or naming what their
// sender does not hold.
func (c *Coordinator) Dropped() uint64 { return c.drops.Count() }

// errAhead is the refusal of a batch numbered beyond the agent's window.
var errAhead = errors.New("batch beyond the agent's window")

// errAckAhead is the refusal of an output ack beyond what was sent.
var errAckAhead = errors.New("ack beyond the last batch sent")

// decodeBatch decodes an agent's batch against its shard: the header
// first, to find the shard attempt (which its agent must hold), then the
// events, bounded by the shard's nodes. It returns the job and shard, or
// nil after dropping the message.
func (c *Coordinator) decodeBatch(m *nats.Msg, b *protocol.EventBatch) (*job, *shard) {
	if err := b.DecodeHeader(m.Data); err != nil {
		c.drop(m, err)
		return nil, nil
	}
	// The subject names the agent that sent the batch (its credential
	// may publish on no other): a batch for another agent is forged.
	if from := c.subj.Sender(m.Subject); from != b.Agent {
		c.drop(m, fmt.Errorf("event batch of agent %q from agent %q", protocol.Truncate(b.Agent, protocol.MaxLogField), from))
		return nil, nil
	}
	j := c.job(b.Job)
	if j == nil {
		return nil, nil // a job forgotten since: not an attack
	}
	key := protocol.ShardKey(b.Job, b.Shard, b.Attempt)
	j.mu.Lock()
	s := j.shards[key]
	var nodes int
	var delivered uint64
	if s != nil {
		nodes, delivered = len(s.nodes), s.reorder.Delivered()
	}
	j.mu.Unlock()
	if s == nil || s.agent != b.Agent {
		return nil, nil // a stale attempt, or another agent's: see onEvents
	}
	if b.Seq > delivered+uint64(c.cfg.Window) {
		c.drop(m, errAhead)
		return nil, nil
	}
	if err := b.Decode(m.Data, nodes); err != nil {
		c.drop(m, err)
		return nil, nil
	}
	return j, s
}
