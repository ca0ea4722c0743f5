package agent

import (
	"sync/atomic"
	"time"

	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/fleet/files"
)

// Stats is what an agent did and holds, for its metrics (pkg/fleet/ops):
// counters since it started, and gauges read when Stats is called.
type Stats struct {
	// Registered says a coordinator welcomed the agent (it stays true
	// across NATS outages: the agent's heartbeats register it again).
	Registered bool
	// Connected says its NATS connection is up.
	Connected bool
	// Shards is the number of shards it holds; NodesRunning the nodes
	// started and not ended in them; Fanout the commands they may run at
	// once together (each shard's fanout); Capacity the agent's fanout,
	// the most one shard may have (Config.Capacity).
	Shards, NodesRunning, Fanout, Capacity int
	// BatchesSent and BytesSent count the event batches published, and
	// their bytes, resends included; BatchesResent the resends (an ack
	// overdue, a retransmit request, a NATS reconnection, a summary's
	// missing list).
	BatchesSent, BytesSent, BatchesResent uint64
	// SpilledBytes counts the bytes of batches ever written to spill files.
	SpilledBytes int64
	// Heartbeats counts the heartbeats published.
	Heartbeats uint64
	// Reconnects counts the NATS connection's reconnections.
	Reconnects uint64
	// Files is what copies through the fleet moved (files.go).
	Files FileStats
}

// FileStats is what an agent's copies through the fleet moved since it
// started, and what its file cache holds.
type FileStats struct {
	// FetchedChunks and FetchedBytes are the chunks of pushed trees got
	// from the coordinator; FoundChunks and FoundBytes those the cache
	// held already. A fetch another shard's fetch of the same tree did
	// is counted once.
	FetchedChunks, FetchedBytes, FoundChunks, FoundBytes uint64
	// TreesBuilt counts the trees built on the gateway's disk from the
	// cache (once per tree, whatever the shards copying it).
	TreesBuilt uint64
	// CopiesSent counts the nodes' copies of reverse copies sent back to
	// the coordinator's store; SentBytes the bytes the store lacked.
	CopiesSent, SentBytes uint64
	// CacheBytes is what the cache holds now (0 before the first copy
	// opened it); CacheMaxBytes its bound (Config.FileCache.MaxBytes).
	CacheBytes, CacheMaxBytes int64
}

// counters are the agent's counters, updated without a lock on the
// paths that send batches and heartbeats.
type counters struct {
	batches, bytes, resent, heartbeats atomic.Uint64
	// What copies through the fleet moved (files.go).
	fetchedChunks, fetchedBytes, foundChunks, foundBytes atomic.Uint64
	copies, copyBytes                                    atomic.Uint64
}

// sent counts a batch of size bytes published; resent says it was sent
// before.
func (c *counters) sent(size int, resent bool) {
	c.batches.Add(1)
	c.bytes.Add(uint64(size))
	if resent {
		c.resent.Add(1)
	}
}

// fetched counts what a Fetch of a pushed tree moved, unless another
// Fetch did the work (and counts it).
func (c *counters) fetched(st files.FetchStats) {
	if st.Joined {
		return
	}
	c.fetchedChunks.Add(uint64(st.Fetched))
	c.fetchedBytes.Add(uint64(st.FetchedBytes))
	c.foundChunks.Add(uint64(st.Found))
	c.foundBytes.Add(uint64(st.FoundBytes))
}

// fileStats reads the counters of copies and the cache.
func (a *Agent) fileStats() FileStats {
	c := &a.count
	st := FileStats{FetchedChunks: c.fetchedChunks.Load(), FetchedBytes: c.fetchedBytes.Load(),
		FoundChunks: c.foundChunks.Load(), FoundBytes: c.foundBytes.Load(),
		CopiesSent: c.copies.Load(), SentBytes: c.copyBytes.Load(), CacheMaxBytes: a.cfg.FileCache.MaxBytes}
	if st.CacheMaxBytes <= 0 {
		st.CacheMaxBytes = files.DefaultCacheBytes
	}
	a.cacheMu.Lock()
	defer a.cacheMu.Unlock()
	if a.cache != nil {
		st.CacheBytes, st.TreesBuilt = a.cache.Bytes(), a.cache.Built()
	}
	return st
}

// isRegistered reports whether a coordinator welcomed the agent.
func (a *Agent) isRegistered() bool {
	select {
	case <-a.registered:
		return true
	default:
		return false
	}
}

// Stats returns the agent's counters and what it holds now.
func (a *Agent) Stats() Stats {
	st := Stats{Registered: a.isRegistered(), Connected: a.nc.IsConnected(), Capacity: a.cfg.Capacity,
		BatchesSent: a.count.batches.Load(), BytesSent: a.count.bytes.Load(), BatchesResent: a.count.resent.Load(),
		Heartbeats: a.count.heartbeats.Load(), Reconnects: a.nc.Stats().Reconnects}
	st.SpilledBytes, _ = a.keep.stats()
	st.Files = a.fileStats()
	a.mu.Lock()
	defer a.mu.Unlock()
	st.Shards = len(a.shards)
	for _, s := range a.shards {
		st.NodesRunning += int(s.running.Load())
		st.Fanout += s.fanout
	}
	return st
}

// observer returns the engine's Observe for a shard run by driver: it
// names the driver to Config.Observe (nil without one).
func (a *Agent) observer(driver string) func(engine.Stage, time.Duration) {
	obs := a.cfg.Observe
	if obs == nil {
		return nil
	}
	return func(stage engine.Stage, d time.Duration) { obs(driver, stage, d) }
}
