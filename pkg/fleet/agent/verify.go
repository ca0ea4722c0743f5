package agent

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// open checks a shard request and returns its shard: signed by a
// coordinator key the agent trusts, addressed to this agent, valid now
// (protocol.Verifier.Open), and never received before (the replay
// cache). None of it asks the coordinator: the check holds while it is
// down. Every refusal is a *protocol.CodedError naming the shard.
func (a *Agent) open(m *nats.Msg) (*protocol.Shard, error) {
	now := time.Now()
	g, err := a.verify.Open(m.Data, now)
	if err != nil {
		return nil, fmt.Errorf("agent %s: %w", a.cfg.Name, err)
	}
	// Kept until the grant can no longer pass the validity check.
	a.mu.Lock()
	res := a.replay.add(g.ReplayKey(), g.Expires.Add(a.verify.Skew()), now)
	a.mu.Unlock()
	switch res {
	case replayed:
		return nil, &protocol.CodedError{Code: protocol.CodeReplayed, Err: fmt.Errorf(
			"agent %s: shard %s (nonce %s) was received before: a replay, refused", a.cfg.Name, g.Shard.Key(), g.Nonce)}
	case full:
		return nil, &protocol.CodedError{Code: protocol.CodeBusy, Err: fmt.Errorf(
			"agent %s: replay cache full (%d unexpired shards): shard %s refused", a.cfg.Name, maxReplayKeys, g.Shard.Key())}
	}
	return &g.Shard, nil
}
