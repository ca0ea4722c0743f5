package policy

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// shellMeta are the characters a shell reads as more than a word: the
// command separators and pipes, redirections, subshells, substitutions
// ($ and backquote), the escape, and line ends. A single "*" or "?"
// never matches them, so "uname *" cannot match "uname; rm -rf /".
const shellMeta = ";&|<>()$`\\\n\r\x00"

// safeClass is the regexp class of one character that is not shellMeta.
var safeClass = `[^` + regexp.QuoteMeta(shellMeta) + `]`

// maxPattern bounds one command pattern.
const maxPattern = 4096

// glob is a compiled command pattern (see the package doc).
type glob struct {
	src string
	re  *regexp.Regexp
	any bool // the pattern is "**": every command, the empty one too
}

// compileGlob compiles a command pattern: "**" matches any characters,
// "*" any characters but shellMeta, "?" one character but shellMeta,
// "\x" the character x itself; every other character matches itself.
// The pattern matches the whole command line. RE2 matches in time linear
// in the command, whatever the pattern.
func compileGlob(p string) (*glob, error) {
	if len(p) > maxPattern {
		return nil, fmt.Errorf("command pattern over %d bytes", maxPattern)
	}
	var b strings.Builder
	b.WriteString(`\A(?:`)
	if err := appendGlob(&b, p, safeClass, `(?s:.*)`); err != nil {
		return nil, fmt.Errorf("command pattern %q: %w", p, err)
	}
	b.WriteString(`)\z`)
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("command pattern %q: %w", p, err)
	}
	return &glob{src: p, re: re, any: strings.Trim(p, "*") == "" && strings.Contains(p, "**")}, nil
}

// errLoneBackslash is a pattern ending in an escape that escapes nothing.
var errLoneBackslash = errors.New("ends with a lone backslash")

// appendGlob writes the regexp of the glob p to b: "**" (or more stars)
// is many, "*" the character class one repeated, "?" one, "\x" the
// character x itself and every other character itself.
func appendGlob(b *strings.Builder, p, one, many string) error {
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '*' && i+1 < len(p) && p[i+1] == '*':
			for i+1 < len(p) && p[i+1] == '*' { // "***" is "**"
				i++
			}
			b.WriteString(many)
		case c == '*':
			b.WriteString(one + `*`)
		case c == '?':
			b.WriteString(one)
		case c == '\\':
			if i+1 == len(p) {
				return errLoneBackslash
			}
			i++
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		default:
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		}
	}
	return nil
}

// match reports whether the command matches. The empty command runs a
// login shell that reads the job's standard input, any commands at all:
// only "**" matches it.
func (g *glob) match(cmd string) bool {
	if cmd == "" {
		return g.any
	}
	return g.re.MatchString(cmd)
}
