package coordinator

import (
	"fmt"

	"github.com/fleetsh/fleetsh/pkg/fleet/audit"
	"github.com/fleetsh/fleetsh/pkg/fleet/policy"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// The authorization policy and the audit log (Config.Policy and
// Config.Audit). Every job is checked at submit once spec.User holds the
// submitter's identity and the node set is parsed, before anything runs;
// a denial is a SubmitReply with protocol.CodeDenied and the policy's
// one-line reason, a WARN log line and a "denied" audit record. An
// allowed job's "accepted" record is on disk (fsynced) before the job is
// answered or dispatched: a job whose record cannot be written is
// refused. Its "ended" record follows when every node has a final state.

// authorize decides whether spec may run on set. A denial is logged and
// audited, and returned as an error with protocol.CodeDenied.
func (c *Coordinator) authorize(spec *protocol.JobSpec, set *nodeset.NodeSet) (policy.Decision, error) {
	d := c.cfg.Policy.Check(policy.FromSpec(spec, set))
	if d.Allowed {
		return d, nil
	}
	c.log.Warn("job denied", "job", spec.ID, "user", spec.User, "reason", d.Reason)
	if c.cfg.Audit != nil {
		rec := audit.FromSpec(audit.Denied, spec, set.Len())
		rec.Decision, rec.Reason = "deny", d.Reason
		if err := c.cfg.Audit.Write(rec); err != nil {
			c.log.Error("audit log: the denial of a job is not recorded", "job", spec.ID, "err", err)
		}
	}
	return d, d.Err()
}

// auditAccepted writes j's accepted record; the job must not start
// unless it returns nil.
func (c *Coordinator) auditAccepted(j *job) error {
	if c.cfg.Audit == nil {
		return nil
	}
	rec := audit.FromSpec(audit.Accepted, &j.spec, len(j.nodes))
	rec.Time = j.created.UTC()
	rec.Decision, rec.Rule = "allow", j.rule
	rec.Reason = fmt.Sprintf("allowed by policy rule %q", j.rule)
	if err := c.cfg.Audit.Write(rec); err != nil {
		c.log.Error("job refused: its audit record cannot be written", "job", j.spec.ID, "err", err)
		return refusal(protocol.CodeRefused, "job %s refused: the coordinator cannot write its audit log", j.spec.ID)
	}
	return nil
}

// forget drops a job that never started (its audit record failed).
func (c *Coordinator) forget(j *job) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.jobs[j.spec.ID] == j {
		delete(c.jobs, j.spec.ID)
	}
}

// auditEnded writes j's ended record: its final states and duration.
func (c *Coordinator) auditEnded(j *job) {
	if c.cfg.Audit == nil {
		return
	}
	j.mu.Lock()
	rec := audit.FromSpec(audit.Ended, &j.spec, len(j.nodes))
	rec.Time = j.ended.UTC()
	rec.Finals = j.track.Finals()
	rec.DurationMS = j.ended.Sub(j.created).Milliseconds()
	j.mu.Unlock()
	if err := c.cfg.Audit.Write(rec); err != nil {
		c.log.Error("audit log: the end of a job is not recorded", "job", j.spec.ID, "err", err)
	}
}

// allowAction decides whether user may take the fleet admin action a
// (every job's list or status, another's cancel or attach, the agents):
// nil, or a denial with protocol.CodeDenied, logged at WARN.
func (c *Coordinator) allowAction(user string, a policy.Action) error {
	d := c.cfg.Policy.Allow(user, a)
	if !d.Allowed {
		c.log.Warn("admin action denied", "user", user, "action", a, "reason", d.Reason)
	}
	return d.Err()
}
