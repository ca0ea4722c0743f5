package ops

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetsh/fleetsh/pkg/fleet/agent"
	"github.com/fleetsh/fleetsh/pkg/fleet/coordinator"
	"github.com/fleetsh/fleetsh/pkg/fleet/files"
)

// The metrics of copies through the fleet (docs/copy.md), read at a
// scrape like the others: the coordinator's file server counters and its
// chunk stream's usage, the agent's fetch counters and its cache.

// The coordinator's file metrics.
var (
	coordFileRequests = desc("fleetsh_coordinator_file_requests_total",
		"File requests answered, by op (has, put, get; other: of no known type, refused) and result (served, denied, busy, failed).", "op", "result")
	coordFileBytesIn = desc("fleetsh_coordinator_file_received_bytes_total",
		"Chunk bytes received into the file store (puts: pushes uploaded, nodes' copies sent back).")
	coordFileBytesOut = desc("fleetsh_coordinator_file_sent_bytes_total",
		"Chunk bytes read from the file store and sent (gets: agents fetching pushed trees, csub reading reverse copies).")
	coordFileStoreBytes = desc("fleetsh_coordinator_file_store_bytes",
		"Bytes the chunk stream of copies holds.")
	coordFileStoreChunks = desc("fleetsh_coordinator_file_store_chunks",
		"Chunks the chunk stream of copies holds.")
	coordFileStoreMax = desc("fleetsh_coordinator_file_store_max_bytes",
		"The chunk stream's bound (coordinator --files-max-bytes): once full, new chunks are refused until old ones expire.")
	coordFileDescs = []*prometheus.Desc{coordFileRequests, coordFileBytesIn, coordFileBytesOut,
		coordFileStoreBytes, coordFileStoreChunks, coordFileStoreMax}
)

// collectCoordFiles reports c's file metrics: none without a file store
// or before its server started.
func collectCoordFiles(c *coordinator.Coordinator, out sink, log *slog.Logger) {
	st, ok := c.FileStats()
	if !ok {
		return
	}
	for op := range st.Results {
		name := files.Op(op).String()
		if op == 0 {
			name = "other"
		}
		for r, n := range st.Results[op] {
			out.counter(coordFileRequests, n, name, files.Result(r).String())
		}
	}
	out.counter(coordFileBytesIn, st.BytesIn)
	out.counter(coordFileBytesOut, st.BytesOut)
	ctx, cancel := context.WithTimeout(context.Background(), storeWait)
	defer cancel()
	u, ok, err := c.FileStoreUsage(ctx)
	if err != nil {
		log.Warn("metrics: file store usage", "err", err)
	}
	if !ok || err != nil {
		return
	}
	out.gauge(coordFileStoreBytes, float64(u.Bytes))
	out.gauge(coordFileStoreChunks, float64(u.Chunks))
	out.gauge(coordFileStoreMax, float64(u.MaxBytes))
}

// The agent's file metrics.
var (
	agentFileChunks = desc("fleetsh_agent_file_chunks_total",
		"Chunks of pushed trees the agent needed, by source: coordinator (fetched) or cache (found on its disk).", "source")
	agentFileBytes = desc("fleetsh_agent_file_bytes_total",
		"Bytes of the chunks of pushed trees the agent needed, by source: coordinator (fetched) or cache (found on its disk).", "source")
	agentTreesBuilt = desc("fleetsh_agent_file_trees_built_total",
		"Pushed trees built on the gateway's disk from the cache (once per tree, whatever the shards copying it).")
	agentCopiesSent = desc("fleetsh_agent_file_copies_sent_total",
		"Nodes' copies of reverse copies (rcopy) sent back to the coordinator's file store.")
	agentCopyBytes = desc("fleetsh_agent_file_copy_sent_bytes_total",
		"Bytes of the nodes' copies sent back that the file store lacked.")
	agentCacheBytes = desc("fleetsh_agent_file_cache_bytes",
		"Bytes of chunks and built trees the agent's file cache holds (0 before its first copy).")
	agentCacheMax = desc("fleetsh_agent_file_cache_max_bytes",
		"The file cache's bound (agent --file-cache-size): past it, the least recently used chunks and trees are removed.")
	agentFileDescs = []*prometheus.Desc{agentFileChunks, agentFileBytes, agentTreesBuilt, agentCopiesSent,
		agentCopyBytes, agentCacheBytes, agentCacheMax}
)

// collectAgentFiles reports an agent's file metrics.
func collectAgentFiles(st agent.FileStats, out sink) {
	out.counter(agentFileChunks, st.FetchedChunks, "coordinator")
	out.counter(agentFileChunks, st.FoundChunks, "cache")
	out.counter(agentFileBytes, st.FetchedBytes, "coordinator")
	out.counter(agentFileBytes, st.FoundBytes, "cache")
	out.counter(agentTreesBuilt, st.TreesBuilt)
	out.counter(agentCopiesSent, st.CopiesSent)
	out.counter(agentCopyBytes, st.SentBytes)
	out.gauge(agentCacheBytes, float64(st.CacheBytes))
	out.gauge(agentCacheMax, float64(st.CacheMaxBytes))
}
