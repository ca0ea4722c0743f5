package protocol

import (
	"fmt"
	"strings"
)

// DefaultPrefix is the subject prefix when none is configured.
const DefaultPrefix = "fleet"

// Subjects names the NATS subjects of one fleet. Its zero value uses
// DefaultPrefix; set Prefix to run several fleets on one NATS system.
type Subjects struct {
	Prefix string
}

func (s Subjects) p() string {
	if s.Prefix == "" {
		return DefaultPrefix
	}
	return s.Prefix
}

// Submit is where csub sends a JobSpec (request/reply).
func (s Subjects) Submit() string { return s.p() + ".submit" }

// Jobs is where job list, status and cancel requests go (request/reply).
func (s Subjects) Jobs() string { return s.p() + ".jobs" }

// Register is where an agent says Hello (request/reply).
func (s Subjects) Register() string { return s.p() + ".register" }

// Heartbeat is where agent id publishes its heartbeats.
func (s Subjects) Heartbeat(agent string) string { return s.p() + ".hb." + agent }

// Heartbeats matches every agent's heartbeats.
func (s Subjects) Heartbeats() string { return s.p() + ".hb.*" }

// Agent is where the coordinator sends shards to one agent
// (request/reply).
func (s Subjects) Agent(agent string) string { return s.p() + ".agent." + agent }

// Control is where the coordinator sends acks, retransmit requests and
// cancels to one agent.
func (s Subjects) Control(agent string) string { return s.p() + ".ctl." + agent }

// Events is where agents publish the event batches of job.
func (s Subjects) Events(job string) string { return s.p() + ".ev." + job }

// AllEvents matches every job's event batches.
func (s Subjects) AllEvents() string { return s.p() + ".ev.*" }

// Done is where an agent sends a shard's summary (request/reply).
func (s Subjects) Done(job string) string { return s.p() + ".done." + job }

// AllDone matches every job's shard summaries.
func (s Subjects) AllDone() string { return s.p() + ".done.*" }

// Output is where the coordinator streams job's merged events to its
// submitter.
func (s Subjects) Output(job string) string { return s.p() + ".out." + job }

// OutputAck is where the submitter acks the output stream of job.
func (s Subjects) OutputAck(job string) string { return s.p() + ".outack." + job }

// AllOutputAcks matches every job's output acks.
func (s Subjects) AllOutputAcks() string { return s.p() + ".outack.*" }

// LastToken returns the last dot-separated token of subject (the job or
// agent id of the per-id subjects above).
func LastToken(subject string) string {
	if i := strings.LastIndexByte(subject, '.'); i >= 0 {
		return subject[i+1:]
	}
	return subject
}

// maxID bounds ids so that a subject stays short whatever a client sends.
const maxID = 64

// ValidID reports whether id can be used as a job, shard or agent id: 1 to
// 64 characters among letters, digits, '-' and '_' (a single subject token,
// no wildcard).
func ValidID(id string) error {
	if id == "" {
		return fmt.Errorf("empty id")
	}
	if len(id) > maxID {
		return fmt.Errorf("id %.16q...: longer than %d characters", id, maxID)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			continue
		}
		return fmt.Errorf("id %q: character %q not allowed (letters, digits, '-' and '_' only)", id, c)
	}
	return nil
}

// ValidPrefix reports whether prefix can prefix the fleet's subjects: one
// or more dot-separated tokens without wildcards or spaces.
func ValidPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	for _, tok := range strings.Split(prefix, ".") {
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n*>") {
			return fmt.Errorf("subject prefix %q: bad token %q", prefix, tok)
		}
	}
	return nil
}
