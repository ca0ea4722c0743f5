package daemon

import (
	"context"
	"errors"
)

// Alive returns nil once the main loop of each part has answered a
// probe (coordinator.Coordinator.Probe, agent.Agent.Probe): none is
// stuck. It returns an error when a part has stopped or ctx ends first.
// The daemons' systemd watchdog pings only after it (internal/cliconf).
func (f *Fleet) Alive(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-f.stopped:
			cancel()
		case <-ctx.Done():
		}
	}()
	var probes []func(context.Context) error
	if f.coord != nil {
		probes = append(probes, f.coord.Probe)
	}
	if f.agent != nil {
		probes = append(probes, f.agent.Probe)
	}
	for _, probe := range probes {
		if err := probe(ctx); err != nil {
			select {
			case <-f.stopped:
				return f.why("not alive: a part stopped")
			default:
			}
			return err
		}
	}
	if len(probes) == 0 {
		return errors.New("not alive: no part runs")
	}
	return nil
}

// Registered is closed once the fleet's agent has been welcomed by a
// coordinator; nil (never closed) when the process runs no agent.
func (f *Fleet) Registered() <-chan struct{} {
	if f.agent == nil {
		return nil
	}
	return f.agent.Registered()
}
