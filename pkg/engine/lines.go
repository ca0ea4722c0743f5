package engine

import (
	"bytes"
	"sync"
)

// maxLine bounds one line of output: a node that writes a gigabyte without
// a newline is delivered in chunks of this size instead of being held in
// memory whole.
const maxLine = 1 << 20

// lineWriter splits a job's output stream into lines and posts them to the
// task loop, one event per Write (not per line) to keep the loop cheap
// under heavy output.
type lineWriter struct {
	// mu: a driver may write one node's stdout and stderr from two
	// goroutines into the same writer when stderr is merged.
	mu sync.Mutex
	// post delivers lines; closing marks the last line without line
	// ending that flush delivers (debug.go).
	post    func(lines [][]byte, closing bool)
	partial []byte
}

func (lw *lineWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	n := len(p)
	var lines [][]byte
	var owned []byte // one copy of the complete lines of this write
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			lw.partial = append(lw.partial, p...)
			for len(lw.partial) >= maxLine {
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
	return n, nil
}

// flush delivers a last line that had no newline.
func (lw *lineWriter) flush() {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if len(lw.partial) > 0 {
		lw.post([][]byte{trimCR(lw.partial)}, true)
		lw.partial = nil
	}
}

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}
