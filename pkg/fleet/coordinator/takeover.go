package coordinator

import (
	"context"
	"fmt"
	"slices"

	"github.com/fleetsh/fleetsh/pkg/fleet/store"
)

// Takeover (docs/fleet.md, "Two coordinators"): when a coordinator is
// lost (peers.go), each live one with the shared Store claims the lost
// one's running jobs in the registry by compare-and-set on their record
// (only one claim of a record succeeds) and resumes those it won exactly
// as a restarted coordinator resumes its own (resume.go: rebuilt from
// the journal; agents' kept batches and retried summaries then reach
// the new owner); the lost one's finished jobs it lists and attaches.
//
// While the claim runs, the lost peer still counts as one that may own
// a job (othersMayLive): nothing is refused in between. A coordinator
// declared lost that was only slow learns it from the taker's presence
// (Presence.Took names its instance) and stops (Run returns
// ErrTakenOver): its jobs are another's now, and a restart loads the
// registry afresh.

// ErrTakenOver is Run's error once another coordinator declared this one
// lost and took its jobs over: restart it.
var ErrTakenOver = fmt.Errorf("another coordinator declared this one lost and took its jobs over")

// takeOver claims and resumes the running jobs of lost coordinator id
// (instance, its Presence.Instance), and lists its finished ones.
func (c *Coordinator) takeOver(id, instance string) {
	defer func() {
		c.mu.Lock()
		if p := c.peers.known[id]; p != nil {
			p.claiming = false
		}
		c.mu.Unlock()
	}()
	st := c.cfg.Store
	if st == nil {
		c.log.Warn("coordinator lost: without a store its running jobs wait for it", "coordinator", id)
		return
	}
	recs, err := st.Records(c.ctx)
	if err != nil {
		c.log.Error("coordinator lost: its jobs cannot be taken over", "coordinator", id, "err", err)
		return
	}
	var resumed []*job
	finished := 0
	for _, r := range recs {
		if r.Owner != id || c.job(r.ID) != nil {
			continue
		}
		if r.Done {
			c.mu.Lock()
			if c.finished[r.ID] == nil {
				c.finished[r.ID] = r
				finished++
			}
			c.mu.Unlock()
			continue
		}
		if j := c.claim(c.ctx, r); j != nil {
			resumed = append(resumed, j)
		}
	}
	c.mu.Lock()
	// A peer lost, heard again (a presence delayed on a loaded route)
	// and lost again is taken over again: its instance is named once.
	if !slices.Contains(c.peers.self.Took, instance) {
		c.peers.self.Took = append(c.peers.self.Took, instance)
	}
	if n := len(c.peers.self.Took); n > maxTook {
		c.peers.self.Took = slices.Clone(c.peers.self.Took[n-maxTook:])
	}
	c.mu.Unlock()
	c.log.Warn("coordinator lost: its jobs taken over", "coordinator", id, "running", len(resumed), "finished", finished)
	c.resume(resumed)
}

// maxTook bounds Presence.Took: the instances most recently taken over.
const maxTook = 8

// claim rebuilds running job r from its journal and makes this
// coordinator its owner by compare-and-set on its record; nil when it
// cannot be rebuilt or another coordinator claimed it first.
func (c *Coordinator) claim(ctx context.Context, r *store.Record) *job {
	j, err := c.rebuild(ctx, r)
	if err != nil {
		c.log.Error("running job cannot be resumed", "job", r.ID, "err", err)
		return nil
	}
	prev := r.Owner
	r.Owner = c.cfg.ID
	if err := c.cfg.Store.Update(ctx, r); err != nil {
		c.log.Warn("running job not resumed: claimed by another coordinator meanwhile", "job", r.ID, "owner", prev, "err", err)
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if have := c.jobs[r.ID]; have != nil {
		return nil
	}
	c.jobs[r.ID] = j
	return j
}
