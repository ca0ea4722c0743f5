package coordinator

import (
	"fmt"
	"time"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// An agent that heartbeats but makes no progress (a stuck engine, a
// wedged SSH library) would hold its nodes for ever: heartbeats say the
// process lives, not that it works. A shard of a job with a command
// timeout has a progress deadline: every node of a fanout wave ends within
// the connect timeout plus the command timeout, so a live shard that
// merged no batch for that long, plus Config.ProgressGrace, is stuck. The
// coordinator then gives it up as if its agent were lost, for this shard
// only: started nodes end as "gateway lost" naming the stall, the others
// go to another agent of the group, and the agent is told to cancel it.
// A job without a command timeout may legitimately run silent for ever
// (`sleep 3600`): its shards have no deadline. The clock stops while the
// coordinator is cut from NATS, as the agents' liveness does.

// defaultConnectTimeout stands for a job's connect timeout when it gives
// none (the engine's default, ClusterShell's connect_timeout).
const defaultConnectTimeout = 10 * time.Second

// progressDeadline is how long a shard of j may go without a batch (0:
// no deadline).
func (j *job) progressDeadline() time.Duration {
	if j.spec.CommandTimeout <= 0 {
		return 0
	}
	ct := j.spec.ConnectTimeout
	if ct <= 0 {
		ct = defaultConnectTimeout
	}
	return ct + j.spec.CommandTimeout + j.c.cfg.ProgressGrace
}

// stuckShards lists the live shards of j past their progress deadline;
// since is when the coordinator last reconnected to NATS. Call with j.mu
// held.
func (j *job) stuckShards(now, since time.Time) []*shard {
	d := j.progressDeadline()
	if d == 0 || j.complete() || !j.c.nc.IsConnected() {
		return nil
	}
	var stuck []*shard
	for _, s := range j.shards {
		if s.dead || s.done {
			continue
		}
		last := s.progressAt
		if since.After(last) {
			last = since
		}
		if now.Sub(last) > d {
			stuck = append(stuck, s)
		}
	}
	return stuck
}

// shardStuck gives up a shard that made no progress in time.
func (c *Coordinator) shardStuck(j *job, s *shard) {
	j.mu.Lock()
	if s.dead || s.done {
		j.mu.Unlock()
		return
	}
	d := j.progressDeadline()
	c.log.Warn("shard made no progress: given up", "shard", s.key, "agent", s.agent, "deadline", d)
	j.mu.Unlock()
	c.abandon(j, s, fmt.Sprintf("gateway agent %s made no progress for %v (stuck)", s.agent, d), s.agent)
}

// abandon gives up shard s of j, whose agent will not finish it: its
// started nodes end as lost with why, the others run on another agent of
// the group (not on exclude), and the agent is told to cancel it.
func (c *Coordinator) abandon(j *job, s *shard, why, exclude string) {
	j.mu.Lock()
	if s.dead || s.done {
		j.mu.Unlock()
		return
	}
	redo := j.giveUp(s, why)
	if j.cancelled {
		j.cancelUnstarted()
	}
	j.mu.Unlock()
	c.unassign(s)
	c.control(s.agent, protocol.Control{Kind: protocol.ControlCancel, Job: j.spec.ID, Shard: s.id, Attempt: s.attempt})
	if len(redo) > 0 {
		c.dispatch(j, s.group, redo, exclude)
	}
	c.checkDone(j)
}
