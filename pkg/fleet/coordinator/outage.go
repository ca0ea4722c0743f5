package coordinator

import "github.com/fleetsh/fleetsh/pkg/protocol"

// resync runs at each reconnection of the coordinator to NATS: it acks
// again what every live shard merged and asks its agent for what follows.
// While the coordinator was away the server dropped what agents sent it
// (its subscriptions went with its connection), and an agent that
// reconnected first resent its in-flight batches into that void: without
// this, they would wait for the agent's stale-ack timer (its
// ResendAfter), and a shard whose window was full would sit idle until
// then. A retransmit beyond what the agent sent gives nothing, and
// duplicates are dropped by the shard's reorder window.
func (c *Coordinator) resync() {
	c.mu.Lock()
	jobs := make([]*job, 0, len(c.jobs))
	for _, j := range c.jobs {
		jobs = append(jobs, j)
	}
	c.mu.Unlock()
	asked := 0
	for _, j := range jobs {
		var ask []protocol.Control
		var agents []string
		j.mu.Lock()
		for _, s := range j.shards {
			if s.dead || s.done {
				continue
			}
			s.acked = 0 // the last ack may have gone with the connection
			j.ackShard(s)
			ask = append(ask, protocol.Control{Kind: protocol.ControlRetransmit, Job: j.spec.ID,
				Shard: s.id, Attempt: s.attempt, Seq: s.reorder.Delivered() + 1})
			agents = append(agents, s.agent)
		}
		j.mu.Unlock()
		for i, ctl := range ask {
			c.control(agents[i], ctl)
		}
		asked += len(ask)
	}
	if asked > 0 {
		c.log.Info("asked agents to resend what the outage lost", "shards", asked)
	}
}
