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

// The subjects carry the sender's identity: a submitter's user id or an
// agent's id is a token of every subject it publishes on, and the NATS
// server's subject permissions (pkg/fleet/auth) let only the holder of
// that identity's credential publish there. The coordinator reads who
// sent a message from the subject it arrived on (Sender), never from a
// field of the message.

// Submit is where user sends a JobSpec (request/reply).
func (s Subjects) Submit(user string) string { return s.p() + ".submit." + user }

// AllSubmits matches every user's Submit.
func (s Subjects) AllSubmits() string { return s.p() + ".submit.*" }

// Jobs is where user sends job list, status, attach and cancel requests
// (request/reply).
func (s Subjects) Jobs(user string) string { return s.p() + ".jobs." + user }

// AllJobs matches every user's Jobs.
func (s Subjects) AllJobs() string { return s.p() + ".jobs.*" }

// Register is where agent says Hello (request/reply).
func (s Subjects) Register(agent string) string { return s.p() + ".register." + agent }

// AllRegisters matches every agent's Register.
func (s Subjects) AllRegisters() string { return s.p() + ".register.*" }

// Heartbeat is where agent publishes its heartbeats.
func (s Subjects) Heartbeat(agent string) string { return s.p() + ".hb." + agent }

// Heartbeats matches every agent's heartbeats.
func (s Subjects) Heartbeats() string { return s.p() + ".hb.*" }

// Agent is where the coordinator sends shards to one agent
// (request/reply).
func (s Subjects) Agent(agent string) string { return s.p() + ".agent." + agent }

// Control is where the coordinator sends acks, retransmit requests and
// cancels to one agent.
func (s Subjects) Control(agent string) string { return s.p() + ".ctl." + agent }

// Events is where agent publishes the event batches of job.
func (s Subjects) Events(agent, job string) string { return s.p() + ".ev." + agent + "." + job }

// AllEvents matches every agent's event batches.
func (s Subjects) AllEvents() string { return s.p() + ".ev.*.*" }

// Done is where agent sends the summaries of job's shards (request/reply).
func (s Subjects) Done(agent, job string) string { return s.p() + ".done." + agent + "." + job }

// AllDone matches every agent's shard summaries.
func (s Subjects) AllDone() string { return s.p() + ".done.*.*" }

// Output is where the coordinator streams a job's merged events to user:
// stream is the job's id for its submitter, or an attach's stream id.
func (s Subjects) Output(user, stream string) string { return s.p() + ".out." + user + "." + stream }

// OutputAck is where user acks output stream.
func (s Subjects) OutputAck(user, stream string) string {
	return s.p() + ".outack." + user + "." + stream
}

// AllOutputAcks matches every user's output acks.
func (s Subjects) AllOutputAcks() string { return s.p() + ".outack.*.*" }

// Files is where user sends its file requests to the coordinator
// (pkg/fleet/files: chunks of the trees it pushes, of its reverse copies).
func (s Subjects) Files(user string) string { return s.p() + ".files." + user }

// AllFiles matches every user's file requests.
func (s Subjects) AllFiles() string { return s.p() + ".files.*" }

// AgentFiles is where agent sends its file requests to the coordinator
// (the chunks of the trees it copies to its nodes, of its nodes' copies).
func (s Subjects) AgentFiles(agent string) string { return s.p() + ".afiles." + agent }

// AllAgentFiles matches every agent's file requests.
func (s Subjects) AllAgentFiles() string { return s.p() + ".afiles.*" }

// UserInbox is the reply-subject prefix of user's connection
// (nats.CustomInboxPrefix): only user may read below it.
func (s Subjects) UserInbox(user string) string { return s.p() + ".inbox.u." + user }

// AgentInbox is the reply-subject prefix of agent's connection.
func (s Subjects) AgentInbox(agent string) string { return s.p() + ".inbox.a." + agent }

// Sender returns the identity token of subject, one of the subjects
// above that carry one (the user or agent id after the kind token), or ""
// when subject is not one of this fleet's.
func (s Subjects) Sender(subject string) string {
	rest, ok := strings.CutPrefix(subject, s.p()+".")
	if !ok {
		return ""
	}
	_, rest, ok = strings.Cut(rest, ".")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, ".")
	return id
}

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
