package coordinator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetsh/fleetsh/pkg/fleet/store"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// A coordinator with a Store writes each job's record in the registry
// and its journal (journal.go), and on Run loads the registry before it
// listens to anyone:
//
//   - a running job this coordinator (Config.ID) owns, or nobody does, is
//     rebuilt from its journal (tracker, shards with the last batch
//     merged, the replay log) and resumes: its agents' batches, which they
//     keep until acked, continue their sequences; their summaries, which
//     they retry until answered, are accepted; a shard whose dispatch was
//     not confirmed is sent again (the agent answers a repeat as accepted
//     without running it twice); nodes no live shard holds are planned
//     again; an agent not heard within LostAfter is lost as usual (its
//     started nodes end "gateway lost", the others run elsewhere). The
//     job's submitter has no live stream any more: csub attaches again;
//   - a finished job is listed from its record, and loaded from its
//     journal only when someone asks for it by id (status, attach);
//   - a running job of another coordinator is left to it.
//
// Not stored: the agents (they register again with their heartbeats),
// output streams (readers attach again), a job's standard input (a
// resumed job's shards get no more of it, and nodes dispatched after the
// restart end with an error rather than run on part of it).

// storeAccepted makes a new job durable before it is answered: its
// journal's head (the spec) and its registry record. Without a Store it
// does nothing.
func (c *Coordinator) storeAccepted(j *job) error {
	st := c.cfg.Store
	if st == nil {
		return nil
	}
	j.mu.Lock()
	rec := &store.Record{JobStatus: j.status(true), Owner: c.cfg.ID}
	rec.Nodes = j.spec.Nodes
	limit := c.maxPayload() - journalRoom
	j.jw = newJWriter(limit)
	acc := store.Accepted{Spec: j.spec, Rule: j.rule, Created: j.created, Owner: c.cfg.ID}
	j.mu.Unlock()
	var entries []store.Entry
	if len(acc.Spec.Nodes) > limit/2 {
		// A node set too large for one message goes in parts.
		nodes := acc.Spec.Nodes
		acc.Spec.Nodes = ""
		for k := 0; len(nodes) > 0; k++ {
			n := min(len(nodes), limit/2)
			entries = append(entries, store.Entry{NodesPart: &store.NodesPart{Part: k, Nodes: nodes[:n]}})
			nodes = nodes[n:]
			acc.Parts++
		}
	}
	entries = append(entries, store.Entry{Accepted: &acc})
	fail := func(err error) error {
		c.log.Error("job refused: it cannot be stored", "job", j.spec.ID, "err", err)
		return refusal(protocol.CodeRefused, "job %s refused: the coordinator cannot store it: %v", j.spec.ID, err)
	}
	for k, e := range entries {
		data, err := e.Encode()
		if err != nil {
			return fail(err)
		}
		if err := st.AppendSync(c.ctx, j.spec.ID, fmt.Sprintf("%s-%s-a%d", c.runID, j.spec.ID, k), data); err != nil {
			return fail(err)
		}
	}
	if err := st.Create(c.ctx, rec); err != nil {
		return fail(err)
	}
	j.mu.Lock()
	j.rec = rec
	j.mu.Unlock()
	c.spawn(func() { c.journalLoop(j) })
	return nil
}

// storeEnded updates an ended job's record: its final counts.
func (c *Coordinator) storeEnded(j *job) {
	j.mu.Lock()
	if j.rec == nil {
		j.mu.Unlock()
		return
	}
	rec := *j.rec
	rec.JobStatus = j.status(true)
	rec.Nodes = j.spec.Nodes
	j.mu.Unlock()
	if err := c.cfg.Store.Update(c.ctx, &rec); err != nil {
		c.log.Error("job registry: the end of a job is not recorded", "job", j.spec.ID, "err", err)
		return
	}
	j.mu.Lock()
	j.rec.Rev = rec.Rev
	j.mu.Unlock()
}

// dropJob forgets a finished job, in the Store too. Call with c.mu held.
func (c *Coordinator) dropJob(j *job) {
	if c.jobs[j.spec.ID] != j {
		return
	}
	delete(c.jobs, j.spec.ID)
	j.mu.Lock()
	if j.jw != nil {
		close(j.jw.gone)
	}
	j.mu.Unlock()
	c.forgetStored(j.spec.ID)
}

func (c *Coordinator) forgetStored(id string) {
	if c.cfg.Store == nil {
		return
	}
	c.spawn(func() {
		if err := c.cfg.Store.Forget(c.ctx, id); err != nil && c.ctx.Err() == nil {
			c.log.Warn("job registry: a forgotten job stays stored", "job", id, "err", err)
		}
	})
}

// expireFinished forgets the unloaded finished jobs older than KeepJobs.
func (c *Coordinator) expireFinished(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, r := range c.finished {
		if now.Sub(r.Ended) > c.cfg.KeepJobs {
			delete(c.finished, id)
			c.forgetStored(id)
		}
	}
}

// load reads the registry: it rebuilds the running jobs this coordinator
// resumes (returned, for resume once Run listens) and keeps the records
// of finished ones.
func (c *Coordinator) load(ctx context.Context) ([]*job, error) {
	st := c.cfg.Store
	if st == nil {
		return nil, nil
	}
	start := time.Now()
	recs, err := st.Records(ctx)
	if err != nil {
		return nil, fmt.Errorf("job registry: %w", err)
	}
	var resumed []*job
	for _, r := range recs {
		switch {
		case r.Done:
			c.mu.Lock()
			c.finished[r.ID] = r
			c.mu.Unlock()
		case r.Owner != "" && r.Owner != c.cfg.ID:
			c.log.Info("running job of another coordinator: left to it", "job", r.ID, "owner", r.Owner)
		default:
			// Compare-and-set: a coordinator that took the job meanwhile
			// keeps it (takeover.go).
			if j := c.claim(ctx, r); j != nil {
				resumed = append(resumed, j)
			}
		}
	}
	c.log.Info("job registry loaded", "resumed", len(resumed), "finished", len(c.finished), "took", time.Since(start).Round(time.Millisecond))
	return resumed, nil
}

// rebuild makes a job from its record and journal.
func (c *Coordinator) rebuild(ctx context.Context, r *store.Record) (*job, error) {
	if r.Total <= 0 || r.Total > c.cfg.MaxJobNodes {
		return nil, fmt.Errorf("%d nodes, not from 1 to %d", r.Total, c.cfg.MaxJobNodes)
	}
	jj, err := c.cfg.Store.Load(ctx, r.ID, r.Total)
	if err != nil {
		return nil, err
	}
	acc := jj.Accepted
	if acc == nil {
		return nil, errors.New("its journal lost its head (older than the stream's max age, or pushed out by its max bytes)")
	}
	set, err := nodeset.Parse(acc.Spec.Nodes)
	if err != nil {
		return nil, fmt.Errorf("job nodes: %w", err)
	}
	if set.Len() != r.Total {
		return nil, fmt.Errorf("job nodes: %d in the journal, %d in the registry", set.Len(), r.Total)
	}
	j := newJob(c, acc.Spec, set.Nodes())
	j.set, j.rule, j.created, j.rec = set, acc.Rule, acc.Created, r
	j.jw = newJWriter(c.maxPayload() - journalRoom)
	j.primary.detached = true // its reader attaches again
	if j.stdin != nil {
		j.stdin.trimmed = true
	}
	for _, st := range jj.Shards {
		p := j.ordered(j.fold(st.Nodes), st.Nodes)
		if p.err != nil {
			return nil, fmt.Errorf("shard %s: %w", st.ID, p.err)
		}
		s := j.newShard(st.ID, st.Attempt, st.Group, st.Agent, p.nodes)
		s.fold = p.fold
		// A batch merged says its agent took the shard, whether or not
		// the journal got to say so.
		s.accepted, s.dead, s.done, s.doneStored = st.Accepted || st.Seq > 0, st.Dead, st.Done, st.Done
		s.reorder.Resume(st.Seq)
		s.stored = st.Seq
		s.stdinDone = true
		if n, err := strconv.Atoi(strings.TrimPrefix(st.ID, "s")); err == nil {
			j.nshards = max(j.nshards, n)
		}
	}
	for k := range jj.Records {
		rec := jj.Records[k]
		j.track.Event(&rec.Event)
		j.log = append(j.log, rec.Event)
		j.logIdx = append(j.logIdx, rec.Idx)
		j.logBytes += rec.Size()
	}
	j.logFull = j.logBytes > c.cfg.MaxReplay
	j.emitted = jj.Emitted
	j.released = j.emitted
	if jj.CancelledBy != "" {
		j.cancelled, j.cancelAt = true, time.Now().Add(c.cfg.CancelGrace)
		if jj.CancelledBy != "-" {
			j.cancelledBy = jj.CancelledBy
		}
	}
	j.ended = jj.Ended
	if j.ended.IsZero() && r.Done {
		j.ended = r.Ended
	}
	return j, nil
}

// resume sets the rebuilt jobs going again, once Run listens.
func (c *Coordinator) resume(jobs []*job) {
	now := time.Now()
	for _, j := range jobs {
		c.spawn(func() { c.journalLoop(j) })
		j.mu.Lock()
		var resend []*shard
		load := map[string]int{}
		var held []heldShard
		for _, s := range j.shards {
			if s.dead || s.done {
				continue
			}
			load[s.agent] += len(s.nodes)
			if !s.accepted {
				resend = append(resend, s)
			} else {
				held = append(held, heldShard{j, s})
			}
		}
		// Nodes no live shard holds: their shard was given up before its
		// nodes went elsewhere, or the job was not planned yet.
		var again, lost []uint32
		for _, n := range j.unended() {
			o := j.owners[n]
			switch {
			case o != nil && !o.dead:
			case j.track.Phase(n) == protocol.PhaseRunning && !j.spec.RerunOnLoss:
				lost = append(lost, n)
			default:
				again = append(again, n)
			}
		}
		j.finishMany(lost, protocol.StateLost, "its gateway agent was lost while the coordinator restarted")
		if j.cancelled {
			j.cancelUnstarted()
			again = nil
		}
		j.mu.Unlock()
		c.mu.Lock()
		for id, n := range load {
			a := c.agents[id]
			if a == nil {
				// Not heard yet: lost after LostAfter unless it heartbeats.
				a = &agent{AgentStatus: protocol.AgentStatus{Hello: protocol.Hello{Agent: id}, LastSeen: now}, restored: true}
				c.agents[id] = a
			}
			a.assigned += n
		}
		for _, h := range held {
			c.held[h.s.agent] = append(c.held[h.s.agent], h)
		}
		c.mu.Unlock()
		c.log.Info("job resumed", "job", j.spec.ID, "nodes", len(j.nodes), "shards", len(load), "resent", len(resend), "replanned", len(again))
		for _, s := range resend {
			c.spawn(func() { c.sendShard(j, s) })
		}
		if len(again) > 0 {
			c.spawn(func() { c.planNodes(j, again) })
		}
		c.checkDone(j)
	}
}

// heldShard is a shard of a resumed job its agent took before the
// restart: the agent's first heartbeat since says whether it still holds
// it (checkHeld).
type heldShard struct {
	j *job
	s *shard
}

// checkHeld gives up the shards of resumed jobs that agent took before
// the restart but no longer holds (its heartbeat lists what it holds): it
// restarted too, and they will never end. It runs once per agent, at its
// first heartbeat.
func (c *Coordinator) checkHeld(agent string, holds []string) {
	c.mu.Lock()
	list := c.held[agent]
	delete(c.held, agent)
	c.mu.Unlock()
	for _, h := range list {
		if !slices.Contains(holds, h.s.key) {
			c.log.Warn("agent no longer holds a shard of a resumed job: given up", "shard", h.s.key, "agent", agent)
			c.abandon(h.j, h.s, fmt.Sprintf("gateway agent %s restarted while the command ran (so did the coordinator)", agent), "")
		}
	}
}

// loadFinished loads a finished job of the registry from its journal
// (nil if it has none, or it cannot be loaded).
func (c *Coordinator) loadFinished(id string) *job {
	c.mu.Lock()
	r := c.finished[id]
	c.mu.Unlock()
	if r == nil {
		return nil
	}
	j, err := c.rebuild(c.ctx, r)
	if err != nil {
		c.log.Warn("finished job cannot be loaded", "job", id, "err", err)
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if have := c.jobs[id]; have != nil {
		return have
	}
	if c.finished[id] != r {
		return nil // forgotten meanwhile
	}
	delete(c.finished, id)
	c.jobs[id] = j
	c.spawn(func() { c.journalLoop(j) })
	return j
}

// finishedStatuses lists the unloaded finished jobs user may see (all of
// them with all).
func (c *Coordinator) finishedStatuses(user string, all, brief bool) []protocol.JobStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []protocol.JobStatus
	for _, r := range c.finished {
		if !all && (user == "" || r.User != user) {
			continue
		}
		st := r.JobStatus
		if brief {
			st.Nodes = ""
		}
		out = append(out, st)
	}
	return out
}
