package engine

import (
	"bytes"
	"sync"
)

// maxLine bounds one line of output when no output cap is set: a node that
// writes a gigabyte without a newline is delivered in chunks of this size
// instead of being held in memory whole. Under a cap (Options.MaxOutput) a
// line is held whole up to the cap instead, which bounds it as well.
const maxLine = 1 << 20

// lineWriter splits a job's output stream into lines and posts them to the
// task loop, one event per Write (not per line) to keep the loop cheap
// under heavy output.
type lineWriter struct {
	// mu is shared by the job's two writers: a driver may write one
	// node's stdout and stderr from two goroutines into the same writer
	// when stderr is merged, and the output cap counts both streams.
	mu *sync.Mutex
	// post delivers lines; closing marks the last line without line
	// ending that flush delivers (debug.go).
	post    func(lines [][]byte, closing bool)
	partial []byte
	// cap, when not nil, bounds the bytes the job's writers take
	// together (outcap.go).
	cap *outputCap
}

func newLineWriter(mu *sync.Mutex, oc *outputCap, post func(lines [][]byte, closing bool)) *lineWriter {
	lw := &lineWriter{mu: mu, post: post, cap: oc}
	if oc != nil {
		oc.writers = append(oc.writers, lw)
	}
	return lw
}

// Write takes all of p, always: past the output cap the bytes are
// dropped, but the command must keep running (a writer that failed would
// break its pipe).
func (lw *lineWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	n := len(p)
	if c := lw.cap; c != nil {
		if c.cut {
			return n, nil
		}
		if int64(len(p)) > c.left {
			lw.split(p[:c.left])
			c.left = 0
			c.cutNow()
			return n, nil
		}
		c.left -= int64(len(p))
	}
	lw.split(p)
	return n, nil
}

// split posts the complete lines of p and keeps the rest as the partial
// line (the lock held).
func (lw *lineWriter) split(p []byte) {
	var lines [][]byte
	var owned []byte // one copy of the complete lines of this write
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			lw.partial = append(lw.partial, p...)
			for lw.cap == nil && len(lw.partial) >= maxLine {
				lines = append(lines, bytes.Clone(lw.partial[:maxLine]))
				lw.partial = append(lw.partial[:0], lw.partial[maxLine:]...)
			}
			break
		}
		var line []byte
		if len(lw.partial) > 0 {
			line = append(lw.partial, p[:i]...)
			lw.partial = nil
		} else {
			if owned == nil {
				owned = bytes.Clone(p)
				p = owned
			}
			line = p[:i:i]
		}
		lines = append(lines, trimCR(line))
		p = p[i+1:]
	}
	if len(lines) > 0 {
		lw.post(lines, false)
	}
}

// flush delivers a last line that had no newline.
func (lw *lineWriter) flush() {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	lw.flushPartial()
}

// flushPartial delivers the partial line as it is: like ClusterShell's
// _flush_read, a line without newline keeps a '\r' it ends with (the lock
// held).
func (lw *lineWriter) flushPartial() {
	if len(lw.partial) > 0 {
		lw.post([][]byte{lw.partial}, true)
		lw.partial = nil
	}
}

// trimCR drops the '\r' of a "\r\n" line ending, as ClusterShell does.
func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}
