package coordinator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/fleet/store"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// plan splits a new job's nodes per gateway group and dispatches each
// group's part over its live agents.
func (c *Coordinator) plan(j *job) { c.planNodes(j, nil) }

// planNodes is plan for some nodes of j (job indexes, ascending; nil: all
// of them).
func (c *Coordinator) planNodes(j *job, nodes []uint32) {
	groups := make(map[string][]uint32)
	var order []string
	if c.cfg.Router == nil {
		order = []string{localGroup}
		all := nodes
		if all == nil {
			all = make([]uint32, len(j.nodes))
			for i := range all {
				all[i] = uint32(i)
			}
		}
		groups[localGroup] = all
	} else {
		set := j.set
		if nodes != nil {
			set = nodeset.New()
			for _, n := range nodes {
				_ = set.AddNode(j.nodes[n]) // a name of a parsed set: valid
			}
		}
		byGroup, local := c.cfg.Router.Split(set)
		index := make(map[string]uint32, len(j.nodes))
		for i, n := range j.nodes {
			index[n] = uint32(i)
		}
		add := func(g string, names []string) {
			if len(names) == 0 {
				return
			}
			order = append(order, g)
			for _, n := range names {
				groups[g] = append(groups[g], index[n])
			}
		}
		add(localGroup, local.Nodes())
		for g, ns := range byGroup {
			add(g, ns.Nodes())
		}
	}
	for _, g := range order {
		c.dispatch(j, g, sortIdx(groups[g]), "")
	}
	c.checkDone(j)
}

func sortIdx(idx []uint32) []uint32 {
	// Nodes of a group come from a NodeSet walk, already in job order
	// within each pattern; shards want them ascending for compact records.
	for i := 1; i < len(idx); i++ {
		if idx[i] < idx[i-1] {
			slices.Sort(idx)
			break
		}
	}
	return idx
}

// dispatch sends nodes (job indexes) of group to the group's live agents,
// split in proportion to their capacity; exclude names an agent not to
// use (the one just lost). Nodes no agent takes end as "no agent".
func (c *Coordinator) dispatch(j *job, group string, nodes []uint32, exclude string) {
	if len(nodes) == 0 {
		return
	}
	c.mu.Lock()
	var agents []*agent
	for _, a := range c.liveAgents(group) {
		if a.Hello.Agent != exclude {
			agents = append(agents, a)
		}
	}
	if len(agents) == 0 {
		c.mu.Unlock()
		j.mu.Lock()
		// A node whose start arrived ran on the agent just lost (a job
		// that may run it again, RerunOnLoss): it is lost, never "no
		// agent", which says a node did not run.
		var started, unstarted []uint32
		for _, n := range nodes {
			if j.track.Phase(n) == protocol.PhaseRunning {
				started = append(started, n)
			} else {
				unstarted = append(unstarted, n)
			}
		}
		j.finishMany(started, protocol.StateLost, fmt.Sprintf("gateway agent %s lost while the command ran, and no other live agent serves gateway group %s to run it again", exclude, group))
		j.finishMany(unstarted, protocol.StateNoAgent, noAgentReason(group))
		j.mu.Unlock()
		c.checkDone(j)
		return
	}
	total := 0
	for _, a := range agents {
		total += max(a.Hello.Capacity, 1)
	}
	type part struct {
		a     *agent
		nodes []uint32
	}
	var parts []part
	rest := nodes
	for i, a := range agents {
		n := len(nodes) * max(a.Hello.Capacity, 1) / total
		if i == len(agents)-1 || n > len(rest) {
			n = len(rest)
		}
		if n == 0 {
			continue
		}
		parts = append(parts, part{a, rest[:n:n]})
		a.assigned += n
		rest = rest[n:]
	}
	c.mu.Unlock()

	// Each part becomes as many shards as its folded set needs to fit
	// under max_payload (j.nodes and j.spec never change: no lock).
	budget := c.shardBudget(j, group)
	cut := make([][]piece, len(parts))
	for i, p := range parts {
		cut[i] = j.pieces(p.nodes, budget)
	}

	j.mu.Lock()
	if j.cancelled {
		j.finishMany(nodes, protocol.StateCancel, "job cancelled before it reached a gateway")
		j.mu.Unlock()
		c.checkDone(j)
		return
	}
	if j.stdinGone() {
		j.finishMany(nodes, protocol.StateError, j.stdinGoneReason())
		j.mu.Unlock()
		c.checkDone(j)
		return
	}
	var shards []*shard
	unsent := 0
	for i, p := range parts {
		for _, pc := range cut[i] {
			if pc.err != nil {
				c.log.Error("nodes too large for a shard message", "job", j.spec.ID, "nodes", len(pc.nodes), "err", pc.err)
				j.finishMany(pc.nodes, protocol.StateError, pc.err.Error())
				unsent += len(pc.nodes)
				continue
			}
			s := j.newShard("", 1, group, p.a.Hello.Agent, pc.nodes)
			s.fold = pc.fold
			j.journalShard(s, store.ShardDispatched)
			if ch := make(chan struct{}); j.journalThen(func() { close(ch) }) {
				s.journaled = ch
			}
			shards = append(shards, s)
		}
		if unsent > 0 {
			c.mu.Lock()
			p.a.assigned -= unsent
			c.mu.Unlock()
			unsent = 0
		}
	}
	if len(shards) > 0 {
		j.journalUrgent() // the shards wait for it
	}
	j.mu.Unlock()
	if len(shards) == 0 {
		c.checkDone(j)
	}
	// One request at a time per agent: an agent takes shards one after
	// the other, and a queue of them would time out behind the first.
	byAgent := map[string][]*shard{}
	for _, s := range shards {
		byAgent[s.agent] = append(byAgent[s.agent], s)
	}
	for _, list := range byAgent {
		c.spawn(func() {
			for _, s := range list {
				c.sendShard(j, s)
			}
		})
	}
}

// awaitNATS waits until the coordinator's connection is up again: false
// when it never will be (closed, or the coordinator stops).
func (c *Coordinator) awaitNATS() bool {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for !c.nc.IsConnected() {
		if c.nc.IsClosed() {
			return false
		}
		select {
		case <-c.ctx.Done():
			return false
		case <-t.C:
		}
	}
	return true
}

// sendShard asks the shard's agent to take it, retrying a lost request
// (the agent dedupes by shard key); an agent that refuses or is gone gets
// its nodes handed to another one.
func (c *Coordinator) sendShard(j *job, s *shard) {
	j.mu.Lock()
	msg := protocol.Shard{
		Job: j.spec.ID, ID: s.id, Attempt: s.attempt, Group: s.group,
		Nodes: s.fold, Spec: j.spec,
		Window: c.cfg.Window, MaxBatch: c.cfg.MaxBatch,
	}
	msg.Spec.Nodes, msg.Spec.NodeParts = "", 0
	journaled := s.journaled
	j.mu.Unlock()
	if journaled != nil {
		// Sent only once the journal knows it: a restarted coordinator
		// must know every shard an agent may run.
		select {
		case <-journaled:
		case <-c.ctx.Done():
			return
		}
	}

	var err error
	busy := true
	for attempt := 0; attempt < 4; attempt++ {
		if s.isDead(j) {
			return
		}
		// Signed anew at each try: a fresh validity, and a fresh nonce
		// (the agent refuses the same grant twice; it answers a repeat
		// of a shard it took as accepted).
		data, serr := protocol.SignShard(c.cfg.SigningKey, s.agent, &msg, time.Now(), c.cfg.ShardTTL)
		if serr != nil {
			err, busy = serr, false
			break
		}
		var reply protocol.ShardReply
		ctx, cancel := context.WithTimeout(c.ctx, c.cfg.DispatchTimeout)
		err = wire.RequestData(ctx, c.nc, c.subj.Agent(s.agent), protocol.TypeShard, data, &reply)
		cancel()
		if err == nil {
			if reply.Accepted {
				j.mu.Lock()
				s.accepted = true
				j.journalShard(s, store.ShardAccepted)
				j.mu.Unlock()
				if msg.Spec.Stdin {
					// Not inline: the next shard for this agent waits on
					// this call, and a feed lasts as long as stdin.
					c.spawn(func() { c.feedShard(j, s) })
				}
				return
			}
			err, busy = errors.New(reply.Error), reply.Busy
			break
		}
		if errors.Is(err, nats.ErrMaxPayload) {
			// No agent could take it either: say so, not "no agent".
			err, busy = fmt.Errorf("the shard message is over the NATS server's max_payload of %d bytes: %w", c.maxPayload(), err), false
			break
		}
		if !c.nc.IsConnected() {
			// Cut from NATS, the request may never have left, or its
			// answer never come back: ask again once connected, without
			// counting this try against the agent.
			if !c.awaitNATS() {
				return
			}
			attempt--
			continue
		}
		if errors.Is(err, wire.ErrNoCoordinator) || errors.Is(err, nats.ErrNoResponders) || c.ctx.Err() != nil {
			break // nobody listens there any more
		}
		c.log.Warn("shard dispatch: no answer, retrying", "shard", s.key, "agent", s.agent, "err", err)
	}
	if c.ctx.Err() != nil {
		return
	}
	c.log.Warn("agent did not take shard", "shard", s.key, "agent", s.agent, "err", err)
	j.mu.Lock()
	if s.dead {
		j.mu.Unlock()
		return
	}
	// Nodes whose start arrived ran on that agent all the same: they end
	// as lost (or run again when the job allows), never "no agent".
	redo := j.giveUp(s, fmt.Sprintf("gateway agent %s started the command but never confirmed its shard (%v)", s.agent, err))
	if j.cancelled {
		j.cancelUnstarted()
	}
	if !busy {
		// The agent refused the job itself (unknown worker, bad copy
		// spec): another agent would refuse it too. Say why, per node.
		j.finishMany(redo, protocol.StateError, err.Error())
		redo = nil
	}
	j.mu.Unlock()
	c.unassign(s)
	if redo == nil {
		c.checkDone(j)
		return
	}
	// Give its nodes to another agent of the group: none of them started.
	c.dispatch(j, s.group, redo, s.agent)
}

func (s *shard) isDead(j *job) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return s.dead
}

// control sends a control message to an agent.
func (c *Coordinator) control(agentID string, ctl protocol.Control) {
	if err := wire.PublishJSON(c.nc, c.subj.Control(agentID), protocol.TypeControl, ctl); err != nil {
		c.log.Warn("control", "agent", agentID, "kind", ctl.Kind, "err", err)
	}
}

// noAgentReason says why a group's nodes cannot run, and how to fix it.
func noAgentReason(group string) string {
	if group == localGroup {
		return "no live agent serves the nodes under no gateway (run the coordinator with --local-agent, or an agent with --local)"
	}
	return fmt.Sprintf("no live agent serves gateway group %s (start an agent there: agent --name <one of %s>)", group, group)
}
