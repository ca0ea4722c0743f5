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
// Values are inserted as they are, without shell quoting, because that is
// what ClusterShell does and users' commands depend on it (for example
// 'ssh %h' or '%hosts' expanded on purpose by the shell). Callers that
// feed node names from untrusted input must quote themselves.
//
// For a command that runs once over a whole set (RunsOnce), ClusterShell
// passes the folded set as node and 0 as rank; the exec Driver does that.
func Substitute(pattern, node string, rank int) (string, error) {
	if strings.IndexByte(pattern, '%') < 0 {
		return pattern, nil
	}
	var b strings.Builder
	b.Grow(len(pattern) + len(node))
	p := 0 // bytes of pattern already handled
	for {
		i := strings.IndexByte(pattern[p:], '%')
		if i < 0 {
			break
		}
		b.WriteString(pattern[p : p+i])
		at := p + i + 1 // just after the '%': Python's "invalid" group start
		rest := pattern[at:]
		var name string
		switch {
		case rest != "" && rest[0] == '%':
			b.WriteByte('%')
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
			b.WriteString(node)
		case "n", "rank":
			b.WriteString(strconv.Itoa(rank))
		default:
			// Python's KeyError: str(KeyError('x')) is "'x'", and names are
			// ASCII identifiers, so repr is the name in single quotes.
			return "", &PlaceholderError{Msg: "'" + name + "'" + notValid}
		}
	}
	b.WriteString(pattern[p:])
	return b.String(), nil
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
