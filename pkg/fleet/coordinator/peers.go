package coordinator

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Coordinators that share one NATS system know each other (docs/fleet.md,
// "Two coordinators"): each publishes its presence every Heartbeat on a
// subject only coordinators may publish on, and counts another's silence
// as it counts an agent's: only while it is itself connected
// (Coordinator.silence). A coordinator silent for LostAfter is lost.
//
// Who acts on what: submits and registry requests go to one coordinator
// of the queue group (protocol.CoordinatorQueue), which forwards what
// belongs to another (route.go); agents register with and heartbeat to
// every coordinator, so each knows every agent; a job's event batches,
// summaries, standard input and output acks reach every coordinator and
// only the job's owner acts on them, the others stay silent (foreign)
// rather than refuse what is not theirs.

// peer is another coordinator heard on the NATS system. Guarded by
// Coordinator.mu.
type peer struct {
	protocol.Presence
	lastSeen time.Time
	lost     bool
	claiming bool // lost, its jobs being taken over (takeover.go)
}

// peerSet is what a coordinator knows of the others. Guarded by
// Coordinator.mu.
type peerSet struct {
	self     protocol.Presence
	started  time.Time // self.Started on the monotonic clock
	known    map[string]*peer
	sentAt   time.Time
	twinWarn map[string]bool // instances sharing our id, warned of once
	fenced   chan struct{}   // closed when another took our jobs over
}

// startPeers readies the presence this coordinator publishes.
func (c *Coordinator) startPeers() {
	var b [8]byte
	_, _ = rand.Read(b[:])
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	c.peers = peerSet{started: now,
		self: protocol.Presence{Coordinator: c.cfg.ID, Instance: hex.EncodeToString(b[:]),
			Started: now.UTC(), Heartbeat: c.cfg.Heartbeat},
		known:    make(map[string]*peer),
		twinWarn: make(map[string]bool),
		fenced:   make(chan struct{}),
	}
}

// silence is how long something last heard at last has been silent as
// far as this coordinator can tell: its own time cut from NATS does not
// count (clocks restart at the reconnection). Call with c.mu held, and
// only while connected (checkLiveness, checkPeers).
func (c *Coordinator) silence(now, last time.Time) time.Duration {
	if since := c.reconnectedAt(); since.After(last) {
		last = since
	}
	return now.Sub(last)
}

// checkPeers publishes this coordinator's presence when due and declares
// lost the peers silent for LostAfter.
func (c *Coordinator) checkPeers(now time.Time) {
	if !c.nc.IsConnected() {
		return // our own outage: nobody's silence counts (see silence)
	}
	c.mu.Lock()
	var presence []byte
	if now.Sub(c.peers.sentAt) >= c.cfg.Heartbeat {
		c.peers.sentAt = now
		presence, _ = protocol.Marshal(c.peers.self)
	}
	var lost []*peer
	for id, p := range c.peers.known {
		if !p.lost && c.silence(now, p.lastSeen) > c.cfg.LostAfter {
			p.lost, p.claiming = true, true
			lost = append(lost, p)
			c.log.Warn("coordinator lost: no presence", "coordinator", id, "silent", now.Sub(p.lastSeen).Round(time.Millisecond))
		}
	}
	c.mu.Unlock()
	for _, p := range lost {
		c.spawn(func() { c.takeOver(p.Coordinator, p.Instance) })
	}
	if presence != nil {
		if err := c.nc.PublishMsg(wire.NewMsg(c.subj.Presence(c.cfg.ID), protocol.TypePresence, presence)); err != nil {
			c.log.Debug("presence", "err", err)
		}
	}
}

// onPresence records another coordinator's presence.
func (c *Coordinator) onPresence(m *nats.Msg) {
	var p protocol.Presence
	if !c.decode(m, &p) {
		return
	}
	if err := protocol.ValidID(p.Coordinator); err != nil || p.Coordinator != protocol.LastToken(m.Subject) || len(p.Instance) > 64 || len(p.Took) > maxTook {
		c.drop(m, fmt.Errorf("presence of coordinator %q on %s", protocol.Truncate(p.Coordinator, protocol.MaxLogField), m.Subject))
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if slices.Contains(p.Took, c.peers.self.Instance) {
		select {
		case <-c.peers.fenced:
		default:
			c.log.Error("coordinator declared lost by another, which took its jobs over: stopping (restart it)", "by", p.Coordinator)
			close(c.peers.fenced)
		}
		return
	}
	if p.Coordinator == c.cfg.ID {
		if p.Instance != c.peers.self.Instance && !c.peers.twinWarn[p.Instance] {
			c.peers.twinWarn[p.Instance] = true
			c.log.Error("another coordinator runs with this coordinator's id: give each its own --id", "coordinator", c.cfg.ID)
		}
		return
	}
	q := c.peers.known[p.Coordinator]
	switch {
	case q == nil:
		c.log.Info("coordinator joined", "coordinator", p.Coordinator, "started", p.Started)
	case q.lost:
		c.log.Info("coordinator is back", "coordinator", p.Coordinator, "restarted", q.Instance != p.Instance)
	case q.Instance != p.Instance:
		c.log.Info("coordinator restarted", "coordinator", p.Coordinator)
	}
	c.peers.known[p.Coordinator] = &peer{Presence: p, lastSeen: time.Now(), claiming: q != nil && q.claiming}
}

// Peers lists the other coordinators this one has heard and whether each
// is lost, by id.
func (c *Coordinator) Peers() map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]bool, len(c.peers.known))
	for id, p := range c.peers.known {
		out[id] = p.lost
	}
	return out
}

// livePeers returns the ids of the other coordinators not lost, sorted.
func (c *Coordinator) livePeers() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.livePeersLocked()
}

// livePeersLocked is livePeers with c.mu held.
func (c *Coordinator) livePeersLocked() []string {
	var out []string
	for id, p := range c.peers.known {
		if !p.lost {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// foreign reports whether a message about job, which this coordinator
// does not hold, may be another live coordinator's to answer: then it
// stays silent rather than refuse it (a refused summary makes its agent
// drop the shard). Alone, it answers as before.
func (c *Coordinator) foreign(job string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.jobs[job] == nil && c.othersMayLive(time.Now())
}

// othersMayLive reports whether another coordinator may be live: one is
// heard (or lost and its jobs being taken over), or this one has not
// listened long enough to know (LostAfter
// since it started or reconnected: peers' presences arrive within it).
// Call with c.mu held.
func (c *Coordinator) othersMayLive(now time.Time) bool {
	for _, p := range c.peers.known {
		if !p.lost || p.claiming {
			return true
		}
	}
	return c.silence(now, c.peers.started) <= c.cfg.LostAfter
}
