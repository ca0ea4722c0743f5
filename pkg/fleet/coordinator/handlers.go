package coordinator

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/fleet/store"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// onRegister answers an agent's Hello: the groups it will serve, or why
// it cannot serve.
func (c *Coordinator) onRegister(m *nats.Msg) {
	refuse := func(err error) {
		var w protocol.Welcome
		w.Error, w.Code = protocol.Failure(err)
		_ = wire.Respond(m, protocol.TypeWelcome, w)
	}
	if err := wire.Check(m); err != nil {
		refuse(err) // in this side's version, which the peer can read
		return
	}
	var h protocol.Hello
	if err := protocol.Unmarshal(m.Data, &h); err != nil {
		refuse(err)
		return
	}
	if err := protocol.ValidID(h.Agent); err != nil {
		refuse(fmt.Errorf("agent id: %w", err))
		return
	}
	if from := c.subj.Sender(m.Subject); from != h.Agent {
		c.log.Warn("agent refused: hello for another agent", "from", from, "agent", h.Agent)
		refuse(refusal(protocol.CodeRefused, "agent %s: a hello for agent %q", from, h.Agent))
		return
	}
	if err := h.CheckFields(); err != nil {
		c.log.Warn("agent refused", "agent", h.Agent, "err", err)
		refuse(fmt.Errorf("agent %s: %w", h.Agent, err))
		return
	}
	c.mu.Lock()
	a, err := c.seen(h)
	var groups []string
	if a != nil {
		groups = slices.Clone(a.Served)
	}
	c.mu.Unlock()
	if err != nil {
		c.log.Warn("agent refused", "agent", h.Agent, "name", h.Name, "err", err)
		refuse(err)
		return
	}
	_ = wire.Respond(m, protocol.TypeWelcome, protocol.Welcome{Groups: groups, Heartbeat: c.cfg.Heartbeat})
}

// onHeartbeat refreshes an agent, registering it again if this
// coordinator forgot it (restart) or had declared it lost, and cancels
// shards it still runs that the coordinator gave up on.
func (c *Coordinator) onHeartbeat(m *nats.Msg) {
	var hb protocol.Heartbeat
	if !c.decode(m, &hb) {
		return
	}
	if from := c.subj.Sender(m.Subject); hb.Agent != from {
		c.drop(m, fmt.Errorf("heartbeat of agent %q from agent %q", protocol.Truncate(hb.Agent, protocol.MaxLogField), from))
		return
	}
	if err := hb.CheckFields(); err != nil {
		c.drop(m, err)
		return
	}
	c.mu.Lock()
	a, err := c.seen(hb.Hello)
	if err != nil {
		c.mu.Unlock()
		return
	}
	a.Running, a.Draining, a.Shards, a.Load = hb.Running, hb.Draining, len(hb.Shards), hb.Load
	var stale []protocol.Control
	others := c.othersMayLive(time.Now())
	for _, key := range hb.Shards {
		parts := strings.Split(key, "/")
		if len(parts) != 3 {
			continue
		}
		j := c.jobs[parts[0]]
		if j == nil && others {
			continue // another coordinator's job (peers.go)
		}
		live := false
		if j != nil {
			j.mu.Lock()
			s := j.shards[key]
			live = s != nil && !s.dead && s.agent == hb.Agent
			j.mu.Unlock()
		}
		if !live {
			var attempt int
			fmt.Sscan(parts[2], &attempt)
			stale = append(stale, protocol.Control{Kind: protocol.ControlCancel, Job: parts[0], Shard: parts[1], Attempt: attempt})
		}
	}
	held := len(c.held[hb.Agent]) > 0
	c.mu.Unlock()
	for _, ctl := range stale {
		c.control(hb.Agent, ctl)
	}
	if held {
		c.checkHeld(hb.Agent, hb.Shards)
	}
}

// onEvents merges an agent's batch into its job.
func (c *Coordinator) onEvents(m *nats.Msg) {
	arrived := time.Now()
	if wire.Check(m) != nil {
		return
	}
	var b protocol.EventBatch
	j, s := c.decodeBatch(m, &b)
	if j == nil {
		return
	}
	j.mu.Lock()
	if s.dead {
		// The coordinator gave up on this attempt; tell the agent to stop.
		j.mu.Unlock()
		c.control(b.Agent, protocol.Control{Kind: protocol.ControlCancel, Job: b.Job, Shard: b.Shard, Attempt: b.Attempt})
		return
	}
	ready, dup := s.reorder.Push(b.Seq, &b)
	for _, rb := range ready {
		// A batch's records and its progress go in one journal message.
		j.journalHold(batchSize(rb))
		j.merge(s, rb)
		j.journalProgress(s, rb.Seq)
		j.journalRelease()
	}
	if len(ready) > 0 {
		s.progressAt = time.Now()
		c.observeMerge(arrived)
	}
	var missing []uint64
	if dup {
		s.acked = 0 // the agent missed our ack: send it again
	} else if len(ready) == 0 {
		missing = s.reorder.Missing(0)
	}
	j.ackShard(s)
	nrec := 0
	for _, rb := range ready {
		nrec += len(rb.Events)
	}
	j.mu.Unlock()
	if len(missing) > 0 {
		c.control(b.Agent, protocol.Control{Kind: protocol.ControlRetransmit, Job: b.Job, Shard: b.Shard, Attempt: b.Attempt, Seq: missing[0]})
	}
	c.mu.Lock()
	c.stats.Batches++
	c.stats.Bytes += uint64(len(m.Data))
	c.stats.Records += uint64(nrec)
	if dup {
		c.stats.Duplicates++
	}
	if len(missing) > 0 {
		c.stats.Gaps++
	}
	c.mu.Unlock()
	c.checkDone(j)
}

// onDone reconciles a shard's summary with what arrived.
func (c *Coordinator) onDone(m *nats.Msg) {
	var sum protocol.ShardSummary
	err := wire.Check(m) // refused in this side's version, which the peer can read
	if err == nil {
		err = protocol.Unmarshal(m.Data, &sum)
	}
	if err != nil {
		var reply protocol.DoneReply
		reply.Error, reply.Code = protocol.Failure(err)
		_ = wire.Respond(m, protocol.TypeDoneReply, reply)
		return
	}
	if from := c.subj.Sender(m.Subject); from != sum.Agent {
		c.log.Warn("shard summary refused: sent for another agent", "from", from, "agent", protocol.Truncate(sum.Agent, protocol.MaxLogField), "job", protocol.Truncate(sum.Job, protocol.MaxLogField))
		_ = wire.Respond(m, protocol.TypeDoneReply, protocol.DoneReply{
			Error: fmt.Sprintf("a summary from agent %s for agent %s", from, protocol.Truncate(sum.Agent, protocol.MaxLogField)), Code: protocol.CodeRefused})
		return
	}
	if c.foreign(sum.Job) {
		return // another coordinator's job (peers.go): its owner answers
	}
	if reply, now := c.reconcile(sum, func(r protocol.DoneReply) { _ = wire.Respond(m, protocol.TypeDoneReply, r) }); now {
		_ = wire.Respond(m, protocol.TypeDoneReply, reply)
	}
}

// reconcile checks a shard's summary against what arrived. Its answer is
// returned (now) or, for an OK that the journal must hold first, given
// to later once it does.
func (c *Coordinator) reconcile(sum protocol.ShardSummary, later func(protocol.DoneReply)) (protocol.DoneReply, bool) {
	ok := func() { later(protocol.DoneReply{OK: true}) }
	j := c.job(sum.Job)
	if j == nil {
		return protocol.DoneReply{Error: fmt.Sprintf("no job %q", protocol.Truncate(sum.Job, protocol.MaxLogField)), Code: protocol.CodeUnknownJob}, true
	}
	key := protocol.ShardKey(sum.Job, sum.Shard, sum.Attempt)
	j.mu.Lock()
	s := j.shards[key]
	switch {
	case s == nil || s.agent != sum.Agent:
		j.mu.Unlock()
		return protocol.DoneReply{Error: fmt.Sprintf("no shard %s for agent %s", protocol.Truncate(key, protocol.MaxLogField), sum.Agent), Code: protocol.CodeUnknownShard}, true
	case s.dead:
		j.mu.Unlock()
		return protocol.DoneReply{Error: fmt.Sprintf("shard %s was given up (agent %s declared lost)", key, sum.Agent), Code: protocol.CodeUnknownShard}, true
	case s.done:
		// A repeat: OK once the journal holds the shard's end.
		wait := !s.doneStored && j.journalThen(ok)
		j.mu.Unlock()
		return protocol.DoneReply{OK: true}, !wait
	}
	if missing := s.reorder.Missing(sum.LastSeq); len(missing) > 0 {
		j.mu.Unlock()
		return protocol.DoneReply{Missing: missing}, true
	}
	s.done = true
	j.journalShard(s, store.ShardDone)
	// Every batch arrived; a node still without a final state means the
	// agent broke the contract: end it rather than wait forever.
	var orphans []uint32
	for _, n := range s.nodes {
		if j.runs(s, n) {
			orphans = append(orphans, n)
		}
	}
	if len(orphans) > 0 {
		c.log.Error("agent ended a shard without a final state for some nodes", "shard", key, "nodes", len(orphans))
		j.finishMany(orphans, protocol.StateError, fmt.Sprintf("agent %s ended its shard without a result for this node", sum.Agent))
	}
	// The agent forgets the shard on OK: answer once the journal holds
	// its end, so that a restarted coordinator does not wait for it.
	wait := j.journalThen(func() {
		j.mu.Lock()
		s.doneStored = true
		j.mu.Unlock()
		ok()
	})
	if wait {
		j.journalUrgent()
	}
	j.mu.Unlock()
	c.unassign(s)
	c.checkDone(j)
	return protocol.DoneReply{OK: true}, !wait
}

// onOutputAck passes a reader's ack or retransmit request to its stream.
func (c *Coordinator) onOutputAck(m *nats.Msg) {
	var ctl protocol.Control
	if !c.decode(m, &ctl) {
		return
	}
	id := protocol.LastToken(m.Subject)
	c.mu.Lock()
	var f *follower
	if j := c.jobs[id]; j != nil {
		f = j.primary
	} else {
		f = c.streams[id]
	}
	c.mu.Unlock()
	// Only the stream's reader acks it, and never beyond what was sent.
	if f != nil && f.user == c.subj.Sender(m.Subject) && !f.control(ctl) {
		c.drop(m, errAckAhead)
	}
}
