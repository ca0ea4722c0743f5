package protocol

import "time"

// Coordinators that share one NATS system (docs/fleet.md, "Two
// coordinators") know each other: each publishes its Presence, and a
// registry request or a submission one of them takes from the queue
// group for another's job is forwarded to that one. The subjects below
// carry no submitter's or agent's identity: on a fleet with credentials
// only coordinators may publish on them (pkg/fleet/auth gives submitters
// and agents only the subjects carrying their own id).

// TypePresence is the type of a Presence message.
const TypePresence = "coordinator-presence"

// HeaderSubject is the header of a forwarded request naming the subject
// it first arrived on (whose user token says who sent it).
const HeaderSubject = "Fleet-Subject"

// CoordinatorQueue is the queue group of the coordinators' submit and
// registry subscriptions: each request goes to one coordinator.
const CoordinatorQueue = "coordinators"

// Presence is what a coordinator publishes every heartbeat on
// Subjects.Presence(id).
type Presence struct {
	// Coordinator is its id (coordinator --id), the subject's last token.
	Coordinator string `json:"coordinator"`
	// Instance is random at each start: two coordinators that were given
	// one id tell each other apart by it.
	Instance string `json:"instance"`
	// Started is when it started.
	Started time.Time `json:"started"`
	// Heartbeat is its presence interval.
	Heartbeat time.Duration `json:"heartbeat"`
	// Took names the instances of lost coordinators whose jobs it took
	// over (the latest few): such an instance, if it was only slow, stops.
	Took []string `json:"took,omitempty"`
}

// Presence is where coordinator id publishes its Presence.
func (s Subjects) Presence(id string) string { return s.p() + ".coord.hb." + id }

// AllPresences matches every coordinator's Presence.
func (s Subjects) AllPresences() string { return s.p() + ".coord.hb.*" }

// Forward is where requests for coordinator id are forwarded to it by
// the one that received them (request/reply; HeaderSubject names the
// subject they first arrived on).
func (s Subjects) Forward(id string) string { return s.p() + ".coord.fwd." + id }
