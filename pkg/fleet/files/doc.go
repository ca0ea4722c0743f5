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
// # Manifest encoding
//
// Manifest.Encode writes a versioned binary form (codec.go: magic
// "FSMF", version 1, uvarints, digests as 32 raw bytes). DecodeManifest
// allocates in proportion to its input only (and at most MaxManifest
// bytes, MaxEntries entries), and refuses any path that is absolute,
// holds an empty, "." or ".." element or a NUL, is listed twice, or
// whose parent is not a directory listed before it; so a decoded
// manifest never names a place outside the directory it is written in,
// nor one under a symlink of its own.
//
// # Push
//
// Push reads each file once, cutting it in chunks, asks the store which
// it lacks (Has, at most 1024 digests a call) and puts only those,
// Window at a time. The file bytes it holds stay under
// Window×ChunkSize (8 × 256 KiB by default), whatever the files' sizes;
// besides, it keeps the manifest (about 80 bytes an entry plus 32 a
// chunk) and the set of digests already seen. Files are opened with
// O_NOATIME when the user owns them, and a symlink's access time is
// recorded as its modification time (reading a link sets it), so that
// pushing an unchanged tree again names the same manifest and sends
// nothing.
//
// Symbolic links are followed by default, as OpenSSH's scp -r does and
// as the SSH worker's copy (pkg/workers/ssh/copy.go: os.Stat on the
// source and on every child) does: a fleet copy gives the same tree as a
// copy by clush or by csub without a fleet. A dangling link or a
// directory reached again through a link (a loop) fails the push naming
// it, where scp would print an error and go on. PushOptions.Symlinks
// keeps links as links instead (never followed).
//
// # Agent cache
//
// An agent keeps chunks in a disk Cache (CacheConfig.Dir): each chunk a
// file chunks/xx/<digest hex>, written to tmp/ and renamed (not synced:
// a chunk lost or torn in a crash is refetched or fails its digest, is
// removed, and is refetched). Fetch gets a tree's manifest and the
// chunks the cache lacks, Window Gets at a time (memory: Window
// buffers of ChunkSize), once for any number of concurrent Fetches of a
// ref; an interrupted Fetch resumes from the chunks on disk, across
// restarts. Materialize builds the tree once per ref under
// trees/<digest>[-p]/ (the root entry below it), creating every entry
// anew (O_EXCL, O_NOFOLLOW, mkdir), so nothing is written outside it or
// through a link; modes always, times with preserve (the -p tree).
//
// Disk: chunk and tree bytes are counted (file contents; directories and
// block rounding are not). Evict removes what was unused for MaxAge,
// then least recently used first until the count is ≤ MaxBytes; Fetch
// and Materialize evict the same way to make room for what they add.
// Chunks a Fetch or Materialize in progress needs, and trees not
// released, are never evicted, so the count may exceed MaxBytes by what
// is in use; a tree larger than MaxBytes is refused. A tree needs its
// bytes twice while built (chunks and tree); its chunks may be evicted
// once it is built. Memory: an index entry (about 100 bytes) per chunk
// and per tree. Trees do not outlive the process: OpenCache removes
// them (they are rebuilt from chunks), and keeps the chunks, their last
// use taken from their files' modification times.
//
// A materialized tree holds the symlinks its manifest lists (only a push
// with PushOptions.Symlinks makes any): whoever copies it onward must
// not follow them, or a link to the agent's own files would send those.
//
// # Extract
//
// Extract (csub writing what a --rcopy pulled) writes a tree as a
// destination path, getting chunks Window at a time in order and
// streaming them to each file (memory: (Window+1)×ChunkSize, whatever
// the sizes), checking every chunk and every file's digest; each file
// and symlink is made at a temporary name (.fleetsh-<random>.part) in
// its directory and renamed into place, so a failed transfer leaves no
// partial file under the real name. Modes without -p follow the SSH
// worker's reverse copy (scp's sink): new files and directories get the
// source's permissions less the umask, existing ones keep theirs.
//
// Why chunks in a stream and not JetStream's object store: chunks named
// by content dedupe across files and pushes (the same 1 GiB pushed again
// stores and moves nothing), and an interrupted transfer resumes chunk by
// chunk from what the receiver already has; the object store addresses
// whole objects by name and reads them from their start.
package files
