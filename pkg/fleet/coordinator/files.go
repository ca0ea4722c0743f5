package coordinator

import (
	"context"
	"fmt"
	"sync"

	"github.com/fleetsh/fleetsh/pkg/fleet/files"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Copies through the fleet (pkg/fleet/files). The coordinator owns the
// chunk store (Config.Files) and serves it to users and agents, who never
// touch JetStream themselves; each request is authorized here by the
// sender's identity (the token of the subject it came on) and the job it
// names:
//
//   - a user's has/put without a job uploads a push's tree before the
//     job exists: allowed when the policy lets the user push at all, so
//     nobody else fills the store;
//   - an agent's get reads the tree of a push it holds a shard of, and
//     only its chunks (the manifest's and its files');
//   - an agent's has/put stores its nodes' copies for a reverse copy it
//     holds a shard of;
//   - a user's get reads the chunks of the copies its own reverse copy
//     collected (the trees its KindTree events name).
//
// Anything else is denied. The digest sets are built from manifests in
// the store the first time they are needed, so a coordinator that resumed
// or took over the job serves it too.

// treeIndex is the set of chunks a job's trees are made of, built once.
type treeIndex struct {
	mu      sync.Mutex
	digests map[protocol.Digest]struct{}
	indexed map[protocol.Digest]bool // the manifests already read
}

// add reads the manifest of ref (unless read already) and adds its chunks.
func (x *treeIndex) add(ctx context.Context, store files.ChunkStore, ref protocol.TreeRef) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.indexed[ref.Digest] {
		return nil
	}
	m, err := files.ReadManifest(ctx, ref, store)
	if err != nil {
		return err
	}
	if x.digests == nil {
		x.digests, x.indexed = make(map[protocol.Digest]struct{}), make(map[protocol.Digest]bool)
	}
	for _, d := range ref.Chunks {
		x.digests[d] = struct{}{}
	}
	for i := range m.Entries {
		for _, d := range m.Entries[i].Chunks {
			x.digests[d] = struct{}{}
		}
	}
	x.indexed[ref.Digest] = true
	return nil
}

// holds reports whether every digest of ds is in the set.
func (x *treeIndex) holds(ds []protocol.Digest) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, d := range ds {
		if _, ok := x.digests[d]; !ok {
			return false
		}
	}
	return true
}

// checkTree refuses a push whose tree is not whole in the store: the
// submitter uploads it first, and a tree dropped since (the store's age
// or size limits) must be pushed again rather than fail on every agent.
func (c *Coordinator) checkTree(ctx context.Context, spec *protocol.JobSpec) error {
	cp := spec.Copy
	if cp == nil || cp.Tree == nil {
		return nil
	}
	if c.cfg.Files == nil {
		return refusal(protocol.CodeBadRequest, "job %s: this coordinator has no file store: a copy through the fleet needs one (coordinator --store)", spec.ID)
	}
	if len(cp.Tree.Chunks) > files.MaxManifest/files.ChunkSize+1 || cp.Tree.Size > files.MaxManifest {
		return refusal(protocol.CodeBadRequest, "job %s: a tree manifest of %d bytes: over the limit of %d", spec.ID, cp.Tree.Size, files.MaxManifest)
	}
	m, err := files.ReadManifest(ctx, *cp.Tree, c.cfg.Files)
	if err != nil {
		return refusal(protocol.CodeBadRequest, "job %s: the tree of %s is not in the fleet's store (push it again): %v",
			spec.ID, protocol.Truncate(cp.Source, protocol.MaxLogField), err)
	}
	var all []protocol.Digest
	for i := range m.Entries {
		if m.Entries[i].Type == files.TypeSymlink {
			// Agents refuse them too (their copy would follow the link on
			// the gateway); csub never stores one.
			return refusal(protocol.CodeBadRequest, "job %s: the tree of %s holds a symbolic link (%s): refused",
				spec.ID, protocol.Truncate(cp.Source, protocol.MaxLogField), protocol.Truncate(m.Entries[i].Path, protocol.MaxLogField))
		}
		all = append(all, m.Entries[i].Chunks...)
	}
	for len(all) > 0 {
		n := min(len(all), protocol.MaxHasDigests)
		have, err := c.cfg.Files.Has(ctx, all[:n])
		if err != nil {
			return fmt.Errorf("job %s: file store: %w", spec.ID, err)
		}
		for i, ok := range have {
			if !ok {
				return refusal(protocol.CodeBadRequest, "job %s: chunk %s of the tree of %s is not in the fleet's store (push it again)",
					spec.ID, all[i], protocol.Truncate(cp.Source, protocol.MaxLogField))
			}
		}
		all = all[n:]
	}
	return nil
}

// authorizeFile decides a request on the files subjects.
func (c *Coordinator) authorizeFile(r files.Request) error {
	deny := func(format string, args ...any) error {
		err := refusal(protocol.CodeDenied, format, args...)
		c.log.Debug("file request denied", "op", r.Op.String(), "sender", protocol.Truncate(r.Sender, protocol.MaxLogField),
			"agent", r.FromAgent, "job", protocol.Truncate(r.Job, protocol.MaxLogField), "err", err)
		return err
	}
	if r.Job == "" {
		if r.FromAgent || r.Op == files.OpGet {
			return deny("a read, or an agent's request, names a job")
		}
		if !c.cfg.Policy.MayCopy(r.Sender) {
			return deny("denied by policy: user %s may copy to no node", protocol.Truncate(r.Sender, protocol.MaxLogField))
		}
		return nil
	}
	j := c.job(r.Job)
	if j == nil {
		if c.foreign(r.Job) {
			return files.ErrNotMine // its owner answers
		}
		return deny("no job %s here", protocol.Truncate(r.Job, protocol.MaxLogField))
	}
	cp := j.spec.Copy
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.DispatchTimeout*4)
	defer cancel()
	switch {
	case r.FromAgent && r.Op == files.OpGet && cp != nil && cp.Tree != nil:
		if !j.heldBy(r.Sender) {
			return deny("agent %s holds no shard of job %s", r.Sender, r.Job)
		}
		if err := j.pushed.add(ctx, c.cfg.Files, *cp.Tree); err != nil {
			return fmt.Errorf("job %s: index its tree: %w", r.Job, err)
		}
		if !j.pushed.holds(r.Digests) {
			return deny("a chunk that is not part of the tree of job %s", r.Job)
		}
		return nil
	case r.FromAgent && cp != nil && cp.Collect:
		if r.Op == files.OpGet {
			return deny("an agent reads no reverse copy")
		}
		if !j.heldBy(r.Sender) {
			return deny("agent %s holds no shard of job %s", r.Sender, r.Job)
		}
		return nil
	case !r.FromAgent && r.Op == files.OpGet && cp != nil && cp.Collect && j.spec.User == r.Sender:
		if j.pulled.holds(r.Digests) {
			return nil
		}
		for _, ref := range j.collected() {
			if err := j.pulled.add(ctx, c.cfg.Files, ref); err != nil {
				return fmt.Errorf("job %s: index a node's copy: %w", r.Job, err)
			}
		}
		if !j.pulled.holds(r.Digests) {
			return deny("a chunk that is not part of the copies of job %s", r.Job)
		}
		return nil
	}
	return deny("not a request of job %s this sender may make", r.Job)
}

// heldBy reports whether agent runs, or ran, a shard of the job.
func (j *job) heldBy(agent string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, s := range j.shards {
		if s.agent == agent && !s.dead {
			return true
		}
	}
	return false
}

// collected returns the trees the job's KindTree records name (kept in
// its log whatever MaxReplay says: see emit).
func (j *job) collected() []protocol.TreeRef {
	j.mu.Lock()
	defer j.mu.Unlock()
	var refs []protocol.TreeRef
	for i := range j.log {
		if ref, ok := j.log[i].Tree(); ok {
			refs = append(refs, ref)
		}
	}
	return refs
}
