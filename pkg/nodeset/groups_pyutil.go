package nodeset

import (
	"strings"
)

// ClusterShell builds its group configuration with Python's standard
// library (configparser, shlex, string.Template, os.path). A groups.conf
// must mean the same thing to fleetsh as to clush: internal/pyfmt reads it
// (ConfigParser) and internal/pyshlex splits its directory lists, and the
// helpers below reproduce what the other library functions do, quirks
// included, instead of using the nearest Go equivalent (filepath.Clean,
// filepath.Dir, ...), whose results differ on corner cases such as "" or
// "//x". They are prefixed with gc ("group config").

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
