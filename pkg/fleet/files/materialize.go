package files

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Materialize builds the tree of m (the manifest ref names, as Fetch
// returned it) from the cached chunks, once, under
// Dir/trees/<ref digest>[-p], and returns the path of its root entry.
// Files get their manifest modes always, and their times with preserve;
// symlinks are made as symlinks. Each file is checked against its whole
// digest. The tree is not evicted until release is called (once per
// successful call; later calls do nothing). A chunk missing from the
// cache (evicted since Fetch) fails with an error wrapping ErrNotFound:
// Fetch again.
func (c *Cache) Materialize(ctx context.Context, ref Ref, m *Manifest, preserve bool) (root string, release func(), err error) {
	if Sum(m.Encode()) != ref.Digest {
		return "", nil, fmt.Errorf("materialize %s: the manifest given is not the one the ref names", ref.Digest)
	}
	key := ref.Digest.String()
	if preserve {
		key += "-p"
	}
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return "", nil, fmt.Errorf("materialize %s: %w", ref.Digest, errClosed)
		}
		t := c.trees[key]
		if t == nil {
			t = &cachedTree{built: make(chan struct{})}
			c.trees[key] = t
			c.mu.Unlock()
			return c.build(ctx, key, t, m, preserve)
		}
		if t.root != "" {
			t.refs++
			t.used = time.Now()
			c.mu.Unlock()
			return t.root, c.releaser(t), nil
		}
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return "", nil, ctx.Err()
		case <-t.built:
		}
		// Built (the next turn takes a reference) or failed (the next
		// turn builds again).
	}
}

// releaser returns the release function of one reference to t.
func (c *Cache) releaser(t *cachedTree) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			t.refs--
			t.used = time.Now()
			c.mu.Unlock()
		})
	}
}

// build builds the tree t of key, then publishes it (or its failure) to
// those waiting.
func (c *Cache) build(ctx context.Context, key string, t *cachedTree, m *Manifest, preserve bool) (string, func(), error) {
	var ds []Digest
	for i := range m.Entries {
		ds = append(ds, m.Entries[i].Chunks...)
	}
	c.pin(ds)
	defer c.unpin(ds)
	_, size := m.totals()
	c.makeRoom(size)
	dir := filepath.Join(c.treeDir, key)
	tmp, err := os.MkdirTemp(c.tmpDir, "tree-")
	if err == nil {
		err = c.writeTree(ctx, tmp, m, preserve)
		if err == nil {
			err = os.Rename(tmp, dir)
		}
		if err != nil {
			_ = removeTree(tmp)
		}
	}
	c.mu.Lock()
	defer close(t.built)
	defer c.mu.Unlock()
	if err != nil {
		delete(c.trees, key)
		return "", nil, fmt.Errorf("materialize %s: %w", key, err)
	}
	t.root = filepath.Join(dir, filepath.FromSlash(m.Entries[0].Path))
	t.size, t.used, t.refs = size, time.Now(), 1
	c.bytes += size
	c.built.Add(1)
	return t.root, c.releaser(t), nil
}

// writeTree writes m's entries under dir, which is new and empty: every
// entry is created (never opened existing), so no path of the tree
// resolves through a link of the tree (DecodeManifest checked that each
// parent is a directory of the tree).
func (c *Cache) writeTree(ctx context.Context, dir string, m *Manifest, preserve bool) error {
	var buf []byte
	for i := range m.Entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		e := &m.Entries[i]
		p := filepath.Join(dir, filepath.FromSlash(e.Path))
		var err error
		switch e.Type {
		case TypeDir:
			err = os.Mkdir(p, 0o700) // its mode once filled, below
		case TypeSymlink:
			if err = os.Symlink(e.Target, p); err == nil && preserve {
				err = lchtimes(p, e.AccessTime, e.ModTime)
			}
		case TypeFile:
			buf, err = c.writeFile(ctx, p, e, buf)
			if err == nil {
				err = setAttrs(p, e, true, preserve)
			}
		}
		if err != nil {
			return fmt.Errorf("%s: %w", e.Path, err)
		}
	}
	// Directories last, deepest first: their times change as they are
	// filled, and a read-only one could not be.
	for i := len(m.Entries) - 1; i >= 0; i-- {
		e := &m.Entries[i]
		if e.Type == TypeDir {
			if err := setAttrs(filepath.Join(dir, filepath.FromSlash(e.Path)), e, true, preserve); err != nil {
				return fmt.Errorf("%s: %w", e.Path, err)
			}
		}
	}
	return nil
}

// writeFile creates p (it must not exist) with the cached chunks of e,
// checking its digest; buf is reused across calls.
func (c *Cache) writeFile(ctx context.Context, p string, e *Entry, buf []byte) ([]byte, error) {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, 0o600)
	if err != nil {
		return buf, err
	}
	h := newHash()
	var n int64
	for _, d := range e.Chunks {
		data, err := getChunk(ctx, c, d, buf)
		if err != nil {
			f.Close()
			return buf, err
		}
		buf = data
		h.Write(data)
		n += int64(len(data))
		if _, err := f.Write(data); err != nil {
			f.Close()
			return buf, err
		}
	}
	if err := f.Close(); err != nil {
		return buf, err
	}
	return buf, checkFile(e, n, h.Sum(nil))
}

// checkFile checks what was written of e: n bytes hashing to sum.
func checkFile(e *Entry, n int64, sum []byte) error {
	if n != e.Size {
		return fmt.Errorf("chunks hold %d bytes, not %d", n, e.Size)
	}
	if Digest(sum) != e.Digest {
		return fmt.Errorf("content has digest %x, not %s", sum, e.Digest)
	}
	return nil
}

// setAttrs sets the mode of the file or directory p (when mode) and its
// times (when times) from e.
func setAttrs(p string, e *Entry, mode, times bool) error {
	if mode {
		if err := os.Chmod(p, e.Mode); err != nil {
			return err
		}
	}
	if times {
		return os.Chtimes(p, e.AccessTime, e.ModTime)
	}
	return nil
}
