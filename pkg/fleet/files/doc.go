// Package files moves files and trees through the fleet: a push (csub
// -c with --fleet) crosses NATS once per gateway, not once per node, and
// a pull (--rcopy) comes back in bounded chunks.
//
// Content is addressed by its SHA-256 and cut in chunks of at most
// ChunkSize bytes. A tree is described by a Manifest (one Entry per file,
// directory or symlink, with modes, times, and each file's chunk
// digests); the manifest's own encoding is stored as chunks too, and a
// Ref (its digest, size and chunk list) names the whole tree in a job.
// Anything that holds chunks is a ChunkStore: the coordinator's
// JetStream stream (Stream), an agent's disk cache (Cache), the NATS
// client csub and agents reach the coordinator's stream through
// (Client). Every chunk read from anywhere is checked against its
// digest before use, so a store, a peer or a disk that returns other
// bytes makes the transfer fail naming the chunk, never copies them.
//
// Why chunks in a stream and not JetStream's object store: chunks named
// by content dedupe across files and pushes (the same 1 GiB pushed again
// stores and moves nothing), and an interrupted transfer resumes chunk by
// chunk from what the receiver already has; the object store addresses
// whole objects by name and reads them from their start.
package files
