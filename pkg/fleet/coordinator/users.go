package coordinator

import (
	"slices"
	"time"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// DefaultMaxUserNodes is the most nodes the jobs of one user may hold in
// the registry together, running or finished, unless configured
// otherwise: as many as one job of protocol.DefaultMaxJobNodes. A job
// holds about 50 bytes per node when its nodes end together and 350 when
// each ends in its own record (BenchmarkJobMemory), so one user pins at
// most about 350 MB of the coordinator, however many jobs they submit;
// their finished jobs make room for their next ones.
const DefaultMaxUserNodes = protocol.DefaultMaxJobNodes

// makeRoom checks that user may add a job of n nodes: when their jobs
// already hold more than MaxUserNodes-n nodes, their finished jobs are
// forgotten first (ended longest ago first: what a later status or attach
// can no longer show), and if that is not enough the job is refused.
// Call with c.mu held.
func (c *Coordinator) makeRoom(user string, n int) error {
	held := 0
	var finished []*job
	var endedAt []time.Time
	for _, j := range c.jobs {
		if j.spec.User != user {
			continue
		}
		held += len(j.nodes)
		j.mu.Lock()
		if j.complete() && !j.ended.IsZero() {
			finished = append(finished, j)
			endedAt = append(endedAt, j.ended)
		}
		j.mu.Unlock()
	}
	if held+n <= c.cfg.MaxUserNodes {
		return nil
	}
	idx := make([]int, len(finished))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return endedAt[a].Compare(endedAt[b]) })
	for _, i := range idx {
		if held+n <= c.cfg.MaxUserNodes {
			break
		}
		j := finished[i]
		c.dropJob(j)
		held -= len(j.nodes)
		c.log.Info("finished job forgotten early: its user needs room", "job", j.spec.ID, "user", protocol.Truncate(user, protocol.MaxLogField), "nodes", len(j.nodes))
	}
	if held+n <= c.cfg.MaxUserNodes {
		return nil
	}
	return refusal(protocol.CodeTooManyNodes, "user %s has %d nodes in running jobs: a job of %d more is over the coordinator's limit of %d nodes per user (coordinator --max-user-nodes)",
		protocol.Truncate(user, protocol.MaxLogField), held, n, c.cfg.MaxUserNodes)
}
