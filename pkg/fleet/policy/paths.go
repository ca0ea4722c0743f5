package policy

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Path patterns (a rule's paths) limit where a copy may write on the
// nodes (a push's destination) and what it may read there (a reverse
// copy's source). See the package doc, "Copies".

// pathOne is the regexp class of a character "*" and "?" match in a path
// pattern: not a slash, not a shell metacharacter. Some workers hand the
// path to a shell on the node (pdcp, scp's legacy protocol), so a path
// holding a metacharacter is only allowed by a pattern that writes it
// out.
var pathOne = `[^/` + regexp.QuoteMeta(shellMeta) + `]`

// pathMany is what "**" matches in a path pattern: any characters, "/"
// included, but the shell metacharacters.
var pathMany = safeClass + `*`

// pathGlob is a compiled path pattern.
type pathGlob struct {
	src   string // as the rule wrote it
	class byte   // pathClass of the pattern
	re    *regexp.Regexp
}

// The classes of paths: a path matches only patterns of its class.
const (
	classAbsolute = '/' // "/etc/hosts"
	classOther    = '~' // "~alice/x": another user's home
	classHome     = '.' // "x", "~/x": relative to the login user's home
)

// cleanPath returns p as patterns see it, and its class: cleaned
// (path.Clean), "~" and a leading "~/" taken as the home directory ("~/x"
// is "x", "~" is "."). ok is false for the empty path and for a relative
// path that climbs out of the directory it is relative to ("../x",
// "~alice/../x"): no pattern matches those.
func cleanPath(p string) (clean string, class byte, ok bool) {
	switch {
	case p == "":
		return "", 0, false
	case p[0] == '/':
		// ".." above the root is the root: "/../etc" is "/etc".
		return path.Clean(p), classAbsolute, true
	case p == "~":
		return ".", classHome, true
	case strings.HasPrefix(p, "~/"):
		p = strings.TrimLeft(p[2:], "/")
		if p == "" {
			return ".", classHome, true
		}
	case p[0] == '~':
		// Cleaning the whole of "~alice/../x" would make it "x", a path
		// in the login user's home, where it is alice's home's parent.
		first, rest, _ := strings.Cut(p, "/")
		rest = path.Clean(strings.TrimLeft(rest, "/"))
		if climbs(rest) {
			return "", 0, false
		}
		if rest == "." {
			return first, classOther, true
		}
		return first + "/" + rest, classOther, true
	}
	c := path.Clean(p)
	if climbs(c) {
		return "", 0, false
	}
	return c, classHome, true
}

// metaCount is how many shell metacharacters s holds.
func metaCount(s string) int {
	n := 0
	for _, c := range []byte(s) {
		if strings.IndexByte(shellMeta, c) >= 0 {
			n++
		}
	}
	return n
}

// globstar reports whether the name is "**" (or more stars): any names.
func globstar(name string) bool { return len(name) >= 2 && strings.Trim(name, "*") == "" }

// climbs reports whether the clean relative path c leaves its directory.
func climbs(c string) bool { return c == ".." || strings.HasPrefix(c, "../") }

// compilePathGlob compiles a path pattern. A pattern must be clean as
// written (it is matched against cleaned paths, so "/etc/" or "/a/../b"
// would never match as they read). Its syntax is the command patterns'
// with "/" as a separator: "*" matches any characters of one name, "?"
// one character of a name, neither a slash nor a shell metacharacter;
// "\x" the character x; "**" as a whole name matches zero or more names
// ("/etc/**" matches /etc and everything under it, "/a/**/b" /a/b and
// /a/x/y/b), "**" inside a name any characters but the metacharacters.
func compilePathGlob(p string) (*pathGlob, error) {
	if len(p) > maxPattern {
		return nil, fmt.Errorf("path pattern over %d bytes", maxPattern)
	}
	clean, class, ok := cleanPath(p)
	want := p // as cleanPath would give it, if p is clean
	switch {
	case p == "~":
		want = "."
	case strings.HasPrefix(p, "~/"):
		want = p[2:]
	}
	switch {
	case p == "":
		return nil, errors.New(`paths: an empty pattern (write "**" for every path in the home directory, "/**" for every absolute path)`)
	case !ok:
		return nil, fmt.Errorf("paths: %q climbs out of the directory it is relative to", p)
	case clean != want && strings.HasSuffix(p, "/"):
		return nil, fmt.Errorf("paths: %q ends with a slash: paths are matched cleaned, write %q (the directory itself) or %q (it and everything under it)", p, clean, path.Join(clean, "**"))
	case clean != want:
		return nil, fmt.Errorf("paths: %q is not a clean path: paths are matched cleaned, write %q", p, clean)
	}
	var b strings.Builder
	b.WriteString(`\A(?:`)
	rest := clean
	if class == classAbsolute {
		b.WriteString("/")
		rest = rest[1:]
	}
	// Consecutive "**" names are one: "**/**" is "**".
	var names []string
	for _, name := range strings.Split(rest, "/") {
		if globstar(name) && len(names) > 0 && globstar(names[len(names)-1]) {
			continue
		}
		names = append(names, name)
	}
	for i, name := range names {
		switch {
		case globstar(name) && len(names) == 1:
			b.WriteString(pathMany) // "**", "/**": everything
		case globstar(name) && i == 0:
			b.WriteString(`(?:` + pathMany + `/)?`) // "**/x": x at any depth
		case globstar(name):
			b.WriteString(`(?:/` + pathMany + `)?`) // "a/**": a and under it
		default:
			if i > 1 || i == 1 && !globstar(names[0]) { // not after a leading "**/"
				b.WriteString("/")
			}
			if err := appendGlob(&b, name, pathOne, pathMany); err != nil {
				return nil, fmt.Errorf("paths: %q: %w", p, err)
			}
		}
	}
	b.WriteString(`)\z`)
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("paths: %q: %w", p, err)
	}
	return &pathGlob{src: p, class: class, re: re}, nil
}

// match reports whether the cleaned path c, of class, matches.
func (g *pathGlob) match(c string, class byte) bool {
	return class == g.class && g.re.MatchString(c)
}

// checkPath says why r does not allow req's copy path ("" when it does).
func (r *rule) checkPath(req *Request) string {
	if r.paths == nil {
		return ""
	}
	dir := "to"
	if req.Reverse {
		dir = "from"
	}
	c, class, ok := cleanPath(req.Path)
	switch {
	case req.Path == "":
		return fmt.Sprintf("rule %q: the copy names no path on the nodes (its paths: %s)", r.name, r.pathList())
	case len(req.Path) > protocol.MaxPath:
		// Matching takes time in the path times the patterns.
		return fmt.Sprintf("rule %q does not allow copies %s a path over %d bytes", r.name, dir, protocol.MaxPath)
	case !ok:
		return fmt.Sprintf("rule %q does not allow copies %s %s: it climbs out of the directory it is relative to", r.name, dir, clip(req.Path))
	case metaCount(c) != metaCount(req.Path):
		// The worker gets the path as written: "/a/$(x)/../b" is /a/b
		// to a pattern, and a command to a shell on the node.
		return fmt.Sprintf("rule %q does not allow copies %s %s: cleaning it drops shell metacharacters that a shell on the node would read", r.name, dir, clip(req.Path))
	}
	for _, g := range r.paths {
		if g.match(c, class) {
			return ""
		}
	}
	return fmt.Sprintf("rule %q does not allow copies %s %s (paths: %s)", r.name, dir, clip(req.Path), r.pathList())
}

// pathList is the rule's path patterns for a reason, cut to maxReason.
func (r *rule) pathList() string {
	var srcs []string
	for _, g := range r.paths {
		src := g.src
		if strings.ContainsFunc(src, func(c rune) bool { return !unicode.IsPrint(c) }) {
			src = strconv.Quote(src) // a reason is one line
		}
		srcs = append(srcs, src)
	}
	s := strings.Join(srcs, ", ")
	if len(s) > maxReason {
		return fmt.Sprintf("%q...", s[:maxReason])
	}
	return s
}
