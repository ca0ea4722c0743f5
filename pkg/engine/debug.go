package engine

import "strings"

// With the task info "debug" on, ClusterShell's per-node clients (exec,
// ssh, rsh: ExecClient and its subclasses) print through print_debug,
// before handing each line read to the worker, "<key>: <line>" with the
// line as a Python bytes literal ("node1: b'ok'"). The loop does the
// same just before OnRead, in the same order as the lines, for every
// driver but a GroupDriver (pdsh prints its own raw lines). A last line
// without line ending, delivered when the stream closes, gets none, as
// in ClusterShell (_flush_read).

// DebugRepr is Python 3's repr() of line as bytes, the form debug lines
// show output in: b'...' (b"..." when the line holds a ' and no "), with
// \t, \n, \r, \\ and the quote escaped and other bytes outside printable
// ASCII as \xNN.
func DebugRepr(line []byte) string {
	quote := byte('\'')
	if strings.IndexByte(string(line), '\'') >= 0 && strings.IndexByte(string(line), '"') < 0 {
		quote = '"'
	}
	const hex = "0123456789abcdef"
	var s strings.Builder
	s.Grow(len(line) + 3)
	s.WriteByte('b')
	s.WriteByte(quote)
	for _, c := range line {
		switch {
		case c == quote || c == '\\':
			s.WriteByte('\\')
			s.WriteByte(c)
		case c == '\t':
			s.WriteString(`\t`)
		case c == '\n':
			s.WriteString(`\n`)
		case c == '\r':
			s.WriteString(`\r`)
		case c < ' ' || c >= 0x7f:
			s.WriteString(`\x`)
			s.WriteByte(hex[c>>4])
			s.WriteByte(hex[c&0xf])
		default:
			s.WriteByte(c)
		}
	}
	s.WriteByte(quote)
	return s.String()
}
