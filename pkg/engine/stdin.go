package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Standard input bounds of Options.Stdin, the defaults of
// Options.StdinWindow and Options.StdinStall.
const (
	// StdinWindow is how many bytes of Options.Stdin a worker keeps. While
	// the stream is shorter, it is kept whole and every node, whenever the
	// fanout admits it, reads all of it from the start, as ClusterShell
	// buffers writes for nodes not yet started. Past it, what every
	// running node has read is dropped, and reading Options.Stdin waits
	// while the slowest running node is StdinWindow bytes behind: the
	// stream goes at the pace of the nodes, in bounded memory.
	StdinWindow = 16 << 20
	// StdinStall is how long a running node may take nothing from a full
	// window before it is cut off (its command then reads EOF where it
	// stopped): a command that does not read its standard input must not
	// hold up the others.
	StdinStall = 5 * time.Second
)

// ErrStdinGone fails a node that starts after the beginning of a
// standard input longer than StdinWindow was dropped: it cannot get all
// of it. Its node ends with ReasonLocal and this error.
var ErrStdinGone = errors.New("standard input")

// stdinBuf holds what was written to a worker's stdin so that every node,
// whenever the fanout admits it, reads all of it from the start, as
// ClusterShell buffers writes for nodes not yet started. Worker.Write
// keeps everything (it is called from handlers, on the loop, and must not
// wait); Options.Stdin is fed through writeWait, which keeps at most
// StdinWindow bytes (see there).
type stdinBuf struct {
	window int           // Options.StdinWindow, or StdinWindow
	stall  time.Duration // Options.StdinStall, or StdinStall

	mu      sync.Mutex
	data    []byte // the stream from offset base on
	base    int64
	eof     bool
	over    bool // the worker ended: nobody will read any more
	pending int  // nodes not started yet
	changed chan struct{}
	readers map[*stdinReader]struct{} // nodes running and reading
}

// errStdinOver stops the copy of Options.Stdin once the worker ended.
var errStdinOver = errors.New("the worker ended")

func newStdinBuf(nodes int, opts *Options) *stdinBuf {
	b := &stdinBuf{window: opts.StdinWindow, stall: opts.StdinStall, pending: nodes,
		changed: make(chan struct{}), readers: make(map[*stdinReader]struct{})}
	if b.window <= 0 {
		b.window = StdinWindow
	}
	if b.stall <= 0 {
		b.stall = StdinStall
	}
	return b
}

// finish tells that the worker ended or was aborted: a writer waiting for
// room gives up.
func (s *stdinBuf) finish() { s.raise(&s.over) }

// raise sets one of the end flags (over, eof) and, the first time, wakes
// readers and a waiting writer.
func (s *stdinBuf) raise(flag *bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !*flag {
		*flag = true
		s.signal()
	}
}

// signal wakes readers and a waiting writer (mu held).
func (s *stdinBuf) signal() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *stdinBuf) write(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.eof {
		return
	}
	s.data = append(s.data, p...)
	s.signal()
}

// writeWait appends p once it fits in the window: it drops what every
// running node has read, and waits while the slowest one holds the
// window full, cutting off a node that took nothing for StdinStall.
// While nodes wait for the fanout, it drops nothing unless every running
// node has read all there is (they may wait for the end of the stream to
// end, and only then let the others start): those nodes then cannot get
// the stream whole (ErrStdinGone).
func (s *stdinBuf) writeWait(ctx context.Context, p []byte) error {
	var stallSince time.Time
	for {
		s.mu.Lock()
		if s.over {
			s.mu.Unlock()
			return errStdinOver
		}
		if s.eof {
			s.mu.Unlock()
			return nil
		}
		if len(s.data)+len(p) > s.window && (s.pending == 0 || s.starving()) {
			s.trim()
		}
		if len(s.data) == 0 || len(s.data)+len(p) <= s.window {
			s.data = append(s.data, p...)
			s.signal()
			s.mu.Unlock()
			return nil
		}
		now := time.Now()
		if stallSince.IsZero() {
			stallSince = now
		}
		for r := range s.readers {
			since := stallSince
			if r.last.After(since) {
				since = r.last
			}
			if r.off == s.base && now.Sub(since) >= s.stall {
				// It holds the window and took nothing for a while: it does
				// not read its standard input. End it there.
				r.cut = true
				delete(s.readers, r)
				s.signal()
			}
		}
		ch := s.changed
		s.mu.Unlock()
		t := time.NewTimer(s.stall / 4)
		select {
		case <-ch:
			stallSince = time.Time{}
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		t.Stop()
	}
}

// starving tells whether nodes run and have all read everything there
// is (mu held).
func (s *stdinBuf) starving() bool {
	head := s.base + int64(len(s.data))
	for r := range s.readers {
		if r.off < head {
			return false
		}
	}
	return len(s.readers) > 0
}

// trim drops what every running node has read (mu held). Nodes that
// start afterwards cannot read the stream from its start any more.
func (s *stdinBuf) trim() {
	head := s.base + int64(len(s.data))
	low := head
	for r := range s.readers {
		low = min(low, r.off)
	}
	if n := low - s.base; n > 0 {
		rest := copy(s.data, s.data[n:])
		s.data = s.data[:rest]
		s.base = low
	}
}

func (s *stdinBuf) close() { s.raise(&s.eof) }

// reader returns a new node's view of the stream, or an error when its
// beginning was dropped already.
func (s *stdinBuf) reader(ctx context.Context, written func(n int)) (*stdinReader, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending--
	if s.base > 0 {
		s.signal()
		return nil, fmt.Errorf("%w: its first %d bytes were sent to the nodes running and dropped before this node started: "+
			"only a standard input under %d bytes reaches nodes the fanout starts later (raise the fanout)", ErrStdinGone, s.base, s.window)
	}
	r := &stdinReader{buf: s, ctx: ctx, written: written, last: time.Now()}
	s.readers[r] = struct{}{}
	return r, nil
}

// release forgets r: its node ended, it holds nothing back any more.
func (s *stdinBuf) release(r *stdinReader) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.readers[r]; ok {
		delete(s.readers, r)
		s.signal()
	}
}

// stdinReader is one node's view of a stdinBuf.
type stdinReader struct {
	buf     *stdinBuf
	ctx     context.Context
	off     int64
	last    time.Time // of the last read (buf.mu)
	cut     bool      // cut off by writeWait (buf.mu)
	written func(n int)
}

// errStdinCut ends the stdin of a node cut off by writeWait.
var errStdinCut = errors.New("standard input cut off: the command read none of it while the others waited")

func (r *stdinReader) Read(p []byte) (int, error) {
	for {
		b := r.buf
		b.mu.Lock()
		if r.cut {
			b.mu.Unlock()
			return 0, errStdinCut
		}
		i := r.off - b.base
		if i < 0 { // read after its node ended and the data went
			b.mu.Unlock()
			return 0, io.ErrClosedPipe
		}
		if i < int64(len(b.data)) {
			n := copy(p, b.data[i:])
			r.off += int64(n)
			r.last = time.Now()
			if i == 0 || i+int64(n) == int64(len(b.data)) {
				// The writer may wait for the window's tail to move, or,
				// while nodes wait for the fanout, for every running
				// node to have read all there is (starving).
				b.signal()
			}
			b.mu.Unlock()
			if r.written != nil {
				r.written(n)
			}
			return n, nil
		}
		if b.eof {
			b.mu.Unlock()
			return 0, io.EOF
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		}
	}
}
