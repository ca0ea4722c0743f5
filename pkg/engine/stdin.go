package engine

import (
	"context"
	"io"
	"sync"
)

// stdinBuf holds what was written to a worker's stdin so that every node,
// whenever the fanout admits it, reads all of it from the start, as
// ClusterShell buffers writes for nodes not yet started.
type stdinBuf struct {
	mu      sync.Mutex
	data    []byte
	eof     bool
	changed chan struct{}
}

func newStdinBuf() *stdinBuf { return &stdinBuf{changed: make(chan struct{})} }

func (s *stdinBuf) write(p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.eof {
		return
	}
	s.data = append(s.data, p...)
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *stdinBuf) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.eof {
		s.eof = true
		close(s.changed)
	}
}

// stdinReader is one node's view of a stdinBuf.
type stdinReader struct {
	buf     *stdinBuf
	ctx     context.Context
	off     int
	written func(n int)
}

func (r *stdinReader) Read(p []byte) (int, error) {
	for {
		r.buf.mu.Lock()
		if r.off < len(r.buf.data) {
			n := copy(p, r.buf.data[r.off:])
			r.off += n
			r.buf.mu.Unlock()
			if r.written != nil {
				r.written(n)
			}
			return n, nil
		}
		if r.buf.eof {
			r.buf.mu.Unlock()
			return 0, io.EOF
		}
		ch := r.buf.changed
		r.buf.mu.Unlock()
		select {
		case <-ch:
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		}
	}
}
