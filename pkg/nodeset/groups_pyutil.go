package nodeset

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/fleetsh/fleetsh/internal/pyshlex"
)

// ClusterShell builds its group configuration with Python's standard
// library (configparser, shlex, string.Template, os.path). A groups.conf
// must mean the same thing to fleetsh as to clush, so the helpers below
// reproduce what those library functions do, quirks included, instead of
// using the nearest Go equivalent (filepath.Clean, filepath.Dir, ...), whose
// results differ on corner cases such as "" or "//x".
//
// Every helper is prefixed with gc ("group config") to keep them apart from
// the other Python-compat helpers of this package.

// gcSpace reports whether r is whitespace for Python's str.isspace(), which
// also counts the ASCII separators U+001C..U+001F that Go does not.
func gcSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// gcStrip is Python's str.strip() without arguments.
func gcStrip(s string) string { return strings.TrimFunc(s, gcSpace) }

// gcFields is Python's str.split() without arguments. Because every line
// separator of str.splitlines() is also whitespace, it equals ClusterShell's
// "for line in raw.splitlines(): line.strip().split()" as well.
func gcFields(s string) []string { return strings.FieldsFunc(s, gcSpace) }

// gcShlexSplit is Python's shlex.split(s).
func gcShlexSplit(s string) ([]string, error) { return pyshlex.Split(s) }

// gcTemplate is Python's string.Template(tpl).safe_substitute(vars): "$$"
// becomes "$", "$name" and "${name}" (name = [_A-Za-z][_A-Za-z0-9]*) are
// replaced when vars has name, and everything else, unknown names included,
// is left as written. Upcall commands rely on that: "$NODE" in a map
// command or a shell variable such as "$HOME" reaches the shell unchanged.
func gcTemplate(tpl string, vars map[string]string) string {
	if !strings.Contains(tpl, "$") {
		return tpl
	}
	isStart := func(c byte) bool { return c == '_' || (c|0x20) >= 'a' && (c|0x20) <= 'z' }
	isID := func(c byte) bool { return isStart(c) || (c >= '0' && c <= '9') }
	var b strings.Builder
	for i := 0; i < len(tpl); {
		c := tpl[i]
		if c != '$' {
			b.WriteByte(c)
			i++
			continue
		}
		rest := tpl[i+1:]
		switch {
		case strings.HasPrefix(rest, "$"):
			b.WriteByte('$')
			i += 2
		case len(rest) > 0 && isStart(rest[0]):
			n := 1
			for n < len(rest) && isID(rest[n]) {
				n++
			}
			if v, ok := vars[rest[:n]]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(tpl[i : i+1+n])
			}
			i += 1 + n
		case len(rest) > 1 && rest[0] == '{' && isStart(rest[1]):
			n := 2
			for n < len(rest) && isID(rest[n]) {
				n++
			}
			if n < len(rest) && rest[n] == '}' {
				if v, ok := vars[rest[1:n]]; ok {
					b.WriteString(v)
				} else {
					b.WriteString(tpl[i : i+2+n])
				}
				i += 2 + n
				break
			}
			b.WriteByte('$')
			i++
		default:
			b.WriteByte('$')
			i++
		}
	}
	return b.String()
}

// gcNormpath is Python's posixpath.normpath. It differs from filepath.Clean
// only in keeping a leading "//" (POSIX leaves its meaning to the system).
func gcNormpath(p string) string {
	if p == "" {
		return "."
	}
	initial := 0
	if strings.HasPrefix(p, "/") {
		initial = 1
		if strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "///") {
			initial = 2
		}
	}
	var comps []string
	for _, c := range strings.Split(p, "/") {
		switch {
		case c == "" || c == ".":
		case c != ".." || (initial == 0 && len(comps) == 0) ||
			(len(comps) > 0 && comps[len(comps)-1] == ".."):
			comps = append(comps, c)
		case len(comps) > 0:
			comps = comps[:len(comps)-1]
		}
	}
	out := strings.Repeat("/", initial) + strings.Join(comps, "/")
	if out == "" {
		return "."
	}
	return out
}

// gcDirname is Python's posixpath.dirname: "" for a bare file name (where
// filepath.Dir says "."), which ClusterShell then uses as $CFGDIR as is.
func gcDirname(p string) string {
	head := p[:strings.LastIndexByte(p, '/')+1]
	if head != "" && head != strings.Repeat("/", len(head)) {
		head = strings.TrimRight(head, "/")
	}
	return head
}

// gcJoin is Python's posixpath.join: an absolute part restarts the path and
// an empty first part adds nothing.
func gcJoin(base string, parts ...string) string {
	p := base
	for _, b := range parts {
		switch {
		case strings.HasPrefix(b, "/"):
			p = b
		case p == "" || strings.HasSuffix(p, "/"):
			p += b
		default:
			p += "/" + b
		}
	}
	return p
}

// gcParseFloat is Python's float(str): surrounding whitespace allowed,
// "inf"/"infinity"/"nan" in any case, single underscores between digits,
// and no hexadecimal notation (which strconv.ParseFloat would accept).
func gcParseFloat(s string) (float64, error) {
	t := gcStrip(s)
	bad := fmt.Errorf("could not convert string to float: %s", gcRepr(s))
	if t == "" || strings.ContainsAny(t, "xXpP") && !isPyInfNaN(t) {
		return 0, bad
	}
	if strings.Contains(t, "_") {
		for i := 0; i < len(t); i++ {
			if t[i] == '_' && (i == 0 || i == len(t)-1 || !isASCIIDigit(t[i-1]) || !isASCIIDigit(t[i+1])) {
				return 0, bad
			}
		}
		t = strings.ReplaceAll(t, "_", "")
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil {
		var ne *strconv.NumError
		// Python gives inf for out-of-range literals instead of failing.
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return f, nil
		}
		return 0, bad
	}
	return f, nil
}

func isPyInfNaN(t string) bool {
	t = strings.ToLower(strings.TrimLeft(t, "+-"))
	return t == "inf" || t == "infinity" || t == "nan"
}

func isASCIIDigit(c byte) bool { return c >= '0' && c <= '9' }

// gcFloatRepr is Python's repr(float), used to print YAML keys the way
// ClusterShell's error messages show them.
func gcFloatRepr(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64)
	mant, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	if exp >= -4 && exp < 16 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	return fmt.Sprintf("%se%+03d", mant, exp)
}

// gcRepr approximates Python's repr(str), which configparser uses to quote
// file names, sections, options and lines in its error messages.
func gcRepr(s string) string {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\' || r == rune(q):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case !unicode.IsPrint(r) && r != ' ':
			if r < 0x100 {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else if r <= 0xffff {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				fmt.Fprintf(&b, `\U%08x`, r)
			}
		default:
			b.WriteRune(r)
		}
		i += n
	}
	b.WriteByte(q)
	return b.String()
}
