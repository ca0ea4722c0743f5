package files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/fleetsh/fleetsh/internal/fileinfo"
)

// PushOptions tunes Push.
type PushOptions struct {
	// Window is how many Puts are in flight at once (default 8); the
	// bytes read and not yet stored stay under Window×ChunkSize.
	Window int
	// Progress, when set, is called with the bytes of file content done
	// so far (put to the store, or found already there), so that a
	// progress line reaches the total even when nothing needs sending.
	// Calls are serialized.
	Progress func(sent int64)
	// Symlinks keeps symbolic links as links (TypeSymlink entries, never
	// followed). Without it, Push follows them as scp -r and the SSH
	// worker's copy do: a link in a tree (or given as the source) is
	// copied as the file or directory it points to.
	Symlinks bool
}

// PushStats says what a Push read and sent.
type PushStats struct {
	// Files and Bytes are the regular files read and their bytes.
	Files int
	Bytes int64
	// Chunks counts the chunks cut (the manifest's included).
	Chunks int
	// SentChunks and SentBytes are what the store lacked and was given.
	SentChunks int
	SentBytes  int64
}

// maxHasBatch bounds the digests one Has call asks about.
const maxHasBatch = 1024

// Push stores the file, directory tree or symlink src in dst and returns
// the Ref naming it. It reads each file once, cutting it in chunks, asks
// dst which chunks it lacks and puts only those, then stores the
// manifest's encoding as chunks too. A file whose size or modification
// time changed while it was read fails the push, naming it; so does
// anything that is not a regular file, a directory or (with Symlinks) a
// symlink, and a directory that contains itself through symlinks.
func Push(ctx context.Context, src string, dst ChunkStore, opts PushOptions) (Ref, PushStats, error) {
	if opts.Window <= 0 {
		opts.Window = 8
	}
	abs, err := filepath.Abs(src)
	if err != nil {
		return Ref{}, PushStats{}, fmt.Errorf("push %s: %w", src, err)
	}
	base := filepath.Base(abs)
	if base == string(filepath.Separator) || base == "." {
		return Ref{}, PushStats{}, fmt.Errorf("push %s: no base name to give the tree", src)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	p := &pusher{ctx: ctx, cancel: cancel, dst: dst, opts: opts, known: make(map[Digest]bool)}
	p.budget.free = int64(opts.Window) * ChunkSize
	p.budget.cond = sync.NewCond(&p.budget.mu)
	// Wake a reserve waiting for bytes when the push is cancelled.
	stop := context.AfterFunc(ctx, func() {
		p.budget.mu.Lock()
		p.budget.cond.Broadcast()
		p.budget.mu.Unlock()
	})
	defer stop()
	p.puts = make(chan chunkData)
	for range opts.Window {
		p.workers.Add(1)
		go p.putter()
	}
	err = p.walk(src, base, nil)
	var ref Ref
	if err == nil {
		ref, err = p.pushManifest()
	}
	if err == nil {
		err = p.flush()
	}
	close(p.puts)
	p.workers.Wait()
	if err == nil {
		err = context.Cause(ctx)
	}
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) && errors.Is(err, context.Canceled) {
			err = cause // a putter's error, not the cancellation it caused
		}
		return Ref{}, p.stats, err
	}
	ref.Files, ref.Bytes = p.m.totals()
	return ref, p.stats, nil
}

// chunkData is a chunk read and not yet known to be stored.
type chunkData struct {
	d    Digest
	data []byte
	// meta marks the manifest's chunks, which Progress does not count.
	meta bool
	// path names the file the chunk was cut from, in errors.
	path string
}

// pusher is one Push in progress.
type pusher struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	dst    ChunkStore
	opts   PushOptions
	m      Manifest

	// known are the digests stored or queued in this push: the same
	// content seen again is not asked about nor sent again.
	known   map[Digest]bool
	pending []chunkData

	budget struct {
		mu   sync.Mutex
		cond *sync.Cond
		free int64
	}
	puts    chan chunkData
	workers sync.WaitGroup

	mu    sync.Mutex // guards stats' sent counts, done and Progress
	stats PushStats
	done  int64
}

// walk adds src (named rel in the tree) and, for a directory, its
// children; dirs are the directories above it, to refuse a loop.
func (p *pusher) walk(src, rel string, dirs []os.FileInfo) error {
	if err := p.ctx.Err(); err != nil {
		return context.Cause(p.ctx)
	}
	stat := os.Stat
	if p.opts.Symlinks {
		stat = os.Lstat
	}
	fi, err := stat(src)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	e := Entry{Path: rel, Mode: fi.Mode() & modeMask, ModTime: fi.ModTime(), AccessTime: fileinfo.AccessTime(fi)}
	switch {
	case fi.Mode().IsRegular():
		return p.file(src, e)
	case fi.Mode()&fs.ModeSymlink != 0:
		if e.Target, err = os.Readlink(src); err != nil {
			return fmt.Errorf("push: %w", err)
		}
		// Reading a link sets its access time: record the modification
		// time instead, so that pushing a tree twice names the same
		// manifest.
		e.Type, e.AccessTime = TypeSymlink, e.ModTime
		p.m.Entries = append(p.m.Entries, e)
		return nil
	case !fi.IsDir():
		return fmt.Errorf("push: %s: not a regular file", src)
	}
	for _, up := range dirs {
		if os.SameFile(up, fi) {
			return fmt.Errorf("push: %s: directory loop through a symbolic link", src)
		}
	}
	e.Type = TypeDir
	p.m.Entries = append(p.m.Entries, e)
	if len(p.m.Entries) > MaxEntries {
		return fmt.Errorf("push: %s: more than %d entries", src, MaxEntries)
	}
	names, err := readNames(src)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	dirs = append(dirs, fi)
	for _, name := range names {
		if err := p.walk(filepath.Join(src, name), rel+"/"+name, dirs); err != nil {
			return err
		}
	}
	return nil
}

// readNames lists a directory, sorted, leaving its access time alone
// when it may.
func readNames(dir string) ([]string, error) {
	f, err := openRead(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	return names, nil
}

// file reads the regular file src chunk by chunk and adds its entry.
func (p *pusher) file(src string, e Entry) error {
	f, err := openRead(src)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	if !before.Mode().IsRegular() {
		return fmt.Errorf("push: %s: not a regular file", src)
	}
	if before.Size() > MaxFileSize {
		return fmt.Errorf("push: %s: %d bytes, more than %d", src, before.Size(), int64(MaxFileSize))
	}
	e.Type, e.Size, e.ModTime = TypeFile, before.Size(), before.ModTime()
	e.Mode, e.AccessTime = before.Mode()&modeMask, fileinfo.AccessTime(before)
	whole := newHash()
	for off := int64(0); off < e.Size; off += ChunkSize {
		n := min(e.Size-off, ChunkSize)
		if err := p.reserve(n); err != nil {
			return err
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(f, data); err != nil {
			p.release(n)
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return fmt.Errorf("push: %s: changed while read (shorter than %d bytes)", src, e.Size)
			}
			return fmt.Errorf("push: %w", err)
		}
		whole.Write(data)
		d := Sum(data)
		e.Chunks = append(e.Chunks, d)
		if err := p.add(chunkData{d: d, data: data, path: src}); err != nil {
			return err
		}
	}
	var one [1]byte
	if n, _ := f.Read(one[:]); n > 0 {
		return fmt.Errorf("push: %s: changed while read (longer than %d bytes)", src, e.Size)
	}
	after, err := f.Stat()
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	if after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		return fmt.Errorf("push: %s: changed while read", src)
	}
	whole.Sum(e.Digest[:0])
	p.m.Entries = append(p.m.Entries, e)
	if len(p.m.Entries) > MaxEntries {
		return fmt.Errorf("push: %s: more than %d entries", src, MaxEntries)
	}
	p.mu.Lock()
	p.stats.Files++
	p.stats.Bytes += e.Size
	p.mu.Unlock()
	return nil
}

// pushManifest stores the manifest's encoding as chunks.
func (p *pusher) pushManifest() (Ref, error) {
	enc := p.m.Encode()
	if len(enc) > MaxManifest {
		return Ref{}, fmt.Errorf("push: manifest of %d bytes, more than %d", len(enc), MaxManifest)
	}
	ref := Ref{Digest: Sum(enc), Size: int64(len(enc))}
	for off := 0; off < len(enc); off += ChunkSize {
		data := enc[off:min(off+ChunkSize, len(enc))]
		if err := p.reserve(int64(len(data))); err != nil {
			return Ref{}, err
		}
		d := Sum(data)
		ref.Chunks = append(ref.Chunks, d)
		if err := p.add(chunkData{d: d, data: data, meta: true, path: "manifest"}); err != nil {
			return Ref{}, err
		}
	}
	return ref, nil
}

// reserve waits until n more bytes may be held, flushing what is
// pending first when they may not be now.
func (p *pusher) reserve(n int64) error {
	b := &p.budget
	b.mu.Lock()
	ok := b.free >= n
	if ok {
		b.free -= n
	}
	b.mu.Unlock()
	if ok {
		return nil
	}
	if err := p.flush(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.free < n && p.ctx.Err() == nil {
		b.cond.Wait()
	}
	if p.ctx.Err() != nil {
		return context.Cause(p.ctx)
	}
	b.free -= n
	return nil
}

func (p *pusher) release(n int64) {
	p.budget.mu.Lock()
	p.budget.free += n
	p.budget.mu.Unlock()
	p.budget.cond.Broadcast()
}

// add counts a chunk whose bytes were reserved and queues it unless it
// is known stored.
func (p *pusher) add(c chunkData) error {
	p.mu.Lock()
	p.stats.Chunks++
	p.mu.Unlock()
	if p.known[c.d] {
		p.release(int64(len(c.data)))
		p.progress(c)
		return nil
	}
	p.known[c.d] = true
	p.pending = append(p.pending, c)
	if len(p.pending) >= maxHasBatch {
		return p.flush()
	}
	return nil
}

// flush asks the store which pending chunks it lacks and hands those to
// the putters.
func (p *pusher) flush() error {
	if len(p.pending) == 0 {
		return nil
	}
	batch := p.pending
	p.pending = nil
	ds := make([]Digest, len(batch))
	for i := range batch {
		ds[i] = batch[i].d
	}
	has, err := p.dst.Has(p.ctx, ds)
	if err == nil && len(has) != len(ds) {
		err = fmt.Errorf("store answered %d of %d digests", len(has), len(ds))
	}
	if err != nil {
		for _, c := range batch {
			p.release(int64(len(c.data)))
		}
		return fmt.Errorf("push: has: %w", err)
	}
	for i, c := range batch {
		if has[i] {
			p.release(int64(len(c.data)))
			p.progress(c)
			continue
		}
		select {
		case p.puts <- c:
		case <-p.ctx.Done():
			for _, c := range batch[i:] {
				p.release(int64(len(c.data)))
			}
			return context.Cause(p.ctx)
		}
	}
	return nil
}

// putter stores the chunks it is handed until puts is closed.
func (p *pusher) putter() {
	defer p.workers.Done()
	for c := range p.puts {
		if p.ctx.Err() == nil {
			if err := p.dst.Put(p.ctx, c.d, c.data); err != nil {
				p.cancel(fmt.Errorf("push %s: put chunk %s: %w", c.path, c.d, err))
			} else {
				p.mu.Lock()
				p.stats.SentChunks++
				p.stats.SentBytes += int64(len(c.data))
				p.mu.Unlock()
				p.progress(c)
			}
		}
		p.release(int64(len(c.data)))
	}
}

// progress reports chunk c done.
func (p *pusher) progress(c chunkData) {
	if p.opts.Progress == nil || c.meta {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += int64(len(c.data))
	p.opts.Progress(p.done)
}
