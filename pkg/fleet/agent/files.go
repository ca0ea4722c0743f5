package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/fleet/files"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Copies through the fleet (pkg/fleet/files). A push (CopySpec.Tree)
// runs in two steps: the shard fetches the tree from the coordinator
// into the agent's file cache, once per agent whatever the number of
// shards and nodes (the cache shares a fetch in progress), builds it on
// the gateway's disk once, then copies that local tree to its nodes with
// the job's worker, as a local copy would. A reverse copy with Collect
// writes each node's copy to a private spool directory, sends it to the
// coordinator's store, tells the submitter where it is (a KindTree event
// before the node's end), and removes it.

// DefaultCollectors bounds the node copies a reverse-copy shard sends
// back at once.
const DefaultCollectors = 4

// defaultFileCacheDir is systemd's CacheDirectory= when the agent runs
// under one, else the user's cache directory.
func defaultFileCacheDir() (string, error) {
	if d, _, _ := strings.Cut(os.Getenv("CACHE_DIRECTORY"), ":"); d != "" {
		return filepath.Join(d, "files"), nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("file cache: %w (give one with --file-cache)", err)
	}
	return filepath.Join(d, "fleetsh", "files"), nil
}

// fileCache opens the agent's file cache at the first copy that needs
// it: an agent that never copies makes no directory.
func (a *Agent) fileCache() (*files.Cache, error) {
	a.cacheMu.Lock()
	defer a.cacheMu.Unlock()
	if a.cache != nil {
		return a.cache, nil
	}
	cfg := a.cfg.FileCache
	if cfg.Dir == "" {
		d, err := defaultFileCacheDir()
		if err != nil {
			return nil, err
		}
		cfg.Dir = d
	}
	if cfg.Log == nil {
		cfg.Log = a.log
	}
	c, err := files.OpenCache(cfg)
	if err != nil {
		return nil, fmt.Errorf("file cache %s: %w", cfg.Dir, err)
	}
	// Reverse copies spool beside the cache; what a killed agent left
	// there is no one's any more.
	a.collectDir = filepath.Join(cfg.Dir, "collect")
	if err := os.RemoveAll(a.collectDir); err != nil {
		return nil, fmt.Errorf("file cache %s: %w", cfg.Dir, err)
	}
	if err := os.MkdirAll(a.collectDir, 0o700); err != nil {
		return nil, fmt.Errorf("file cache %s: %w", cfg.Dir, err)
	}
	a.cache = c
	return c, nil
}

// closeFileCache closes the cache when it was opened (Run's end).
func (a *Agent) closeFileCache() {
	a.cacheMu.Lock()
	defer a.cacheMu.Unlock()
	if a.cache != nil {
		if err := a.cache.Close(); err != nil {
			a.log.Warn("file cache close", "err", err)
		}
		a.cache = nil
	}
}

// filesClient is the store of the coordinator as this shard reaches it.
func (s *shard) filesClient() *files.Client {
	return &files.Client{Conn: s.a.nc, Subject: s.a.subj.AgentFiles(s.a.cfg.ID), Job: s.sh.Job}
}

// fetchTree fetches and builds the tree a push copies, returning the
// local path of its root; release is called once the copy ended.
func (s *shard) fetchTree(ctx context.Context, cp *protocol.CopySpec) (root string, release func(), err error) {
	c, err := s.a.fileCache()
	if err != nil {
		return "", nil, err
	}
	m, st, err := c.Fetch(ctx, *cp.Tree, s.filesClient(), files.FetchOptions{})
	s.a.count.fetched(st) // what a failed fetch got is on disk too
	if err != nil {
		return "", nil, fmt.Errorf("fetch %s (tree %.12s) from the fleet: %w", cp.Source, cp.Tree.Digest, err)
	}
	if err := noLinks(m); err != nil {
		return "", nil, fmt.Errorf("%s (tree %.12s): %w", cp.Source, cp.Tree.Digest, err)
	}
	s.log.Info("tree fetched", "tree", cp.Tree.Digest.String(), "files", cp.Tree.Files, "bytes", cp.Tree.Bytes,
		"fetched_chunks", st.Fetched, "fetched_bytes", st.FetchedBytes, "cached_chunks", st.Found, "shared", st.Joined)
	root, release, err = c.Materialize(ctx, *cp.Tree, m, cp.Preserve)
	if err != nil {
		return "", nil, fmt.Errorf("build %s (tree %.12s) on the gateway: %w", cp.Source, cp.Tree.Digest, err)
	}
	return root, release, nil
}

// collector sends the copies of a Collect shard's nodes back through the
// fleet, a few at a time, off the engine's loop.
type collector struct {
	s      *shard
	ctx    context.Context
	dir    string // the shard's private spool directory
	source string
	slots  chan struct{}
	wg     sync.WaitGroup
}

// newCollector makes the shard's spool directory in the file cache's.
func (s *shard) newCollector(ctx context.Context, cp *protocol.CopySpec) (*collector, error) {
	if _, err := s.a.fileCache(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(s.a.collectDir, "shard-")
	if err != nil {
		return nil, fmt.Errorf("spool directory: %w", err)
	}
	return &collector{s: s, ctx: ctx, dir: dir, source: cp.Source, slots: make(chan struct{}, DefaultCollectors)}, nil
}

// done is a node's copy ended well: send it back, then end the node. It
// runs on the engine's loop and returns at once unless every slot is
// busy (which holds the loop back: the spool never grows past the nodes
// the engine runs at once plus the slots).
func (c *collector) done(key string, idx []uint32) {
	c.slots <- struct{}{}
	c.wg.Add(1)
	go func() {
		defer func() { <-c.slots; c.wg.Done() }()
		path := engine.RcopyDest(c.dir, c.source, key)
		defer func() {
			if err := os.RemoveAll(path); err != nil {
				c.s.log.Warn("remove a node's spooled copy", "node", key, "err", err)
			}
		}()
		ref, st, err := files.Push(c.ctx, path, c.s.filesClient(), files.PushOptions{})
		if err != nil {
			if errors.Is(err, context.Canceled) && c.ctx.Err() != nil {
				return // the shard was cancelled: endRest ends the node
			}
			msg := fmt.Sprintf("send the copy of %s back through the fleet: %v", key, err)
			c.s.buf.line(key, idx, protocol.KindStderr, []byte(msg))
			c.s.end(key, idx, protocol.Event{State: protocol.StateExited, Code: 1, Data: []byte(msg)})
			return
		}
		c.s.a.count.copies.Add(1)
		c.s.a.count.copyBytes.Add(uint64(st.SentBytes))
		c.s.log.Debug("copy sent back", "node", key, "files", st.Files, "bytes", st.Bytes, "sent_bytes", st.SentBytes)
		c.s.buf.record(protocol.TreeEvent(idx, ref))
		c.s.end(key, idx, protocol.Event{State: protocol.StateExited, Code: 0})
	}()
}

// wait waits for the copies being sent, then removes the spool.
func (c *collector) wait() {
	c.wg.Wait()
	if err := os.RemoveAll(c.dir); err != nil {
		c.s.log.Warn("remove the spool directory", "dir", c.dir, "err", err)
	}
}

// noLinks refuses a tree with symbolic links. csub follows links when it
// stores a tree (as scp -r does), so a link in a manifest was made by
// hand, and the workers' copy would follow it on the gateway: a link to
// the agent's own credential would send it to the nodes.
func noLinks(m *files.Manifest) error {
	for i := range m.Entries {
		if m.Entries[i].Type == files.TypeSymlink {
			return fmt.Errorf("a tree with a symbolic link (%s) is not copied: the gateway would follow it", m.Entries[i].Path)
		}
	}
	return nil
}
