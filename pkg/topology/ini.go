package topology

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file reads the subset of Python's configparser.ConfigParser (Python
// 3.11, as ClusterShell 1.9 constructs it: default delimiters "=" and ":",
// full-line comments "#" and ";", no inline comments, empty lines kept in
// values, strict duplicate checks, BasicInterpolation, case-sensitive keys)
// that topology.conf needs. Each construct is read the way configparser
// reads it, so that a file means the same thing to fleetsh and to clush.

// iniOption is one "key: value" entry with its continuation lines.
type iniOption struct {
	name  string
	lines []string // first line's value, then continuation lines ("" for empty lines)
	line  int      // line of the key
}

// value is configparser's _join_multiline_values: lines joined by "\n",
// trailing white space removed.
func (o *iniOption) value() string {
	return strings.TrimRightFunc(strings.Join(o.lines, "\n"), pySpace)
}

type iniSection struct {
	name  string
	line  int
	opts  []*iniOption
	index map[string]*iniOption
}

func (s *iniSection) add(o *iniOption) {
	if s.index == nil {
		s.index = make(map[string]*iniOption)
	}
	s.opts = append(s.opts, o)
	s.index[o.name] = o
}

type iniFile struct {
	defaults iniSection // [DEFAULT]
	sections []*iniSection
	byName   map[string]*iniSection
}

// iniError is a syntax error at one line.
type iniError struct {
	line int
	msg  string
}

// pySpace is Python's str.isspace for one character.
func pySpace(r rune) bool { return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f) }

func pyStrip(s string) string { return strings.TrimFunc(s, pySpace) }

// pyRepr quotes s for a message, as Go does (close to Python's repr).
func pyRepr(s string) string { return fmt.Sprintf("%q", s) }

// splitLines splits text the way Python's text files iterate: lines end at
// "\n", "\r\n" or "\r" (universal newlines). The terminators are dropped.
func splitLines(text string) []string {
	var lines []string
	for text != "" {
		i := strings.IndexAny(text, "\r\n")
		if i < 0 {
			lines = append(lines, text)
			break
		}
		lines = append(lines, text[:i])
		if text[i] == '\r' && i+1 < len(text) && text[i+1] == '\n' {
			i++
		}
		text = text[i+1:]
	}
	return lines
}

// indentOf counts the leading white space characters of line (configparser
// measures indentation in characters, not bytes).
func indentOf(line string) int {
	n := 0
	for _, r := range line {
		if !pySpace(r) {
			break
		}
		n++
	}
	return n
}

// sectionHeader is configparser's SECTCRE (`\[(?P<header>.+)\]`, matched at
// the start of the stripped line, not anchored at its end): the name runs
// from the first "[" to the last "]", and text after it is ignored.
func sectionHeader(value string) (string, bool) {
	if !strings.HasPrefix(value, "[") {
		return "", false
	}
	end := strings.LastIndexByte(value, ']')
	if end < 2 {
		return "", false
	}
	return value[1:end], true
}

// parseINI is configparser.RawConfigParser._read for one file. configparser
// keeps reading after a malformed line and raises the errors of all of them
// at the end, while duplicates and a missing first section header stop it at
// once; fleetsh reports the first error in line order.
func parseINI(text string) (*iniFile, *iniError) {
	f := &iniFile{byName: make(map[string]*iniSection)}
	f.defaults.name = "DEFAULT"
	var (
		cur         *iniSection // current section, nil before the first header
		opt         *iniOption  // option that continuation lines extend
		indentLevel int
	)
	for i, line := range splitLines(text) {
		lineno := i + 1
		if !utf8.ValidString(line) {
			return nil, &iniError{lineno, "invalid UTF-8 text"}
		}
		value := pyStrip(line)
		if strings.HasPrefix(value, "#") || strings.HasPrefix(value, ";") {
			// A full-line comment: skipped, even inside a multi-line value.
			continue
		}
		if value == "" {
			// An empty line belongs to the value being read (trailing ones
			// are stripped when the value is joined).
			if opt != nil {
				opt.lines = append(opt.lines, "")
			}
			continue
		}
		indent := indentOf(line)
		if opt != nil && indent > indentLevel {
			opt.lines = append(opt.lines, value)
			continue
		}
		indentLevel = indent
		if name, ok := sectionHeader(value); ok {
			opt = nil
			if name == f.defaults.name {
				cur = &f.defaults
				continue
			}
			if _, dup := f.byName[name]; dup {
				return nil, &iniError{lineno, fmt.Sprintf("section %s already exists", pyRepr(name))}
			}
			cur = &iniSection{name: name, line: lineno}
			f.sections = append(f.sections, cur)
			f.byName[name] = cur
			continue
		}
		if cur == nil {
			return nil, &iniError{lineno, fmt.Sprintf("File contains no section headers: %s", pyRepr(value))}
		}
		sep := strings.IndexAny(value, ":=")
		if sep < 0 {
			return nil, &iniError{lineno, fmt.Sprintf("parsing error: %s has no ':' or '=' between source and destination", pyRepr(value))}
		}
		name := strings.TrimRightFunc(value[:sep], pySpace)
		if name == "" {
			return nil, &iniError{lineno, fmt.Sprintf("parsing error: %s has no source before %q", pyRepr(value), value[sep:sep+1])}
		}
		if _, dup := cur.index[name]; dup {
			return nil, &iniError{lineno, fmt.Sprintf("option %s in section %s already exists", pyRepr(name), pyRepr(cur.name))}
		}
		opt = &iniOption{name: name, lines: []string{pyStrip(value[sep+1:])}, line: lineno}
		cur.add(opt)
	}
	return f, nil
}

// iniItem is one (key, value) pair of ConfigParser.items(section).
type iniItem struct {
	key, value string
	line       int
}

// maxInterpolationDepth is configparser's MAX_INTERPOLATION_DEPTH.
const maxInterpolationDepth = 10

// items is ConfigParser.items(section): the [DEFAULT] options, then the
// section's own (a section option overrides a default of the same name in
// place), with values interpolated as BasicInterpolation does ("%%" is "%",
// "%(key)s" is the value of another option of the section or [DEFAULT]).
func (f *iniFile) items(sec *iniSection) ([]iniItem, *iniError) {
	var order []*iniOption
	pos := make(map[string]int)
	for _, src := range []*iniSection{&f.defaults, sec} {
		for _, o := range src.opts {
			if i, ok := pos[o.name]; ok {
				order[i] = o
				continue
			}
			pos[o.name] = len(order)
			order = append(order, o)
		}
	}
	raw := make(map[string]string, len(order))
	for _, o := range order {
		raw[o.name] = o.value()
	}
	items := make([]iniItem, 0, len(order))
	for _, o := range order {
		v := raw[o.name]
		if strings.Contains(v, "%") {
			var b strings.Builder
			if msg := interpolate(&b, o.name, sec.name, v, raw, 1); msg != "" {
				return nil, &iniError{o.line, msg}
			}
			v = b.String()
		}
		items = append(items, iniItem{key: o.name, value: v, line: o.line})
	}
	return items, nil
}

// interpolate is BasicInterpolation._interpolate_some; it returns
// configparser's error message, or "".
func interpolate(b *strings.Builder, option, section, rest string, vars map[string]string, depth int) string {
	if depth > maxInterpolationDepth {
		return fmt.Sprintf("Recursion limit exceeded in value substitution: option %s in section %s contains an interpolation key which cannot be substituted in %d steps. Raw value: %s",
			pyRepr(option), pyRepr(section), maxInterpolationDepth, pyRepr(vars[option]))
	}
	for rest != "" {
		p := strings.IndexByte(rest, '%')
		if p < 0 {
			b.WriteString(rest)
			return ""
		}
		b.WriteString(rest[:p])
		rest = rest[p:]
		switch {
		case strings.HasPrefix(rest, "%%"):
			b.WriteByte('%')
			rest = rest[2:]
		case strings.HasPrefix(rest, "%("):
			// _KEYCRE: %\(([^)]+)\)s
			end := strings.IndexByte(rest, ')')
			if end < 3 || !strings.HasPrefix(rest[end:], ")s") {
				return fmt.Sprintf("bad interpolation variable reference %s", pyRepr(rest))
			}
			key := rest[2:end]
			rest = rest[end+2:]
			v, ok := vars[key]
			if !ok {
				return fmt.Sprintf("Bad value substitution: option %s in section %s contains an interpolation key %s which is not a valid option name. Raw value: %s",
					pyRepr(option), pyRepr(section), pyRepr(key), pyRepr(vars[option]))
			}
			if strings.Contains(v, "%") {
				if msg := interpolate(b, option, section, v, vars, depth+1); msg != "" {
					return msg
				}
			} else {
				b.WriteString(v)
			}
		default:
			return fmt.Sprintf("'%%' must be followed by '%%' or '(', found: %s", pyRepr(rest))
		}
	}
	return ""
}
