package coordinator

import (
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// A JobSpec whose folded node set does not fit in one message comes in
// protocol.SubmitParts first (see its doc). The coordinator keeps the
// parts of a job until its JobSpec arrives, within bounds: at most
// protocol.MaxSubmitParts parts and protocol.MaxSubmitBytes bytes per job,
// maxStagedTotal over all jobs, and for partsTTL.

// partsTTL is how long parts wait for their JobSpec.
const partsTTL = time.Minute

// maxStagedTotal bounds the bytes of parts held for all jobs together.
const maxStagedTotal = 4 * protocol.MaxSubmitBytes

// staged is the parts of one job received so far.
type staged struct {
	parts []string
	bytes int
	at    time.Time // the last part's arrival
}

// onSubmitPart stores one part of a job's node set.
func (c *Coordinator) onSubmitPart(m *nats.Msg) {
	var p protocol.SubmitPart
	err := protocol.Unmarshal(m.Data, &p)
	if err == nil {
		err = c.stage(p, time.Now())
	}
	reply := protocol.SubmitReply{Job: p.Job}
	if err != nil {
		reply.Error, reply.Code = protocol.Failure(err)
	}
	_ = wire.Respond(m, protocol.TypeSubmitReply, reply)
}

func (c *Coordinator) stage(p protocol.SubmitPart, now time.Time) error {
	if err := protocol.ValidID(p.Job); err != nil {
		return fmt.Errorf("job id: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireParts(now)
	if c.jobs[p.Job] != nil {
		return refusal(protocol.CodeJobExists, "job %s exists already", p.Job)
	}
	st := c.staged[p.Job]
	if st == nil {
		st = &staged{}
	}
	n := len(st.parts)
	switch {
	case p.Part == n-1 && st.parts[n-1] == p.Nodes:
		st.at = now // a repeated request: its reply was lost
		return nil
	case p.Part != n:
		return fmt.Errorf("job %s: node set part %d arrived, expected part %d", p.Job, p.Part, n)
	case n >= protocol.MaxSubmitParts:
		return fmt.Errorf("job %s: node set in more than %d parts", p.Job, protocol.MaxSubmitParts)
	case st.bytes+len(p.Nodes) > protocol.MaxSubmitBytes:
		return fmt.Errorf("job %s: folded node set over %d bytes", p.Job, protocol.MaxSubmitBytes)
	case c.stagedBytes+len(p.Nodes) > maxStagedTotal:
		return refusal(protocol.CodeBusy, "job %s: the coordinator holds %d bytes of node sets of jobs being submitted: try again later", p.Job, c.stagedBytes)
	}
	st.parts = append(st.parts, p.Nodes)
	st.bytes += len(p.Nodes)
	st.at = now
	c.stagedBytes += len(p.Nodes)
	c.staged[p.Job] = st
	return nil
}

// joinParts replaces a JobSpec's NodeParts by the node set its parts
// carried, forgetting them.
func (c *Coordinator) joinParts(spec *protocol.JobSpec) error {
	if spec.NodeParts == 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.staged[spec.ID]
	delete(c.staged, spec.ID)
	got := 0
	if st != nil {
		got = len(st.parts)
		c.stagedBytes -= st.bytes
	}
	if spec.Nodes != "" || got != spec.NodeParts {
		return fmt.Errorf("job nodes: the spec says %d parts, %d arrived", spec.NodeParts, got)
	}
	spec.Nodes, spec.NodeParts = strings.Join(st.parts, ""), 0
	return nil
}

// expireParts forgets parts whose JobSpec did not follow. Call with c.mu
// held.
func (c *Coordinator) expireParts(now time.Time) {
	for id, st := range c.staged {
		if now.Sub(st.at) > partsTTL {
			c.stagedBytes -= st.bytes
			delete(c.staged, id)
		}
	}
}
