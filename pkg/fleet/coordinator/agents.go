package coordinator

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fleetsh/fleetsh/pkg/fleet/store"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// localGroup names the group of nodes under no gateway.
const localGroup = ""

func groupName(g string) string {
	if g == localGroup {
		return "(local)"
	}
	return g
}

// agent is a registered agent: its status as JobsAgents reports it
// (Served: the groups it serves), and its load. Guarded by
// Coordinator.mu.
type agent struct {
	protocol.AgentStatus
	assigned int // nodes in its live shards (for balancing)
	// restored: known only from a resumed job's shards (resume.go), not
	// heard since the restart; lost after LostAfter unless it is.
	restored bool
}

// groupsOf decides which gateway groups an agent serves.
func (c *Coordinator) groupsOf(h protocol.Hello) ([]string, error) {
	if h.Local {
		return []string{localGroup}, nil
	}
	if c.cfg.Router == nil {
		return nil, refusal(protocol.CodeRefused, "agent %s (%s): the coordinator has no topology, so only --local agents can serve", h.Agent, h.Name)
	}
	if len(h.Groups) > 0 {
		for _, g := range h.Groups {
			if !c.cfg.Router.HasGroup(g) {
				return nil, refusal(protocol.CodeRefused, "agent %s (%s): gateway group %q is not in the topology", h.Agent, h.Name, g)
			}
		}
		return slices.Clone(h.Groups), nil
	}
	gs := c.cfg.Router.GroupsOfGateway(h.Name)
	if len(gs) == 0 {
		return nil, refusal(protocol.CodeRefused, "agent %s: %q is a gateway of no route in the topology (name it with --name, or run it with --local)", h.Agent, h.Name)
	}
	return gs, nil
}

// AgentGrant is what an agent's credential lets it serve (see
// Config.Agents).
type AgentGrant struct {
	// Name is the gateway name the agent must say in its Hello ("": any).
	Name string
	// Groups are the gateway groups it may serve (empty: every group of
	// its Name).
	Groups []string
	// Local lets it serve the nodes under no gateway.
	Local bool
}

// granted checks a Hello against the agent's grant, and narrows the
// groups it asks for to those granted. Call with c.mu held.
func (c *Coordinator) granted(h *protocol.Hello) error {
	if c.cfg.Agents == nil {
		return nil
	}
	g, ok := c.cfg.Agents[h.Agent]
	switch {
	case !ok:
		return refusal(protocol.CodeRefused, "agent %s: no credential of the site names this agent", h.Agent)
	case h.Local && !g.Local:
		return refusal(protocol.CodeRefused, "agent %s: its credential does not let it serve the nodes under no gateway (--local)", h.Agent)
	case g.Name != "" && h.Name != g.Name:
		return refusal(protocol.CodeRefused, "agent %s: says it is gateway %q, its credential names %q", h.Agent, h.Name, g.Name)
	}
	if len(g.Groups) == 0 || h.Local {
		return nil
	}
	if len(h.Groups) == 0 {
		h.Groups = slices.Clone(g.Groups)
		return nil
	}
	for _, grp := range h.Groups {
		if !slices.Contains(g.Groups, grp) {
			return refusal(protocol.CodeRefused, "agent %s: asks for gateway group %q, its credential grants %s", h.Agent, grp, strings.Join(g.Groups, ","))
		}
	}
	return nil
}

// seen records an agent's hello or heartbeat. Call with c.mu held.
func (c *Coordinator) seen(h protocol.Hello) (*agent, error) {
	if err := c.granted(&h); err != nil {
		return nil, err
	}
	if h.Capacity > c.cfg.MaxCapacity {
		h.Capacity = c.cfg.MaxCapacity
	}
	a := c.agents[h.Agent]
	if a == nil || a.Lost || a.restored {
		groups, err := c.groupsOf(h)
		if err != nil {
			return nil, err
		}
		assigned := 0
		switch {
		case a != nil && a.Lost:
			c.log.Info("agent is back", "agent", h.Agent, "name", h.Name)
		case a != nil:
			assigned = a.assigned // its shards of resumed jobs
			c.log.Info("agent of resumed jobs registered", "agent", h.Agent, "name", h.Name, "groups", groupNames(groups))
		default:
			c.log.Info("agent registered", "agent", h.Agent, "name", h.Name, "groups", groupNames(groups), "capacity", h.Capacity,
				"release", h.Release)
		}
		a = &agent{AgentStatus: protocol.AgentStatus{Hello: h, Served: groups}, assigned: assigned}
		c.agents[h.Agent] = a
	}
	a.LastSeen = time.Now()
	return a, nil
}

func groupNames(gs []string) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = groupName(g)
	}
	return out
}

// unassign takes s's nodes off its agent's load: the shard ended, was
// given up or refused. Call without c.mu held.
func (c *Coordinator) unassign(s *shard) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.agents[s.agent]; a != nil {
		a.assigned -= len(s.nodes)
	}
}

// liveAgents returns the agents that can take new shards of group, least
// loaded first. Call with c.mu held.
func (c *Coordinator) liveAgents(group string) []*agent {
	var out []*agent
	for _, a := range c.agents {
		if !a.Lost && !a.Draining && slices.Contains(a.Served, group) {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, k int) bool {
		li := float64(out[i].assigned) / float64(max(out[i].Hello.Capacity, 1))
		lk := float64(out[k].assigned) / float64(max(out[k].Hello.Capacity, 1))
		if li != lk {
			return li < lk
		}
		return out[i].Hello.Agent < out[k].Hello.Agent
	})
	return out
}

// checkLiveness declares lost the agents whose heartbeats stopped. A
// coordinator that was itself cut from NATS heard nobody meanwhile, so
// the silence counts only from its reconnection.
func (c *Coordinator) checkLiveness(now time.Time) {
	if !c.nc.IsConnected() {
		// Cut from NATS, the coordinator hears nobody: that silence is
		// its own, not its agents'. Their clocks restart at the
		// reconnection (reconnectedAt).
		return
	}
	c.mu.Lock()
	var lost []string
	for id, a := range c.agents {
		if a.Lost {
			continue
		}
		if c.silence(now, a.LastSeen) > c.cfg.LostAfter {
			a.Lost = true
			lost = append(lost, id)
			c.log.Warn("agent lost: no heartbeat", "agent", id, "name", a.Hello.Name, "silent", now.Sub(a.LastSeen).Round(time.Millisecond))
		}
	}
	jobs := c.activeJobs()
	c.mu.Unlock()
	for _, id := range lost {
		for _, j := range jobs {
			c.agentLost(j, id)
		}
	}
}

// agentLost settles the shards a lost agent held in job j: nodes that
// never started go to another live agent of their group; started ones
// end as "gateway lost" unless the job may run them again.
func (c *Coordinator) agentLost(j *job, id string) {
	j.mu.Lock()
	var redo map[string][]uint32 // group → nodes
	for _, s := range j.shards {
		if s.agent != id || s.dead || s.done {
			continue
		}
		if nodes := j.giveUp(s, fmt.Sprintf("gateway agent %s lost while the command ran", id)); len(nodes) > 0 {
			if redo == nil {
				redo = make(map[string][]uint32)
			}
			redo[s.group] = append(redo[s.group], nodes...)
		}
	}
	if j.cancelled {
		j.cancelUnstarted()
	}
	j.mu.Unlock()
	for g, nodes := range redo {
		c.dispatch(j, g, nodes, id)
	}
	c.checkDone(j)
}

// giveUp ends shard s: its nodes that started end as "gateway lost" with
// why (unless the job may run them again); it returns those to run again
// elsewhere. Call with j.mu held.
func (j *job) giveUp(s *shard, why string) (redo []uint32) {
	s.dead = true
	j.journalShard(s, store.ShardDead)
	var lostNodes []uint32
	for _, n := range s.nodes {
		if !j.runs(s, n) {
			continue
		}
		if j.track.Phase(n) == protocol.PhaseRunning && !j.spec.RerunOnLoss {
			lostNodes = append(lostNodes, n)
			continue
		}
		if !j.cancelled {
			redo = append(redo, n)
		}
	}
	if len(lostNodes) > 0 {
		j.finishMany(lostNodes, protocol.StateLost, why)
	}
	return redo
}

// Agents lists the agents the coordinator knows, live or lost, by id: what
// a JobsAgents request answers.
func (c *Coordinator) Agents() []protocol.AgentStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]protocol.AgentStatus, 0, len(c.agents))
	for _, a := range c.agents {
		if a.restored {
			continue // not heard since the restart
		}
		st := a.AgentStatus
		st.Served = slices.Clone(a.Served)
		if a.Load != nil {
			load := *a.Load // the reply is encoded after c.mu is released
			st.Load = &load
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b protocol.AgentStatus) int { return strings.Compare(a.Agent, b.Agent) })
	return out
}
