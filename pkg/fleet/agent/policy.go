package agent

import (
	"fmt"

	"github.com/fleetsh/fleetsh/pkg/fleet/policy"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// authorize re-checks a shard against the agent's own policy
// (Config.Policy) before anything of it runs: the job's user, command or
// copy, worker and the shard's nodes. A job that names no worker is
// checked under the name of this agent's default worker, so an agent
// whose default is exec needs a rule allowing exec. A denial has
// protocol.CodeDenied; the coordinator ends the shard's nodes with it.
// Without a policy the agent trusts the coordinator's decision.
func (a *Agent) authorize(sh *protocol.Shard) error {
	if a.cfg.Policy == nil {
		return nil
	}
	set, err := nodeset.Parse(sh.Nodes)
	if err != nil {
		return fmt.Errorf("agent %s: shard %s: nodes: %w", a.cfg.Name, sh.Key(), err)
	}
	req := policy.FromSpec(&sh.Spec, set)
	if req.Worker == "" {
		req.Worker = a.cfg.Worker
	}
	d := a.cfg.Policy.Check(req)
	if d.Allowed {
		return nil
	}
	return &protocol.CodedError{Code: protocol.CodeDenied, Err: fmt.Errorf("agent %s: %s", a.cfg.Name, d.Reason)}
}
