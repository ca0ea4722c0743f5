package coordinator

import (
	"context"
	"slices"
	"sync/atomic"
	"time"

	"github.com/fleetsh/fleetsh/pkg/fleet/files"
	"github.com/fleetsh/fleetsh/pkg/fleet/store"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// What the coordinator counts for its metrics (pkg/fleet/ops): Stats,
// counted under c.mu where onEvents takes it anyway, node ends counted
// with atomics where they happen (under a job's lock), and Load, read
// from the registry when asked.

// The states of a job that Load counts.
const (
	JobRunning   = "running"   // some node has no final state yet
	JobDone      = "done"      // every node ended, without a cancel
	JobCancelled = "cancelled" // every node ended, after a cancel
)

// nodeEnds counts the nodes that ended, per final state (the index of
// protocol.States; a state not there counts as StateError), and those
// that failed (ended other than exited with status 0).
type nodeEnds struct {
	by     [16]atomic.Uint64
	failed atomic.Uint64
}

// stateIndex is st's index in protocol.States, StateError's for a state
// it does not list (only a peer inventing states sends those).
func stateIndex(st protocol.State) int {
	if i := slices.Index(protocol.States, st); i >= 0 {
		return i
	}
	return slices.Index(protocol.States, protocol.StateError)
}

// ended counts n nodes ending in st with exit code code.
func (e *nodeEnds) ended(st protocol.State, code, n int) {
	if n == 0 {
		return
	}
	e.by[stateIndex(st)].Add(uint64(n))
	if st != protocol.StateExited || code != 0 {
		e.failed.Add(uint64(n))
	}
}

// NodesEnded returns how many nodes ended since the coordinator started,
// per final state, and how many of them failed (ended other than exited
// with status 0). Nodes of resumed jobs that ended before the restart are
// not counted.
func (c *Coordinator) NodesEnded() (by map[protocol.State]uint64, failed uint64) {
	by = make(map[protocol.State]uint64, len(protocol.States))
	for i, st := range protocol.States {
		by[st] = c.ends.by[i].Load()
	}
	return by, c.ends.failed.Load()
}

// Load is what the coordinator holds now.
type Load struct {
	// Jobs counts the jobs of the registry per state (JobRunning,
	// JobDone, JobCancelled), finished jobs kept in the Store and not
	// loaded included (cancelled when one of their nodes was).
	Jobs map[string]int
	// Shards counts the shards in flight: dispatched to an agent, whose
	// summary was not reconciled, of an agent not declared lost.
	Shards int
	// Streams counts the output streams open to submitters and to
	// attached readers (csub attach), detached ones left out.
	Streams int
	// Reconnects counts the NATS connection's reconnections.
	Reconnects uint64
}

// Load returns what the coordinator holds now. It takes each job's lock
// in turn: call it at a scrape, not on a hot path.
func (c *Coordinator) Load() Load {
	l := Load{Jobs: map[string]int{JobRunning: 0, JobDone: 0, JobCancelled: 0}, Reconnects: c.nc.Stats().Reconnects}
	c.mu.Lock()
	jobs := c.activeJobs()
	for _, r := range c.finished {
		if r.Finals[protocol.StateCancel] > 0 {
			l.Jobs[JobCancelled]++
		} else {
			l.Jobs[JobDone]++
		}
	}
	c.mu.Unlock()
	for _, j := range jobs {
		j.mu.Lock()
		switch {
		case !j.complete():
			l.Jobs[JobRunning]++
		case j.cancelled:
			l.Jobs[JobCancelled]++
		default:
			l.Jobs[JobDone]++
		}
		for _, s := range j.shards {
			if !s.dead && !s.done {
				l.Shards++
			}
		}
		for _, f := range j.followers {
			if !f.detached {
				l.Streams++
			}
		}
		j.mu.Unlock()
	}
	return l
}

// observeMerge reports to Config.ObserveMerge the time since a batch
// arrived.
func (c *Coordinator) observeMerge(arrived time.Time) {
	if c.cfg.ObserveMerge != nil {
		c.cfg.ObserveMerge(time.Since(arrived))
	}
}

// StoreUsage asks JetStream what the Store's streams hold (store.Usage;
// none without a Store). It makes a request per stream: call it at a
// scrape.
func (c *Coordinator) StoreUsage(ctx context.Context) ([]store.Usage, error) {
	if c.cfg.Store == nil {
		return nil, nil
	}
	return c.cfg.Store.Usage(ctx)
}

// FileStats returns the counters of the file requests served (false
// before Run started serving them, or without a file store).
func (c *Coordinator) FileStats() (files.Stats, bool) {
	srv := c.files.Load()
	if srv == nil {
		return files.Stats{}, false
	}
	return srv.Stats(), true
}

// FileStoreUsage is what the chunk store of copies holds.
type FileStoreUsage struct {
	// Bytes and Chunks are what it holds; MaxBytes its bound, past which
	// new chunks are refused.
	Bytes, Chunks, MaxBytes int64
}

// FileStoreUsage asks JetStream what the chunk store holds (false for a
// store that is no files.Stream, or none). It makes a request: call it
// at a scrape.
func (c *Coordinator) FileStoreUsage(ctx context.Context) (FileStoreUsage, bool, error) {
	s, ok := c.cfg.Files.(*files.Stream)
	if !ok {
		return FileStoreUsage{}, false, nil
	}
	bytes, chunks, err := s.Usage(ctx)
	if err != nil {
		return FileStoreUsage{}, true, err
	}
	return FileStoreUsage{Bytes: bytes, Chunks: chunks, MaxBytes: s.Config().MaxBytes}, true, nil
}
