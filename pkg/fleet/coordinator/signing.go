package coordinator

import (
	"fmt"

	"github.com/nats-io/nkeys"
)

// signingKey checks cfg's signing key, making an ephemeral one when none
// is set, and returns its public key.
func signingKey(cfg *Config) (string, error) {
	if cfg.SigningKey == nil {
		kp, err := nkeys.CreateUser()
		if err != nil {
			return "", fmt.Errorf("coordinator: ephemeral signing key: %w", err)
		}
		cfg.SigningKey = kp
		pub, _ := kp.PublicKey()
		cfg.Logger.Info("no signing key configured: shards are signed with an ephemeral key, new at every start; agents of other processes need it (agent --coordinator-key)",
			"coordinator_key", pub)
		return pub, nil
	}
	pub, err := cfg.SigningKey.PublicKey()
	if err != nil {
		return "", fmt.Errorf("coordinator: signing key: %w", err)
	}
	// A key that cannot sign (a public key alone, a curve key) would
	// refuse every shard at dispatch: say so at start.
	if _, err := cfg.SigningKey.Sign([]byte("probe")); err != nil {
		return "", fmt.Errorf("coordinator: signing key %s cannot sign: %w", pub, err)
	}
	cfg.Logger.Info("signing shards", "coordinator_key", pub)
	return pub, nil
}

// PublicKey returns the public nkey the coordinator signs shards with:
// the key its agents must trust (agent.Config.CoordinatorKeys).
func (c *Coordinator) PublicKey() string { return c.pub }
