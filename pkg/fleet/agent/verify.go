package agent

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// ParseCoordinatorKey checks that k is a public nkey that can verify
// signatures (not a seed, not a curve key) and returns its verifier.
func ParseCoordinatorKey(k string) (protocol.KeyVerifier, error) {
	if !nkeys.IsValidPublicKey(k) || nkeys.Prefix(k) == nkeys.PrefixByteCurve {
		return nil, fmt.Errorf("coordinator key %.12q...: not a public nkey", k)
	}
	kp, err := nkeys.FromPublicKey(k)
	if err != nil {
		return nil, fmt.Errorf("coordinator key %.12q...: %w", k, err)
	}
	return kp, nil
}

// newVerifier returns the verifier of cfg's shards.
func newVerifier(cfg *Config) (*protocol.Verifier, error) {
	keys := make(map[string]protocol.KeyVerifier, len(cfg.CoordinatorKeys))
	for _, k := range cfg.CoordinatorKeys {
		kv, err := ParseCoordinatorKey(k)
		if err != nil {
			return nil, err
		}
		keys[k] = kv
	}
	return protocol.NewVerifier(cfg.ID, keys, cfg.ClockSkew)
}

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
