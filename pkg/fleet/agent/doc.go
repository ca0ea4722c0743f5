// Package agent is the gateway side of a fleetsh fleet: it takes shards of
// jobs from the coordinator, runs each on its own local engine (pkg/engine
// with the drivers of pkg/workers) and streams every node's events back
// over NATS until the coordinator has all of them.
//
// # Life of an agent
//
// [Agent.Run] subscribes to the agent's own subjects (shards on
// Subjects.Agent(id), flow control on Subjects.Control(id)) before it says
// Hello on Subjects.Register(id), so a coordinator that welcomes it can send
// work at once. Registration is retried every second while nobody answers
// (the NATS connection itself reconnects forever underneath); a Welcome
// that refuses the protocol version is fatal, any other refusal is logged
// and retried. The agent then heartbeats at the interval the Welcome set,
// repeating its Hello so that a restarted coordinator knows it again
// without a new registration, with the nodes it runs, the shards it holds
// and whether it drains.
//
// # Signed shards
//
// The agent runs nothing it is merely sent: a shard request's body is a
// protocol.SignedShard, and the agent opens it (protocol.Verifier) before
// it looks at the shard. The signature must verify, over the exact bytes
// received, against one of Config.CoordinatorKeys (public nkeys; several
// during a key rotation; New refuses a Config without one); the signed
// grant must name this agent's id, be valid now on the agent's own clock
// (issued no later than now plus Config.ClockSkew, expired no earlier than
// now minus it, valid for at most protocol.MaxShardTTL), carry valid job
// and shard ids, and its (job, shard, attempt, nonce) must not be in the
// agent's replay cache. The cache keeps every grant it admitted until the
// grant's expiry plus the skew (then the validity check refuses it
// anyway); it holds at most 65 536 entries and, full of unexpired ones,
// refuses new shards as busy rather than forget one. None of this asks
// the coordinator: a shard captured off the wire and replayed, changed,
// or sent to another agent is refused with the coordinator up or down. A
// refusal is a ShardReply with Error and Code (unsigned, bad_signature,
// misaddressed, expired, replayed) and a WARN line naming the code, the
// shard and the reply inbox it came from; the coordinator ends the
// shard's nodes in state error with that message. The check is made once,
// when the shard is accepted, not while it runs.
//
// # Shards
//
// A shard request is answered at once: refused (unknown protocol version,
// a signature check that fails, invalid shard, unknown worker, draining
// agent) or accepted. A request for a shard attempt accepted recently (a
// new grant of the same attempt: the coordinator signs each try anew) is
// accepted again and not re-run, so a coordinator may retry a request
// whose reply it lost. Each accepted
// shard gets its own engine.Task: fanout from the job (capped at the
// agent's Capacity), timeouts, task info (the job's keys over the agent's
// defaults), standard input, and a command or a copy.
//
// Shard.Nodes is a folded node set: the agent counts it before it expands
// it (at most protocol.MaxShardNodes), and node i of the shard is the i-th
// name of its expansion. Engine events become protocol.Events addressed
// by that index: a start, output lines (consecutive lines of a node share an
// event; lines longer than half a batch are cut into Partial events), a
// cut event for a node whose output passed the job's cap (outcap.go), and
// exactly one end per node, whose State says how it ended (exited with
// a code, timed out, connect, auth or host key failure with the driver's
// message, cancelled, error). Code is the exit status when the node has
// one, else 255 as ssh reports failures. In gather mode (clush -b) the
// standard output of each running node is kept in one buffer
// (engine.Outputs, freed when the node ends) and, at each flush, the nodes that ended
// since the last one are grouped by identical output and outcome and each
// group is sent once with its node list: traffic grows with the number of
// distinct outputs, not with the number of nodes. Start events of one
// flush are sent as one event in every mode, and consecutive identical
// ends share one.
//
// # Starts are acknowledged before commands run
//
// A node's command runs only once the coordinator has acknowledged the
// batch that carries the node's start event (startgate.go): the engine
// picks the node up (its start goes into the buffer and the flusher is
// woken to send it now, or, while other starts are in flight, once their
// ack comes), and the driver waits at the shard's gate until
// the cumulative ack covers that batch, or the shard is cancelled. So a
// command that ran is one the coordinator counts as started, and an agent
// cut off from the coordinator (a stalled network path, SIGSTOP) starts
// nothing the coordinator would think unstarted and run elsewhere. A job
// aborted or timed out at the gate never ran. A GroupDriver (pdsh), which
// starts every node in one process, is not gated.
//
// # Flow control
//
// Events wait in a per-shard buffer that the engine's loop appends to
// without waiting. A per-shard flusher cuts it into EventBatches of at
// most Shard.MaxBatch bytes (as soon as a batch is full, or every 50 ms
// while nothing waits to be sent), numbers them and keeps them in the
// shard's spool (spool.go) until the coordinator acknowledges them: at
// most Shard.Window batches are sent and unacknowledged, the rest wait
// unsent, and the coordinator's cumulative acks let more go. The spools
// of all the agent's shards keep up to Config.MaxBuffered bytes in
// memory (64 MiB); past it a shard's oldest batches are written to spill
// files in a private directory (mode 0700, files 0600) under
// Config.SpillDir, read back in order when they are sent, and removed
// once acknowledged, when the shard ends, and with the directory when
// the agent stops (a run killed before that leaves it: the next start of
// the same agent id removes it). Only past Config.MaxSpill bytes of spill files (1 GiB)
// too does the flusher stop taking events: the buffer then fills (four
// batches) and holds the engine's loop back, which stops reading the
// nodes' output (back-pressure reaches the commands through their
// pipes). So a coordinator that does not ack (a NATS outage, a slow
// submitter) stalls no command until that bound. The coordinator sees
// gaps by sequence number and asks for retransmits; the agent also
// republishes, every second, batches unacknowledged for two seconds (the
// batch or its ack was lost). A batch names at most
// protocol.MaxNodeRefs node indexes for the shard's nodes, the most the
// coordinator decodes. A control message of another type, or an ack
// beyond the last batch sent, is dropped and logged (rate-limited):
// taken, such an ack would stall the stream.
//
// # Standard input
//
// A shard of a job with JobSpec.Stdin reads its standard input from
// chunks the coordinator sends on Subjects.AgentStdin(id), one at a time:
// each is written, in order, to a pipe the shard's engine reads as
// Options.Stdin, and answered once the engine took it, which it does only
// while its window (engine.StdinWindow) has room: the stream goes at the
// pace of the shard's slowest node. Once every command of the shard has
// ended, chunks are answered Done, which stops the coordinator sending.
// The bytes the commands took go back as KindWritten events.
//
// # End of a shard
//
// When every node has ended and every batch was sent, the agent sends a
// ShardSummary (last sequence number, count of nodes per final state) as a
// request on Subjects.Done(id, job), retried with backoff until the
// coordinator answers OK. A reply listing Missing sequence numbers makes
// the agent republish them and ask again; a reply with an Error (the
// coordinator no longer knows the shard, for example because it declared
// this agent lost) makes it log and drop the shard. Unacknowledged batches
// are kept until the summary is acknowledged; then the shard's spill
// files go, and its spilled bytes are logged ("events spilled to disk").
//
// # Cancel, drain, stop
//
// A cancel control message aborts the shards of a job (or one shard, or
// one attempt of it when Attempt is not 0): the commands are killed and
// every node that had not ended ends as cancelled, then the shard is
// summarised as usual. A cancel repeated after every node ended, while
// the agent still waits for acks, means the coordinator gave the attempt
// up (it acks none of its batches): the agent stops waiting, summarises
// what it sent and drops the shard on the coordinator's refusal. [Agent.Drain] refuses new shards,
// heartbeats Draining and returns once every shard held has been
// summarised and acknowledged. Cancelling Run's context cancels every
// shard and gives their summaries about two seconds to get through before
// Run returns.
//
// # Failures
//
// NATS disconnections are survived: the shards run on and their events
// go to their spools (above); nothing is sent, and no resend timer
// fires, while the connection is down. At the reconnection the client
// restores the subscriptions and the agent resumes every stream at once:
// each shard sends its unacknowledged batches again (whatever was in
// flight may have been lost; a coordinator that reconnects later gets
// them from the resend of overdue batches) and the flusher sends the
// rest as acks come,
// a summary waiting for its answer is asked again at once, and a
// heartbeat goes out. Nothing the agent waits for from the coordinator
// gives up: summaries are retried until answered. If the agent itself
// dies, its shards die with it; the coordinator notices the missing
// heartbeats and decides per node (unstarted nodes can be run elsewhere,
// started ones are lost).
package agent
