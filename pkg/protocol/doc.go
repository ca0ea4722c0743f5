// Package protocol is the wire contract between fleetsh processes: csub
// (the submitter), the coordinator and the gateway agents. It holds the
// message types, the subject names and the encodings, and the bookkeeping
// every side does the same way (the credit [Window] and [Reorder] of a
// stream, the [Tracker] of each node's phase and final state, which
// agents, the coordinator and csub share): it imports only the standard
// library, no NATS client and no engine, so any process (or another
// language) can speak it from this package alone.
//
// # Conversation
//
//	csub        ── Submit (SubmitPart..., JobSpec) ──▶ coordinator    request/reply
//	coordinator ── Agent.<id> (SignedShard) ─────────▶ agent          request/reply, signed
//	agent       ── Events.<job> (EventBatch) ────────▶ coordinator    credit window
//	coordinator ── Control.<agent> (Control: ack, retransmit, cancel) ▶ agent
//	agent       ── Done.<job> (ShardSummary) ────────▶ coordinator    request/reply, retried
//	coordinator ── Output.<job> (EventBatch) ────────▶ csub           credit window
//	csub        ── OutputAck.<job> (Control: ack, retransmit) ───────▶ coordinator
//	agent       ── Register (Hello) ─────────────────▶ coordinator    request/reply
//	agent       ── Heartbeat.<id> (Heartbeat) ───────▶ coordinator    every second
//	anyone      ── Jobs (JobsRequest: list, status, cancel) ─────────▶ coordinator
//	csub        ── Stdin.<job> (StdinChunk) ─────────▶ coordinator    request/reply, one at a time
//	coordinator ── AgentStdin.<agent> (StdinChunk) ──▶ agent          request/reply, one at a time
//	csub        ── Files.<user> (files-has, -put, -get) ─────▶ coordinator  request/reply, raw chunks
//	agent       ── AgentFiles.<agent> (files-has, -put, -get) ▶ coordinator  request/reply, raw chunks
//
// Node names never appear in subjects. A job's nodes are the expansion of
// JobSpec.Nodes, a shard's the expansion of Shard.Nodes (folded node sets
// without groups, never lists); events refer to nodes by index: into the
// shard's expansion in agent batches, into the job's in the output
// stream, so a line costs a few bytes of addressing however long the host
// names are.
//
// # Sizes
//
// Every message must fit under the NATS server's max_payload. A JobSpec
// too large for one message goes in SubmitParts first; the coordinator
// cuts a group's nodes into as many shards as their folded sets need.
// Node sets are counted (NodeSet.Len) before they are expanded, against
// DefaultMaxJobNodes (or the coordinator's configured limit) and
// MaxShardNodes, so a few bytes naming billions of nodes cost nothing.
// A receiver decodes an EventBatch against the node set it indexes
// ([EventBatch.Decode]): its indexes must fall in that set, and it may
// expand to at most RefsPerNode references per node plus one per byte,
// checked before allocating. Specs, Hellos and heartbeats have field
// limits ([JobSpec.CheckFields], limits.go), and [Truncate] is what logs
// and replies show of a field a peer chose.
//
// # Versions
//
// Every message travels with the header [HeaderVersion] and
// [HeaderType]. A receiver checks the version with [CheckVersion] and the
// type against what the subject carries before it decodes the body (a
// message of another type is dropped, never decoded as something else); a request in an unknown version is answered with an
// error reply naming both versions, so an old agent or csub is refused
// with a message that says what to upgrade rather than failing to parse.
//
// # Encodings
//
// Control-plane messages (specs, shards, summaries, heartbeats, replies)
// are JSON: they are rare and worth reading with `nats sub`. Event
// batches, which carry every output line of every node, use the compact
// binary framing of [EventBatch.MarshalBinary]: measured with
// BenchmarkBatchEncode/BenchmarkBatchDecode in this package, it encodes
// and decodes several times faster than JSON and is a third smaller for
// typical 100-byte lines (JSON must escape and base64 binary output).
//
// # Delivery
//
// Core NATS is at most once, so the stream layers its own guarantees on
// top: each sender numbers its batches (per shard attempt, or per job for
// the output stream) and keeps the unacknowledged ones; the receiver acks
// cumulatively, drops duplicates, and asks for a retransmit when it sees a
// gap. A sender never has more than its window of batches unacknowledged,
// which bounds the receiver's buffers and keeps NATS from cutting a slow
// consumer. See [Window].
package protocol
