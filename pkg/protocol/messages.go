package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Version is the protocol version this package speaks. 2: shards carry
// folded node sets, stdin streams in chunks, debug and written events.
// 3: an end event carries the engine's failure reason (Event.Reason).
// 4: shards are signed (SignedShard), and subjects carry the sender's
// identity (Subjects.Sender). 5: jobs cap each node's output
// (JobSpec.MaxOutput) and batches say where a node's output was cut
// (KindCut). 6: copies move through the fleet (CopySpec.Tree and
// Collect, the files subjects).
const Version = 6

// Headers every message carries.
const (
	HeaderVersion = "Fleet-Version"
	HeaderType    = "Fleet-Type"
)

// Message type names, the value of HeaderType.
const (
	TypeJobSpec      = "job-spec"
	TypeSubmitPart   = "submit-part"
	TypeSubmitReply  = "submit-reply"
	TypeShard        = "shard"
	TypeShardReply   = "shard-reply"
	TypeEventBatch   = "event-batch"
	TypeShardSummary = "shard-summary"
	TypeDoneReply    = "done-reply"
	TypeControl      = "control"
	TypeHello        = "hello"
	TypeWelcome      = "welcome"
	TypeHeartbeat    = "heartbeat"
	TypeJobsRequest  = "jobs-request"
	TypeJobsReply    = "jobs-reply"
)

// VersionError is the refusal of a message in a version this side does
// not speak.
type VersionError struct {
	Got string // the version the peer sent ("" when it sent none)
}

func (e *VersionError) Error() string {
	if e.Got == "" {
		return fmt.Sprintf("fleetsh protocol: message without a %s header (this side speaks version %d)", HeaderVersion, Version)
	}
	return fmt.Sprintf("fleetsh protocol version %s is not supported (this side speaks version %d): run the same fleetsh release on csub, coordinator and agents", e.Got, Version)
}

// CheckVersion returns nil when v (the HeaderVersion value) is a version
// this package speaks, else a *VersionError.
func CheckVersion(v string) error {
	if n, err := strconv.Atoi(v); err == nil && n == Version {
		return nil
	}
	return &VersionError{Got: v}
}

// VersionHeader is the HeaderVersion value of this package.
var VersionHeader = strconv.Itoa(Version)

// Marshal encodes a control-plane message as JSON.
func Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal decodes a control-plane message, naming its type on error.
func Unmarshal(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %T: %w", v, err)
	}
	return nil
}

// JobSpec is a job as submitted: a command (or copy) for a set of nodes.
type JobSpec struct {
	// ID is chosen by the submitter (see ValidID) and must be new.
	ID string `json:"id"`
	// User names the submitter.
	User string `json:"user,omitempty"`
	// Nodes is a folded node set without groups (the submitter resolves
	// them); node i of the job is the i-th name of its expansion.
	Nodes string `json:"nodes"`
	// NodeParts, when not 0, says Nodes is empty and the folded set came
	// first in that many SubmitParts (a set too large for one message).
	NodeParts int `json:"node_parts,omitempty"`
	// Command is the shell command (with %h and friends for exec).
	Command string `json:"command,omitempty"`
	// Copy, when set, makes the job a file copy instead of a command.
	Copy *CopySpec `json:"copy,omitempty"`
	// Worker names the engine driver ("" = the agent's default distant
	// worker, usually ssh).
	Worker string `json:"worker,omitempty"`
	// Fanout bounds the commands an agent runs at once (0: its default).
	Fanout int `json:"fanout,omitempty"`
	// ConnectTimeout and CommandTimeout bound each node (0: none or the
	// agent's default for connect).
	ConnectTimeout time.Duration `json:"connect_timeout,omitempty"`
	CommandTimeout time.Duration `json:"command_timeout,omitempty"`
	// Stderr keeps standard error apart; otherwise it is merged into
	// standard output (ClusterShell's stderr task default).
	Stderr bool `json:"stderr,omitempty"`
	// Gather lets agents send identical standard output once for the set
	// of nodes that gave it, at the end of each node (clush -b); its
	// lines then do not stream live. Standard error always does.
	Gather bool `json:"gather,omitempty"`
	// RerunOnLoss allows the nodes a lost gateway had started to run again
	// elsewhere (the command is safe to repeat).
	RerunOnLoss bool `json:"rerun_on_loss,omitempty"`
	// Stdin streams the submitter's standard input to every node (see
	// StdinChunk); without it the commands read EOF.
	Stdin bool `json:"stdin,omitempty"`
	// Info holds extra task info keys for the agents' engines (ssh_user,
	// ssh_options, ssh_path, scp_path, USER_* ...).
	Info map[string]string `json:"info,omitempty"`
	// MaxOutput caps the bytes of output each node sends, standard output
	// and error together (0: DefaultMaxOutput; at most MaxOutputLimit);
	// agents lower it to their own ceiling (OutputLimit, outcap.go).
	MaxOutput int64 `json:"max_output,omitempty"`
}

// CopySpec describes a file copy: Source to Dest on each node, or with
// Reverse, Source on each node to the local directory Dest. It is both
// the job's copy on the wire and what the engine hands its drivers
// (engine.Job.Copy), where a reverse copy's Dest is already the node's
// own file "<dest>/<basename(source)>.<node>".
type CopySpec struct {
	Source   string `json:"source"`
	Dest     string `json:"dest"`
	Reverse  bool   `json:"reverse,omitempty"`
	Preserve bool   `json:"preserve,omitempty"` // keep modification times and modes
	// Tree, on a push through a fleet, is the source as the submitter
	// stored it in the fleet (pkg/fleet/files): agents fetch it once
	// and copy their local copy of it to their nodes. Source then only
	// names it (the submitter's path) in messages.
	Tree *TreeRef `json:"tree,omitempty"`
	// Collect, on a reverse copy through a fleet, sends each node's copy
	// back through the fleet to the submitter (which writes it under its
	// own Dest) instead of writing it on the agent's disk.
	Collect bool `json:"collect,omitempty"`
}

// SubmitReply answers a JobSpec.
type SubmitReply struct {
	Job   string    `json:"job,omitempty"`
	Nodes int       `json:"nodes,omitempty"` // how many nodes the job has
	Error string    `json:"error,omitempty"`
	Code  ErrorCode `json:"code,omitempty"` // what kind of error Error is
}

// Shard is the part of a job sent to one agent, inside a ShardGrant the
// coordinator signs (SignShard).
type Shard struct {
	Job     string `json:"job"`
	ID      string `json:"id"`
	Attempt int    `json:"attempt"`
	Group   string `json:"group"`
	// Nodes is the shard's nodes as a folded node set without groups
	// (never a list, which max_payload would bound): node i of the shard,
	// which batch events index, is the i-th name of its expansion in
	// NodeSet order. It expands to at most MaxShardNodes names.
	Nodes string  `json:"nodes"`
	Spec  JobSpec `json:"spec"` // the job, Nodes left empty
	// Window is the most batches the agent may have unacknowledged.
	Window int `json:"window"`
	// MaxBatch is the size an agent flushes a batch at (bytes).
	MaxBatch int `json:"max_batch"`
}

// Key names a shard attempt in logs and maps.
func (s *Shard) Key() string { return ShardKey(s.Job, s.ID, s.Attempt) }

// ShardKey names attempt of shard of job.
func ShardKey(job, shard string, attempt int) string {
	return job + "/" + shard + "/" + strconv.Itoa(attempt)
}

// ShardReply answers a Shard: accepted, or refused with a reason.
type ShardReply struct {
	Accepted bool      `json:"accepted"`
	Error    string    `json:"error,omitempty"`
	Code     ErrorCode `json:"code,omitempty"` // what kind of error Error is
	// Busy marks a refusal that another agent may not share (this one is
	// draining): the coordinator tries another. Any other refusal (an
	// unknown worker, a bad job) ends the shard's nodes with Error.
	Busy bool `json:"busy,omitempty"`
}

// ShardSummary ends a shard attempt: the agent's own account of it.
type ShardSummary struct {
	Job     string `json:"job"`
	Shard   string `json:"shard"`
	Attempt int    `json:"attempt"`
	Agent   string `json:"agent"`
	// LastSeq is the sequence number of the attempt's last batch.
	LastSeq uint64 `json:"last_seq"`
	// Finals counts the nodes per final state the batches reported.
	Finals map[State]int `json:"finals"`
}

// DoneReply acks a ShardSummary. Missing lists sequence numbers the
// coordinator has not received: the agent retransmits them and sends the
// summary again.
type DoneReply struct {
	OK      bool      `json:"ok"`
	Missing []uint64  `json:"missing,omitempty"`
	Error   string    `json:"error,omitempty"`
	Code    ErrorCode `json:"code,omitempty"` // what kind of error Error is
}

// Control kinds.
const (
	ControlAck        = "ack"        // batches up to Seq arrived
	ControlRetransmit = "retransmit" // send Seq and what follows again
	ControlCancel     = "cancel"     // stop the job's shards on this agent
)

// A ControlCancel names a job and optionally one shard of it; Attempt 0
// means every attempt of that shard (or of every shard of the job).

// Control is a coordinator → agent (or csub → coordinator) flow or job
// control message.
type Control struct {
	Kind    string `json:"kind"`
	Job     string `json:"job"`
	Shard   string `json:"shard,omitempty"`
	Attempt int    `json:"attempt,omitempty"`
	Seq     uint64 `json:"seq,omitempty"`
}

// Hello registers an agent.
type Hello struct {
	Agent string `json:"agent"` // unique id (ValidID)
	// Name is the agent's gateway name as topology.conf knows it.
	Name string `json:"name"`
	// Local marks an agent that serves the nodes under no gateway.
	Local bool `json:"local,omitempty"`
	// Groups restricts the gateway groups this agent serves (empty: every
	// group its Name is a gateway of).
	Groups   []string `json:"groups,omitempty"`
	Capacity int      `json:"capacity"` // its fanout
	Release  string   `json:"release,omitempty"`
}

// Welcome answers Hello.
type Welcome struct {
	// Groups the coordinator will send this agent shards of.
	Groups []string `json:"groups,omitempty"`
	// Heartbeat is the interval the agent must heartbeat at.
	Heartbeat time.Duration `json:"heartbeat"`
	Error     string        `json:"error,omitempty"`
	Code      ErrorCode     `json:"code,omitempty"` // what kind of error Error is
}

// Heartbeat tells the coordinator an agent is alive and how busy. It
// repeats the agent's Hello so that a coordinator that restarted (and
// forgot it) knows it again from its next heartbeat.
type Heartbeat struct {
	Hello
	Running  int      `json:"running"`          // nodes running now
	Shards   []string `json:"shards,omitempty"` // shard keys it holds
	Draining bool     `json:"draining,omitempty"`
	// Load is the gateway's 1-minute load average (/proc/loadavg),
	// between 0 and MaxLoad; nil when the agent has none to give (a
	// system without /proc/loadavg, or an agent older than this field).
	Load *float64 `json:"load,omitempty"`
}

// Jobs request kinds.
const (
	JobsList   = "list"
	JobsStatus = "status"
	JobsCancel = "cancel"
	JobsAgents = "agents" // the agents the coordinator knows
	// JobsAttach starts a new output stream of Job on Output(Stream):
	// the job's records from index From on (everything it printed so
	// far for From 0), then what follows (csub attach, and a reader
	// getting its stream back: see JobStatus.Stream).
	JobsAttach = "attach"
)

// What JobStatus.Stream says of the stream a status request named.
const (
	// StreamLive: the coordinator serves the stream.
	StreamLive = "live"
	// StreamGone: it does not: it never had it or forgot it (it
	// restarted), the stream ended, or its reader stopped acking for
	// the coordinator's DetachAfter and it dropped the stream. The
	// reader attaches again, from the records it has.
	StreamGone = "gone"
)

// JobsRequest asks the coordinator's job registry.
type JobsRequest struct {
	Kind string `json:"kind"`
	Job  string `json:"job,omitempty"`
	// Stream is the id of the new output stream of an attach
	// (ValidID); in a status request, the stream the reader follows
	// (the job's id for its submitter), which the reply says is live or
	// gone (JobStatus.Stream).
	Stream string `json:"stream,omitempty"`
	// From is the first record index an attach replays (EventBatch.First):
	// a reader that lost its stream asks for the records it does not
	// have. Records from From on that the coordinator did not keep are
	// not sent; the stream's batch indexes show which.
	From uint64 `json:"from,omitempty"`
	// Brief leaves the node sets (Nodes, Unfinished) out of a status:
	// a check that only needs Done costs nothing on a huge job.
	Brief bool `json:"brief,omitempty"`
}

// JobsReply answers a JobsRequest.
type JobsReply struct {
	Jobs   []JobStatus   `json:"jobs,omitempty"`
	Agents []AgentStatus `json:"agents,omitempty"`
	Error  string        `json:"error,omitempty"`
	Code   ErrorCode     `json:"code,omitempty"` // what kind of error Error is
}

// AgentStatus describes an agent the coordinator knows.
type AgentStatus struct {
	Hello
	// Groups it serves ("" is the local group).
	Served   []string  `json:"served"`
	LastSeen time.Time `json:"last_seen"`
	Running  int       `json:"running"`
	Draining bool      `json:"draining,omitempty"`
	Lost     bool      `json:"lost,omitempty"`
	// Shards is how many shards its last heartbeat said it holds.
	Shards int `json:"shards,omitempty"`
	// Load is its last heartbeat's Load (nil: it gave none).
	Load *float64 `json:"load,omitempty"`
}

// JobStatus describes a job in the registry.
type JobStatus struct {
	ID        string        `json:"id"`
	User      string        `json:"user,omitempty"`
	Command   string        `json:"command,omitempty"`
	Copy      *CopySpec     `json:"copy,omitempty"` // a copy job's
	Nodes     string        `json:"nodes"`
	Total     int           `json:"total"`
	Finals    map[State]int `json:"finals,omitempty"`
	Done      bool          `json:"done"`
	Submitted time.Time     `json:"submitted"`
	Ended     time.Time     `json:"ended,omitzero"`
	// Unfinished is the folded set of nodes without a final state.
	Unfinished string `json:"unfinished,omitempty"`
	// States is the folded set of nodes in each final state (Finals
	// counts them).
	States map[State]string `json:"states,omitempty"`
	// Failed counts the nodes that ended other than exited with status
	// 0 (in brief statuses too).
	Failed int `json:"failed,omitempty"`
	// Codes is the folded set of the exited nodes per exit status.
	Codes map[int]string `json:"codes,omitempty"`
	// Truncated says Nodes, Unfinished, States and Codes were left out:
	// with them the reply would not fit under the NATS server's
	// max_payload.
	Truncated bool `json:"truncated,omitempty"`
	// Stream answers a status request that named a stream: StreamLive
	// or StreamGone ("" when the request named none).
	Stream string `json:"stream,omitempty"`
	// Records is how many output records the job emitted so far (the
	// index the next one will have).
	Records uint64 `json:"records,omitempty"`
}

// ErrClosed is returned by stream receivers after the end of a stream.
var ErrClosed = errors.New("stream closed")
