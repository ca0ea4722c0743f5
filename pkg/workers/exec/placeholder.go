package exec

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// PlaceholderError is a command, copy source or copy destination holding a
// '%' that is not one of the exec placeholders. Its message is
// ClusterShell's, word for word, so that a front end can print it the way
// clush does ("clush: " + message, exit status 1, nothing run).
type PlaceholderError struct {
	// Msg is ClusterShell's text, for example "Invalid placeholder in
	// string: line 1, col 9 is not a valid pattern, use '%%' to escape '%'".
	Msg string
}

func (e *PlaceholderError) Error() string { return e.Msg }

// RunsOnce reports whether command holds %hosts or %{hosts}: ClusterShell's
// exec worker then runs it once, keyed by the whole folded node set, rather
// than once per node. The test is a plain substring search, as in
// ClusterShell, so an escaped "%%hosts" also selects the single run.
func RunsOnce(command string) bool {
	return strings.Contains(command, "%hosts") || strings.Contains(command, "%{hosts}")
}

// Validate reports whether pattern would substitute without error, so that
// a front end can refuse a bad command before anything runs, as clush does.
func Validate(pattern string) error {
	_, err := Substitute(pattern, "", 0)
	return err
}

// Substitute replaces ClusterShell's exec placeholders in pattern: %h,
// %host and %hosts (and their %{...} forms) become node, %n and %rank
// become rank, and %% becomes %. Any other '%' is a *PlaceholderError.
//
// It is Python's string.Template with '%' as delimiter, as in ClusterShell's
// Exec._replace_cmd: an identifier after '%' is the longest run of ASCII
// letters, digits and '_' (so "%hostname" is the unknown name "hostname",
// not "%host" + "name"), names are case-sensitive ("%H" is an error), and
// errors are reported for the first bad '%' from the left.
//
// A node name made only of letters, digits and "-._:@+,/[]" (every usual
// host name, address and folded node set; any byte above 0x7f counts as a
// letter: no shell gives those a meaning) is inserted as it is, as
// ClusterShell does, so that 'ssh %h' or a shell loop over '%hosts' work
// the same. Any other name is quoted for the shell where it lands, so that
// a crafted node name ("a;rm -rf ~", "$(...)", backquotes, quotes, blanks,
// newlines) stays one literal word and can run nothing: outside quotes it
// is single-quoted; inside the command's own single quotes, each quote of
// the name closes them, is escaped with a backslash and reopens them;
// inside double quotes a backslash goes before '$', '`', '"' and '\'.
// ClusterShell inserts every name unquoted. The quoting follows the
// command's quotes, backslashes, $(...) and backquotes (each with quotes
// of its own), not ${...} or here-documents.
// SubstitutePath substitutes without quoting, for paths that no shell
// reads.
//
// For a command that runs once over a whole set (RunsOnce), ClusterShell
// passes the folded set as node and 0 as rank; the exec Driver does that.
func Substitute(pattern, node string, rank int) (string, error) {
	return substitute(pattern, node, rank, true)
}

// SubstitutePath is Substitute for a copy's source or destination, a
// command argument no shell parses: names are inserted as they are.
func SubstitutePath(pattern, node string, rank int) (string, error) {
	return substitute(pattern, node, rank, false)
}

func substitute(pattern, node string, rank int, shell bool) (string, error) {
	if strings.IndexByte(pattern, '%') < 0 {
		return pattern, nil
	}
	var b strings.Builder
	b.Grow(len(pattern) + len(node))
	p := 0 // bytes of pattern already handled
	var st *shellState
	plain := !shell || isPlainName(node)
	if !plain {
		st = newShellState()
	}
	for {
		i := strings.IndexByte(pattern[p:], '%')
		if i < 0 {
			break
		}
		b.WriteString(pattern[p : p+i])
		if st != nil {
			st.after(pattern[p : p+i])
		}
		at := p + i + 1 // just after the '%': Python's "invalid" group start
		rest := pattern[at:]
		var name string
		switch {
		case rest != "" && rest[0] == '%':
			b.WriteByte('%')
			if st != nil {
				st.after("%")
			}
			p = at + 1
			continue
		case rest != "" && isIdentStart(rest[0]):
			name = rest[:identLen(rest)]
			p = at + len(name)
		case len(rest) > 1 && rest[0] == '{' && isIdentStart(rest[1]):
			n := identLen(rest[1:])
			if 1+n >= len(rest) || rest[1+n] != '}' {
				return "", invalidPlaceholder(pattern, at)
			}
			name = rest[1 : 1+n]
			p = at + n + 2
		default:
			return "", invalidPlaceholder(pattern, at)
		}
		switch name {
		case "h", "host", "hosts":
			if plain {
				b.WriteString(node)
			} else {
				st.quote(&b, node)
			}
		case "n", "rank":
			b.WriteString(strconv.Itoa(rank))
			if st != nil {
				st.after(strconv.Itoa(rank))
			}
		default:
			// Python's KeyError: str(KeyError('x')) is "'x'", and names are
			// ASCII identifiers, so repr is the name in single quotes.
			return "", &PlaceholderError{Msg: "'" + name + "'" + notValid}
		}
	}
	b.WriteString(pattern[p:])
	return b.String(), nil
}

// isPlainName reports whether node can go into a shell command as it is:
// nothing in it is special to sh, in or out of quotes.
func isPlainName(node string) bool {
	for i := 0; i < len(node); i++ {
		c := node[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c >= 0x80:
		case strings.IndexByte("-._:@+,/[]", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// shellQuote is the quoting in force at a point of a shell command.
type shellQuote int

const (
	quoteNone         shellQuote = iota // outside quotes
	quoteSingle                         // inside '...'
	quoteDouble                         // inside "..."
	quoteEscape                         // right after a backslash outside quotes
	quoteDoubleEscape                   // right after a backslash inside "..."
)

// shellFrame is one level of command substitution: the top level, $(...)
// or `...`, each with its own quoting.
type shellFrame struct {
	q     shellQuote
	paren int  // "(" open in this $(...) frame
	tick  bool // a `...` frame
}

// shellState tracks quoting through nested command substitutions.
type shellState struct {
	frames []shellFrame
	prev   byte // the last byte read, for "$("
}

func newShellState() *shellState { return &shellState{frames: []shellFrame{{}}} }

func (st *shellState) top() *shellFrame { return &st.frames[len(st.frames)-1] }

// after reads the literal text s.
func (st *shellState) after(s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		f := st.top()
		switch f.q {
		case quoteNone, quoteDouble:
			switch {
			case c == '\\' && f.q == quoteNone:
				f.q = quoteEscape
			case c == '\\':
				f.q = quoteDoubleEscape
			case c == '(' && st.prev == '$':
				st.frames = append(st.frames, shellFrame{})
			case c == '`' && f.tick && f.q == quoteNone:
				st.pop()
			case c == '`':
				st.frames = append(st.frames, shellFrame{tick: true})
			case f.q == quoteDouble:
				if c == '"' {
					f.q = quoteNone
				}
			case c == '\'':
				f.q = quoteSingle
			case c == '"':
				f.q = quoteDouble
			case c == '(':
				f.paren++
			case c == ')' && f.paren > 0:
				f.paren--
			case c == ')' && !f.tick && len(st.frames) > 1:
				st.pop()
			}
		case quoteEscape:
			f.q = quoteNone
		case quoteSingle:
			if c == '\'' {
				f.q = quoteNone
			}
		case quoteDoubleEscape:
			f.q = quoteDouble
		}
		st.prev = c
		if f.q == quoteEscape || f.q == quoteDoubleEscape {
			st.prev = 0
		}
	}
}

func (st *shellState) pop() {
	if len(st.frames) > 1 {
		st.frames = st.frames[:len(st.frames)-1]
	}
}

// quote writes v to b so that the shell reads it back literally, as part
// of the word being written, and moves past it.
func (st *shellState) quote(b *strings.Builder, v string) {
	var w strings.Builder
	f := st.top()
	switch f.q {
	case quoteSingle:
		w.WriteString(strings.ReplaceAll(v, "'", `'\''`))
	case quoteDouble, quoteDoubleEscape:
		if f.q == quoteDoubleEscape {
			// The command's backslash would escape the value's first
			// byte: a newline after it is a line continuation, which
			// the shell removes.
			w.WriteByte('\n')
		}
		for i := 0; i < len(v); i++ {
			if strings.IndexByte("$`\"\\", v[i]) >= 0 {
				w.WriteByte('\\')
			}
			w.WriteByte(v[i])
		}
		f.q = quoteDouble
	default:
		if f.q == quoteEscape {
			w.WriteByte('\n') // as above
		}
		w.WriteByte('\'')
		w.WriteString(strings.ReplaceAll(v, "'", `'\''`))
		w.WriteByte('\'')
		f.q = quoteNone
	}
	out := w.String()
	// The shell removes a backslash before '$', '`' and '\' in `...`
	// before it parses what is inside: one more level per `...` around.
	for _, fr := range st.frames {
		if fr.tick {
			var e strings.Builder
			for i := 0; i < len(out); i++ {
				if strings.IndexByte("$`\\", out[i]) >= 0 {
					e.WriteByte('\\')
				}
				e.WriteByte(out[i])
			}
			out = e.String()
		}
	}
	b.WriteString(out)
	st.prev = 0
}

// notValid ends every ClusterShell placeholder message.
const notValid = " is not a valid pattern, use '%%' to escape '%'"

func isIdentStart(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func identLen(s string) int {
	n := 0
	for n < len(s) && (isIdentStart(s[n]) || ('0' <= s[n] && s[n] <= '9')) {
		n++
	}
	return n
}

// invalidPlaceholder builds Python's Template._invalid message for the
// placeholder whose "invalid" group starts at byte offset end of pattern
// (right after the '%'). Python counts lines as str.splitlines does and
// columns in code points; an invalid UTF-8 byte counts as one code point,
// as it does after Python's surrogateescape decoding of command line
// arguments.
func invalidPlaceholder(full string, end int) error {
	line, col := 1, 0
	prefix := full[:end]
	for j := 0; j < len(prefix); {
		r, w := utf8.DecodeRuneInString(prefix[j:])
		j += w
		switch r {
		case '\r':
			if j < len(prefix) && prefix[j] == '\n' {
				j++
			}
			line, col = line+1, 0
		case '\n', '\v', '\f', '\x1c', '\x1d', '\x1e', '\u0085', '\u2028', '\u2029':
			line, col = line+1, 0
		default:
			col++
		}
	}
	return &PlaceholderError{Msg: "Invalid placeholder in string: line " + strconv.Itoa(line) +
		", col " + strconv.Itoa(col) + notValid}
}
