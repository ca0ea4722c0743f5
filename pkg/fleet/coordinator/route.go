package coordinator

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Submits and registry requests reach one coordinator of the queue group
// (protocol.CoordinatorQueue). What it cannot answer alone it forwards on
// Subjects.Forward(peer), the request as it came with the subject it came
// on in protocol.HeaderSubject (the subject names the sender; only
// coordinators may publish on Forward):
//
//   - a job's node set in parts (SubmitPart, then the JobSpec with
//     NodeParts) is put together by one coordinator whatever the queue
//     group picks: the live coordinator the job id hashes highest with
//     (stagingOwner), which answers the submitter itself;
//   - `list` gathers the jobs of every live coordinator, this one's
//     included (it asks itself the same way);
//   - status, cancel and attach of a job this coordinator does not hold
//     go to every live peer; the reply of the one that holds it is
//     passed on (the others answer unknown_job), else this one answers.

// routeSubmit takes a submit from the queue group.
func (c *Coordinator) routeSubmit(m *nats.Msg) {
	if to := c.stagingOwner(m); to != "" && to != c.cfg.ID {
		if err := c.forward(m, to, m.Reply); err == nil {
			return
		}
	}
	c.onSubmit(m)
}

// stagingOwner names the coordinator that puts together the parts of the
// job m submits ("" for a job in one message, or with no live peer).
func (c *Coordinator) stagingOwner(m *nats.Msg) string {
	peers := c.livePeers()
	if len(peers) == 0 || wire.Check(m) != nil {
		return ""
	}
	var job string
	if wire.Type(m) == protocol.TypeSubmitPart {
		var p protocol.SubmitPart
		if protocol.Unmarshal(m.Data, &p) != nil {
			return ""
		}
		job = p.Job
	} else {
		var spec protocol.JobSpec
		if protocol.Unmarshal(m.Data, &spec) != nil || spec.NodeParts == 0 {
			return ""
		}
		job = spec.ID
	}
	// Rendezvous hashing: every coordinator that sees the same live set
	// picks the same one.
	best, top := "", uint64(0)
	for _, id := range append(peers, c.cfg.ID) {
		h := fnv.New64a()
		h.Write([]byte(job + "\x00" + id))
		if v := h.Sum64(); best == "" || v > top {
			best, top = id, v
		}
	}
	return best
}

// forward sends request m to coordinator to, answered on reply.
func (c *Coordinator) forward(m *nats.Msg, to, reply string) error {
	f := forwardMsg(c.subj, m, to)
	f.Reply = reply
	return c.nc.PublishMsg(f)
}

// forwardMsg is m addressed to coordinator to.
func forwardMsg(subj protocol.Subjects, m *nats.Msg, to string) *nats.Msg {
	h := nats.Header{}
	for k, v := range m.Header {
		h[k] = v
	}
	h.Set(protocol.HeaderSubject, m.Subject)
	return &nats.Msg{Subject: subj.Forward(to), Header: h, Data: m.Data}
}

// onForward answers a request another coordinator forwarded, as if it had
// come on its first subject, without forwarding it again.
func (c *Coordinator) onForward(m *nats.Msg) {
	first := m.Header.Get(protocol.HeaderSubject)
	user := c.subj.Sender(first)
	m.Subject = first
	switch {
	case protocol.ValidID(user) != nil:
		c.drop(m, fmt.Errorf("forwarded request of subject %q", protocol.Truncate(first, protocol.MaxLogField)))
	case first == c.subj.Submit(user):
		c.typed(c.onSubmit, protocol.TypeJobSpec, protocol.TypeSubmitPart)(m)
	case first == c.subj.Jobs(user):
		c.typed(c.onJobs, protocol.TypeJobsRequest)(m)
	default:
		c.drop(m, fmt.Errorf("forwarded request of subject %q", protocol.Truncate(first, protocol.MaxLogField)))
	}
}

// routeJobs takes a registry request from the queue group.
func (c *Coordinator) routeJobs(m *nats.Msg) {
	peers := c.livePeers()
	var req protocol.JobsRequest
	if len(peers) == 0 || wire.Check(m) != nil || protocol.Unmarshal(m.Data, &req) != nil {
		c.onJobs(m) // alone, or a request it refuses itself
		return
	}
	switch req.Kind {
	case protocol.JobsList:
		c.spawn(func() { c.gatherList(m, append(peers, c.cfg.ID)) })
	case protocol.JobsStatus, protocol.JobsCancel, protocol.JobsAttach:
		if c.job(req.Job) != nil {
			c.onJobs(m)
			return
		}
		c.spawn(func() {
			if r := c.askPeers(m, peers); r != nil {
				if err := m.RespondMsg(&nats.Msg{Header: r.Header, Data: r.Data}); err != nil {
					c.log.Warn("jobs reply", "kind", req.Kind, "err", err)
				}
				return
			}
			c.onJobs(m)
		})
	default:
		c.onJobs(m)
	}
}

// askAll forwards m to each coordinator of ids and returns their replies
// (nil for one that did not answer within DispatchTimeout).
func (c *Coordinator) askAll(m *nats.Msg, ids []string) []*nats.Msg {
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.DispatchTimeout)
	defer cancel()
	out := make([]*nats.Msg, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := c.nc.RequestMsgWithContext(ctx, forwardMsg(c.subj, m, id))
			if err != nil {
				if !errors.Is(err, context.Canceled) {
					c.log.Warn("coordinator did not answer a forwarded request", "coordinator", id, "err", err)
				}
				return
			}
			if wire.Check(r) == nil && wire.Expect(r, protocol.TypeJobsReply) == nil {
				out[i] = r
			}
		}()
	}
	wg.Wait()
	return out
}

// askPeers returns the reply of the peer that holds the job of registry
// request m, or nil when none does.
func (c *Coordinator) askPeers(m *nats.Msg, peers []string) *nats.Msg {
	for _, r := range c.askAll(m, peers) {
		var reply protocol.JobsReply
		if r != nil && protocol.Unmarshal(r.Data, &reply) == nil && reply.Code != protocol.CodeUnknownJob {
			return r
		}
	}
	return nil
}

// gatherList answers a list request with the jobs of every coordinator
// of ids that answers.
func (c *Coordinator) gatherList(m *nats.Msg, ids []string) {
	var all protocol.JobsReply
	seen := map[string]bool{}
	for _, r := range c.askAll(m, ids) {
		var reply protocol.JobsReply
		if r == nil || protocol.Unmarshal(r.Data, &reply) != nil {
			continue
		}
		if reply.Error != "" {
			all.Error, all.Code = reply.Error, reply.Code
		}
		for _, j := range reply.Jobs {
			if !seen[j.ID] { // a job being taken over may be listed twice
				seen[j.ID] = true
				all.Jobs = append(all.Jobs, j)
			}
		}
	}
	slices.SortFunc(all.Jobs, func(a, b protocol.JobStatus) int { return a.Submitted.Compare(b.Submitted) })
	c.fitReply(&all)
	if err := wire.Respond(m, protocol.TypeJobsReply, all); err != nil {
		c.log.Warn("jobs reply", "kind", protocol.JobsList, "err", err)
	}
}
