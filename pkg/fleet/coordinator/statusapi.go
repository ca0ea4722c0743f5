package coordinator

import (
	"maps"
	"slices"
	"strings"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// The read-only view of the registry the coordinator's web status page
// (pkg/fleet/statusweb) shows, in process: unlike a JobsRequest it names
// no user and is not filtered by the policy, since it is served to the
// operators of the coordinator's host (its --http listener), not over
// NATS.

// Jobs lists every job of the registry, every user's, newest first, in
// brief: without their node sets (Nodes, Unfinished, States), so that a
// listing costs no folding of large jobs.
func (c *Coordinator) Jobs() []protocol.JobStatus {
	c.mu.Lock()
	jobs := c.activeJobs()
	c.mu.Unlock()
	out := make([]protocol.JobStatus, 0, len(jobs))
	for _, j := range jobs {
		j.mu.Lock()
		out = append(out, j.status(true))
		j.mu.Unlock()
	}
	for _, st := range c.finishedStatuses("", true, true) {
		st.Finals = maps.Clone(st.Finals) // the record's own map stays the coordinator's
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b protocol.JobStatus) int {
		if d := b.Submitted.Compare(a.Submitted); d != 0 {
			return d
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Job returns the full status of job id (its node sets folded per final
// state, and the nodes not ended yet), and whether the registry has it.
// A finished job of the Store not loaded yet is loaded, as a status
// request over NATS does.
func (c *Coordinator) Job(id string) (protocol.JobStatus, bool) {
	j := c.job(id)
	if j == nil {
		j = c.loadFinished(id)
	}
	if j == nil {
		return protocol.JobStatus{}, false
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.status(false), true
}
