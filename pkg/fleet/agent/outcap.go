package agent

import (
	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// The output cap (protocol.JobSpec.MaxOutput) is applied where output
// enters the fleet: each shard's engine counts what every node prints
// (engine.Options.MaxOutput) and drops what passes the cap, so that the
// agent's buffer, the coordinator and the submitter never hold or carry
// more than the cap per node. A job's cap is lowered to the agent's
// ceiling (Config.MaxOutput): a job cannot make a gateway buffer more
// than its operator allows.

// DefaultMaxOutput is an agent's default ceiling on a node's output:
// 64 MiB. A gathering job (csub -b) holds each running node's output until
// the node ends, so at the default capacity (64 nodes at once) a shard
// holds at most 4 GiB whatever its job asks.
const DefaultMaxOutput int64 = 64 << 20

// fillMaxOutput applies MaxOutput's default and bound.
func (c *Config) fillMaxOutput() {
	if c.MaxOutput <= 0 {
		c.MaxOutput = DefaultMaxOutput
	}
	c.MaxOutput = min(c.MaxOutput, protocol.MaxOutputLimit)
}

// OnOutputCut queues the cut of a node's output after its lines: the
// command runs on, and its end follows as usual.
func (s *shard) OnOutputCut(_ *engine.Worker, key string, limit int64) {
	if idx := s.nodesOf(key); len(idx) > 0 {
		s.log.Debug("node output cut", "node", key, "limit", limit, "agent_ceiling", s.outputByAgent)
		s.buf.cut(idx, limit, s.outputByAgent)
	}
}

// cut queues a KindCut event for nodes idx. No line joins a record queued
// before it any more, so it stays after the lines it follows. With
// gathering, the node's standard output is still held and comes at its
// end, after the cut.
func (b *buffer) cut(idx []uint32, limit int64, byAgent bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.push(protocol.CutEvent(append([]uint32(nil), idx...), limit, byAgent))
	b.tail = -1
	b.pressure()
}
