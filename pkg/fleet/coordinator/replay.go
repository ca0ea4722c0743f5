package coordinator

import (
	"slices"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// trimReplay keeps the output lines logged for `csub attach` by all jobs
// under MaxReplayTotal: MaxReplay bounds one job, but finished jobs stay
// KeepJobs, and many users' jobs would otherwise add up without limit.
// Finished jobs lose their lines first, the longest finished first; their
// starts and final states stay (a later attach still shows how every node
// ended, as for a job over MaxReplay). Running jobs are left alone: their
// followers may still need the log, and each is bounded by MaxReplay.
func (c *Coordinator) trimReplay(jobs []*job) {
	type entry struct {
		j     *job
		lines int // bytes of line records in its log
	}
	total := 0
	var done []entry
	for _, j := range jobs {
		j.mu.Lock()
		total += j.logBytes
		if j.complete() && !j.ended.IsZero() {
			if n := j.lineBytes(); n > 0 {
				done = append(done, entry{j, n})
			}
		}
		j.mu.Unlock()
	}
	if total <= c.cfg.MaxReplayTotal {
		return
	}
	slices.SortFunc(done, func(a, b entry) int { return a.j.ended.Compare(b.j.ended) })
	for _, e := range done {
		if total <= c.cfg.MaxReplayTotal {
			break
		}
		e.j.mu.Lock()
		freed := e.j.dropLines()
		e.j.mu.Unlock()
		total -= freed
		c.log.Info("replay of a finished job dropped to stay under the total limit",
			"job", e.j.spec.ID, "bytes", freed, "limit", c.cfg.MaxReplayTotal)
	}
}

// isLine tells the records a finished job's replay may drop: output and
// debug lines.
func isLine(r *protocol.Event) bool {
	return r.Kind == protocol.KindStdout || r.Kind == protocol.KindStderr || r.Kind == protocol.KindDebug
}

// lineBytes returns the bytes of output lines in the log. Call with j.mu
// held.
func (j *job) lineBytes() int {
	n := 0
	for i := range j.log {
		if isLine(&j.log[i]) {
			n += j.log[i].Size()
		}
	}
	return n
}

// dropLines removes the output lines from the log, keeping starts and
// ends (and their indexes: a later attach shows the gaps), and returns
// the bytes freed. Call with j.mu held.
func (j *job) dropLines() int {
	kept := make([]protocol.Event, 0, len(j.log)/2)
	keptIdx := make([]uint64, 0, len(j.log)/2)
	size := 0
	for k, r := range j.log {
		if !isLine(&r) {
			kept = append(kept, r)
			keptIdx = append(keptIdx, j.logIdx[k])
			size += r.Size()
		}
	}
	freed := j.logBytes - size
	j.log, j.logIdx, j.logBytes, j.logFull = kept, keptIdx, size, true
	return freed
}
