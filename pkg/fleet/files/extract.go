package files

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// ExtractOptions tunes Extract.
type ExtractOptions struct {
	// Preserve gives every entry its manifest mode (setuid, setgid and
	// sticky included) and times, as scp -p; without it, modes follow
	// scp's rule (see Extract).
	Preserve bool
	// Window is how many Gets are in flight at once (default 8); the
	// bytes held stay under (Window+1)×ChunkSize.
	Window int
}

// ExtractStats says what an Extract wrote.
type ExtractStats struct {
	Files, Dirs, Links int
	// Bytes and Chunks are the file bytes written and the chunks got
	// for them.
	Bytes  int64
	Chunks int
}

// Extract writes the tree ref names, got from from, as dest: dest is
// the path the root entry becomes (a file, a directory or a symlink),
// its children below it. Chunks are got Window at a time in order and
// streamed to each file, which is written to a temporary name in its
// directory and renamed over its destination once whole and matching
// its digest. An existing directory is written into, as scp does.
//
// Without Preserve, modes are the local side of a reverse copy by the
// SSH worker (pkg/workers/ssh/copy.go, scp's sink): a new file gets the
// entry's permissions less the umask, a new directory those and owner
// rwx less the umask; a file that existed keeps its mode, a directory
// that existed is left alone. With Preserve, every entry gets its exact
// mode and times. Unlike scp, which writes into an existing file, a file
// replaces what was at its path (a symlink there is replaced, not
// followed).
func Extract(ctx context.Context, ref Ref, from ChunkStore, dest string, opts ExtractOptions) (ExtractStats, error) {
	if opts.Window <= 0 {
		opts.Window = 8
	}
	var st ExtractStats
	m, err := ReadManifest(ctx, ref, from)
	if err != nil {
		return st, fmt.Errorf("extract %s: %w", dest, err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	chunks, wait := prefetch(ctx, m, from, opts.Window)
	defer wait()
	defer cancel(nil) // before wait: stop the Gets of an extract that failed
	x := &extractor{m: m, dest: dest, chunks: chunks, preserve: opts.Preserve, st: &st}
	for i := range m.Entries {
		if err := x.entry(ctx, &m.Entries[i]); err != nil {
			return st, err
		}
	}
	if opts.Preserve {
		for i := len(m.Entries) - 1; i >= 0; i-- {
			if e := &m.Entries[i]; e.Type == TypeDir {
				if err := setAttrs(x.target(e), e, true, true); err != nil {
					return st, fmt.Errorf("extract: %w", err)
				}
			}
		}
	}
	return st, nil
}

// slot is one chunk being got, in the order files need them.
type slot struct {
	d    Digest
	data []byte
	err  error
	done chan struct{}
}

// prefetch gets the chunks of m's files in order, window at a time: the
// channel yields their slots in order, each done once got. wait returns
// once every goroutine started has ended (cancel ctx first to hurry
// them).
func prefetch(ctx context.Context, m *Manifest, from ChunkStore, window int) (<-chan *slot, func()) {
	order := make(chan *slot, window)
	jobs := make(chan *slot)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(order)
		defer close(jobs)
		for i := range m.Entries {
			for _, d := range m.Entries[i].Chunks {
				s := &slot{d: d, done: make(chan struct{})}
				select {
				case order <- s:
				case <-ctx.Done():
					return
				}
				select {
				case jobs <- s:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	for range window {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range jobs {
				s.data, s.err = getChunk(ctx, from, s.d, nil)
				close(s.done)
			}
		}()
	}
	return order, wg.Wait
}

// extractor is one Extract in progress.
type extractor struct {
	m        *Manifest
	dest     string
	chunks   <-chan *slot
	preserve bool
	st       *ExtractStats
}

// target is where e goes: dest for the root, below it for the others.
func (x *extractor) target(e *Entry) string {
	return x.dest + filepath.FromSlash(e.Path[len(x.m.Entries[0].Path):])
}

func (x *extractor) entry(ctx context.Context, e *Entry) error {
	p := x.target(e)
	var err error
	switch e.Type {
	case TypeDir:
		err = x.dir(p, e)
	case TypeFile:
		err = x.file(ctx, p, e)
	case TypeSymlink:
		err = replace(p, func(tmp string) error {
			if err := os.Symlink(e.Target, tmp); err != nil {
				return err
			}
			if x.preserve {
				return lchtimes(tmp, e.AccessTime, e.ModTime)
			}
			return nil
		})
		x.st.Links++
	}
	if err != nil {
		return fmt.Errorf("extract %s: %w", p, err)
	}
	return nil
}

// dir makes the directory p unless there is one (scp follows a link to
// a directory there); its mode and times wait for the end with Preserve.
func (x *extractor) dir(p string, e *Entry) error {
	x.st.Dirs++
	fi, err := os.Stat(p)
	switch {
	case err == nil && !fi.IsDir():
		return syscall.ENOTDIR
	case err == nil:
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	return os.Mkdir(p, e.Mode.Perm()|0o700)
}

// file writes e's chunks, as the prefetcher yields them, to a temporary
// file renamed to p.
func (x *extractor) file(ctx context.Context, p string, e *Entry) error {
	x.st.Files++
	// Without Preserve, a file that exists keeps its mode.
	var keep *fs.FileMode
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && !x.preserve {
		mode := fi.Mode() & modeMask
		keep = &mode
	}
	return replace(p, func(tmp string) error {
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, e.Mode.Perm())
		if err != nil {
			return err
		}
		h := newHash()
		var n int64
		for range e.Chunks {
			var s *slot
			select {
			case s = <-x.chunks:
			case <-ctx.Done():
			}
			if s == nil {
				f.Close()
				return context.Cause(ctx)
			}
			select {
			case <-s.done:
			case <-ctx.Done(): // s may never have been handed to a getter
				f.Close()
				return context.Cause(ctx)
			}
			if s.err != nil {
				f.Close()
				return s.err
			}
			h.Write(s.data)
			n += int64(len(s.data))
			if _, err := f.Write(s.data); err != nil {
				f.Close()
				return err
			}
			x.st.Chunks++
		}
		if err := f.Close(); err != nil {
			return err
		}
		if err := checkFile(e, n, h.Sum(nil)); err != nil {
			return err
		}
		x.st.Bytes += n
		switch {
		case x.preserve:
			return setAttrs(tmp, e, true, true)
		case keep != nil:
			return os.Chmod(tmp, *keep)
		}
		return nil
	})
}

// replace makes a new entry with create at a temporary name next to p
// (create must fail with fs.ErrExist, creating nothing, when the name is
// taken) and renames it to p, removing it if anything fails.
func replace(p string, create func(tmp string) error) error {
	var tmp string
	var err error
	for range 10 {
		tmp = filepath.Join(filepath.Dir(p), fmt.Sprintf(".fleetsh-%016x.part", rand.Uint64()))
		if err = create(tmp); !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	switch {
	case errors.Is(err, fs.ErrExist):
		return err // not ours to remove
	case err == nil:
		err = os.Rename(tmp, p)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}
