package sshtest

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
)

// maxReorder bounds the bytes a sink stream holds while waiting for an
// earlier offset. pkg/sftp's client keeps at most 64 writes of 32 KiB in
// flight, OpenSSH's sftp 64 of 32 KiB as well, and the request server
// runs them on 8 workers: a gap never spans more than 2 MiB.
const maxReorder = 8 << 20

// sinkStream hashes what one open handle writes, in offset order:
// writes at the next offset are hashed at once, later ones wait (copied)
// until the gap before them fills. A write behind the hashed offset
// cannot be checked and marks the file's content unknown.
type sinkStream struct {
	node *sinkNode
	e    *sinkEntry
	size atomic.Int64 // bytes hashed, shown by Stat while open

	mu      sync.Mutex
	h       hash.Hash
	next    int64
	pending map[int64][]byte
	held    int64 // bytes in pending
	err     string
}

func newSinkStream(n *sinkNode, e *sinkEntry) *sinkStream {
	return &sinkStream{node: n, e: e, h: sha256.New(), pending: map[int64][]byte{}}
}

// WriteAt implements io.WriterAt for the request server, which calls it
// from several workers at once.
func (w *sinkStream) WriteAt(p []byte, off int64) (int, error) {
	if err := w.node.reserve(int64(len(p))); err != nil {
		w.fail(fmt.Sprintf("write of %d bytes at %d: %v", len(p), off, err))
		return 0, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case off == w.next:
		w.h.Write(p)
		w.next += int64(len(p))
		for {
			b, ok := w.pending[w.next]
			if !ok {
				break
			}
			delete(w.pending, w.next)
			w.held -= int64(len(b))
			w.h.Write(b)
			w.next += int64(len(b))
		}
		w.size.Store(w.next)
	case off > w.next:
		if _, dup := w.pending[off]; dup || w.held+int64(len(p)) > maxReorder {
			w.setErr(fmt.Sprintf("write at %d while waiting for %d: past the %d-byte reorder window", off, w.next, maxReorder))
			return 0, fmt.Errorf("sshtest sink: %s: %w", w.err, sftp.ErrSSHFxOpUnsupported)
		}
		// The request server reuses p once we return.
		w.pending[off] = append([]byte(nil), p...)
		w.held += int64(len(p))
	default:
		w.setErr(fmt.Sprintf("write at %d behind the %d bytes already hashed", off, w.next))
		return 0, fmt.Errorf("sshtest sink: %s: %w", w.err, sftp.ErrSSHFxOpUnsupported)
	}
	return len(p), nil
}

// setErr keeps the first reason the content is unknown; w.mu is held.
func (w *sinkStream) setErr(msg string) {
	if w.err == "" {
		w.err = msg
	}
}

func (w *sinkStream) fail(msg string) {
	w.mu.Lock()
	w.setErr(msg)
	w.mu.Unlock()
}

// truncate handles a Setstat of the size while the handle is open: the
// size written (what scp-like clients send after writing over an old
// file) and 0 keep the hash exact; any other size cannot be hashed
// without the bytes.
func (w *sinkStream) truncate(size int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case size == w.next && len(w.pending) == 0:
		return nil
	case size == 0:
		w.h.Reset()
		w.next, w.pending, w.held = 0, map[int64][]byte{}, 0
		w.size.Store(0)
		return nil
	}
	return fmt.Errorf("sshtest sink: truncate to %d of a file of %d bytes: %w", size, w.next, sftp.ErrSSHFxOpUnsupported)
}

// TransferError marks the content as cut short: the request server
// calls it before Close when the connection ended with the file still
// open (a client killed mid-copy), so a partial file never passes for a
// whole one of a smaller size.
func (w *sinkStream) TransferError(err error) {
	w.fail(fmt.Sprintf("connection lost with the file open: %v", err))
}

// Close records the file's size and hash in its entry; the request
// server calls it when the client closes the handle or the connection
// ends.
func (w *sinkStream) Close() error {
	w.mu.Lock()
	if len(w.pending) > 0 && w.err == "" {
		w.err = fmt.Sprintf("gap at offset %d never written (%d bytes after it)", w.next, w.held)
	}
	var sum [32]byte
	w.h.Sum(sum[:0])
	size, msg := w.next, w.err
	w.mu.Unlock()

	n := w.node
	n.mu.Lock()
	defer n.mu.Unlock()
	if w.e.w == w {
		w.e.w = nil
		w.e.size, w.e.sum, w.e.err = size, sum, msg
		w.e.mtime = time.Now()
	}
	return nil
}

// reserve accounts n bytes of file data, or fails with ENOSPC past the
// node's limit.
func (n *sinkNode) reserve(b int64) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.limit >= 0 && n.used+b > n.limit {
		return errNoSpc
	}
	n.used += b
	return nil
}
