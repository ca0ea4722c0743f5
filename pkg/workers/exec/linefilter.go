package exec

import (
	"bytes"
	"io"
)

// LineFilter is a Writer that looks at each line written through it and
// passes it on to W unchanged unless Keep says to drop it. The openssh
// driver uses it to spot OpenSSH's error lines while passing them through;
// the rsh driver to remove its "XXRETCODE: n" line from the output.
//
// Only lines up to MaxLine bytes (without the line ending) are shown to
// Keep; longer lines are passed on unseen as they arrive, so memory stays
// bounded whatever the output. A LineFilter is not safe for concurrent
// use: give each stream its own.
type LineFilter struct {
	// W receives the output.
	W io.Writer
	// Keep is called with each line, without "\n" or "\r\n"; a false
	// result drops the line and its line ending. Nil keeps every line.
	Keep func(line []byte) bool
	// MaxLine is the longest line shown to Keep (0: 4096).
	MaxLine int

	buf  []byte // partial line, at most MaxLine+2 bytes
	long bool   // passing through the rest of a too long line
	err  error  // first error of W
}

func (f *LineFilter) maxLine() int {
	if f.MaxLine > 0 {
		return f.MaxLine
	}
	return 4096
}

// Write filters p and returns len(p), or the first error of W.
func (f *LineFilter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if f.long {
			// The tail of a long line goes straight through.
			end := len(p)
			if i >= 0 {
				end = i + 1
				f.long = false
			}
			f.write(p[:end])
			p = p[end:]
			continue
		}
		if i < 0 {
			f.buf = append(f.buf, p...)
			if len(f.buf) > f.maxLine()+1 { // +1: a '\r' may end it
				f.write(f.buf)
				f.buf, f.long = f.buf[:0], true
			}
			break
		}
		line := p[:i+1]
		p = p[i+1:]
		if len(f.buf) > 0 {
			f.buf = append(f.buf, line...)
			line = f.buf
		}
		f.line(line)
		f.buf = f.buf[:0]
	}
	return n, f.err
}

// line handles one complete line, ending included (when it has one).
func (f *LineFilter) line(line []byte) {
	body := bytes.TrimSuffix(line, []byte("\n"))
	body = bytes.TrimSuffix(body, []byte("\r"))
	if len(body) > f.maxLine() || f.Keep == nil || f.Keep(body) {
		f.write(line)
	}
}

func (f *LineFilter) write(b []byte) {
	if f.err == nil && len(b) > 0 {
		_, f.err = f.W.Write(b)
	}
}

// Flush handles a last line that has no line ending, as ClusterShell does
// when a stream closes. Call it once the writes are over.
func (f *LineFilter) Flush() error {
	if len(f.buf) > 0 && !f.long {
		f.line(f.buf)
	}
	f.buf, f.long = f.buf[:0], false
	return f.err
}
