// Package pyini is the part of Python 3's configparser.ConfigParser
// (default settings, BasicInterpolation) that clush.conf is read with:
// csub reads the same files as clush and must find the same values, and
// fail with the same messages on the same mistakes.
//
//   - "key = value" and "key: value", split at the first '=' or ':', keys
//     lower-cased, values stripped; full-line comments ('#' or ';'), no
//     inline ones;
//   - continuation lines (indented deeper than the option's first line)
//     joined with "\n", trailing blank lines dropped;
//   - a [DEFAULT] section inherited by every section;
//   - strict mode: a section or option repeated in one file is an error;
//     later files override earlier ones;
//   - "%(name)s" and "%%" interpolation on Get, checked on Set.
//
// (pkg/nodeset carries its own copy for groups.conf, since it imports
// nothing of ours.)
package pyini

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

// DefaultSection is configparser's DEFAULTSECT.
const DefaultSection = "DEFAULT"

// maxInterpolationDepth is configparser.MAX_INTERPOLATION_DEPTH.
const maxInterpolationDepth = 10

// Error is a configparser.Error (a syntax or interpolation error); its
// message is Python's.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

// NoSectionError is configparser.NoSectionError.
type NoSectionError struct{ Section string }

func (e *NoSectionError) Error() string { return "No section: " + pyfmt.ReprString(e.Section) }

// NoOptionError is configparser.NoOptionError.
type NoOptionError struct{ Option, Section string }

func (e *NoOptionError) Error() string {
	return fmt.Sprintf("No option %s in section: %s", pyfmt.ReprString(e.Option), pyfmt.ReprString(e.Section))
}

// ValueError is the ValueError Set raises for a value whose '%' cannot
// be interpolated.
type ValueError struct{ Msg string }

func (e *ValueError) Error() string { return e.Msg }

// Config is a ConfigParser. The zero value is not usable: use New.
type Config struct {
	defaults *section
	sections []*section // in order of creation
	byName   map[string]*section
}

// section keeps values as lines while a file is read (continuations are
// appended) and joins them when the file is done, as configparser does.
type section struct {
	name  string
	lines map[string][]string
	vals  map[string]string
}

func newSection(name string) *section {
	return &section{name: name, lines: map[string][]string{}, vals: map[string]string{}}
}

// New returns an empty ConfigParser.
func New() *Config {
	return &Config{defaults: newSection(DefaultSection), byName: map[string]*section{}}
}

// AddSection is add_section for a section that does not exist yet (an
// existing one is kept).
func (c *Config) AddSection(name string) {
	if _, ok := c.byName[name]; !ok && name != DefaultSection {
		s := newSection(name)
		c.byName[name] = s
		c.sections = append(c.sections, s)
	}
}

// Sections returns the section names in order, DEFAULT excluded.
func (c *Config) Sections() []string {
	names := make([]string, len(c.sections))
	for i, s := range c.sections {
		names[i] = s.name
	}
	return names
}

// HasSection is has_section.
func (c *Config) HasSection(name string) bool {
	_, ok := c.byName[name]
	return ok
}

// keyRe is compiled on first use: compiling a regexp at start-up costs
// every run of csub most of a millisecond in page faults.
var keyRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`%\(([^)]+)\)s`) })

// Set is ConfigParser.set: BasicInterpolation refuses a value with a '%'
// that is neither "%%" nor "%(name)s" (a *ValueError), and the section
// must exist.
func (c *Config) Set(sect, option, value string) error {
	if value != "" {
		tmp := strings.ReplaceAll(value, "%%", "")
		tmp = keyRe().ReplaceAllString(tmp, "")
		if i := strings.IndexByte(tmp, '%'); i >= 0 {
			return &ValueError{fmt.Sprintf("invalid interpolation syntax in %s at position %d",
				pyfmt.ReprString(value), utf8.RuneCountInString(tmp[:i]))}
		}
	}
	s := c.defaults
	if sect != DefaultSection {
		var ok bool
		if s, ok = c.byName[sect]; !ok {
			return &NoSectionError{sect}
		}
	}
	s.vals[strings.ToLower(option)] = value
	return nil
}

// Read parses each file in turn like ConfigParser.read: files that cannot
// be read are skipped silently, and the names of those that were parsed
// are returned. A syntax error stops the read.
func (c *Config) Read(files ...string) ([]string, error) {
	var parsed []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // Python's read() skips any OSError
		}
		if err := c.parse(f, data); err != nil {
			return parsed, err
		}
		parsed = append(parsed, f)
	}
	return parsed, nil
}

func isSpace(r rune) bool { return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f) }

func strip(s string) string  { return strings.TrimFunc(s, isSpace) }
func rstrip(s string) string { return strings.TrimRightFunc(s, isSpace) }

// parse is RawConfigParser._read.
func (c *Config) parse(fname string, data []byte) error {
	if !utf8.Valid(data) {
		return &Error{fmt.Sprintf("%s: invalid UTF-8 text", fname)}
	}
	text := strings.ReplaceAll(string(data), "\r\n", "\n") // universal newlines
	text = strings.ReplaceAll(text, "\r", "\n")
	lines := strings.SplitAfter(text, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	type secOpt struct{ sect, opt string }
	var (
		added       = map[string]bool{}
		addedOpts   = map[secOpt]bool{}
		cur         *section
		sectname    string
		optname     string
		indentLevel int
		badLines    []string
	)
	touched := map[*section]bool{}
	for i, line := range lines {
		lineno := i + 1
		stripped := strip(line)
		if strings.HasPrefix(stripped, "#") || strings.HasPrefix(stripped, ";") {
			continue // a comment neither ends a value nor adds to it
		}
		if stripped == "" {
			if cur != nil && optname != "" {
				cur.lines[optname] = append(cur.lines[optname], "")
			}
			continue
		}
		indent := 0
		for _, r := range line {
			if !isSpace(r) {
				break
			}
			indent++
		}
		if cur != nil && optname != "" && indent > indentLevel {
			cur.lines[optname] = append(cur.lines[optname], stripped)
			continue
		}
		indentLevel = indent
		if strings.HasPrefix(stripped, "[") {
			if end := strings.LastIndexByte(stripped, ']'); end > 1 {
				sectname = stripped[1:end]
				switch s, ok := c.byName[sectname]; {
				case ok:
					if added[sectname] {
						return &Error{fmt.Sprintf("While reading from %s [line %2d]: section %s already exists",
							pyfmt.ReprString(fname), lineno, pyfmt.ReprString(sectname))}
					}
					cur = s
				case sectname == DefaultSection:
					cur = c.defaults
				default:
					cur = newSection(sectname)
					c.byName[sectname] = cur
					c.sections = append(c.sections, cur)
				}
				added[sectname] = true
				touched[cur] = true
				optname = ""
				continue
			}
		}
		if cur == nil {
			return &Error{fmt.Sprintf("File contains no section headers.\nfile: %s, line: %d\n%s",
				pyfmt.ReprString(fname), lineno, pyfmt.ReprString(line))}
		}
		delim := strings.IndexAny(stripped, "=:")
		if delim < 0 {
			badLines = append(badLines, fmt.Sprintf("\n\t[line %2d]: %s", lineno, pyfmt.ReprString(line)))
			continue
		}
		name := rstrip(stripped[:delim])
		if name == "" {
			badLines = append(badLines, fmt.Sprintf("\n\t[line %2d]: %s", lineno, pyfmt.ReprString(line)))
		}
		optname = strings.ToLower(name)
		key := secOpt{sectname, optname}
		if addedOpts[key] {
			return &Error{fmt.Sprintf("While reading from %s [line %2d]: option %s in section %s already exists",
				pyfmt.ReprString(fname), lineno, pyfmt.ReprString(optname), pyfmt.ReprString(sectname))}
		}
		addedOpts[key] = true
		cur.lines[optname] = []string{strip(stripped[delim+1:])}
	}
	for s := range touched {
		for name, val := range s.lines {
			s.vals[name] = rstrip(strings.Join(val, "\n"))
		}
		clear(s.lines)
	}
	if len(badLines) > 0 {
		return &Error{"Source contains parsing errors: " + pyfmt.ReprString(fname) + strings.Join(badLines, "")}
	}
	return nil
}

// lookup returns the raw value of option in sect, falling back to
// DEFAULT.
func (c *Config) lookup(sect, option string) (string, error) {
	s, ok := c.byName[sect]
	if !ok && sect != DefaultSection {
		return "", &NoSectionError{sect}
	}
	if ok {
		if v, ok := s.vals[option]; ok {
			return v, nil
		}
	}
	if v, ok := c.defaults.vals[option]; ok {
		return v, nil
	}
	return "", &NoOptionError{option, sect}
}

// Get is ConfigParser.get(section, option) with BasicInterpolation.
func (c *Config) Get(sect, option string) (string, error) {
	option = strings.ToLower(option)
	raw, err := c.lookup(sect, option)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := c.interpolate(&b, sect, option, raw, raw, 1); err != nil {
		return "", err
	}
	return b.String(), nil
}

func (c *Config) interpolate(b *strings.Builder, sect, option, rawval, rest string, depth int) error {
	if depth > maxInterpolationDepth {
		return &Error{fmt.Sprintf("Recursion limit exceeded in value substitution: option %s in section %s "+
			"contains an interpolation key which cannot be substituted in %d steps. Raw value: %s",
			pyfmt.ReprString(option), pyfmt.ReprString(sect), maxInterpolationDepth, pyfmt.ReprString(rawval))}
	}
	for rest != "" {
		p := strings.IndexByte(rest, '%')
		if p < 0 {
			b.WriteString(rest)
			return nil
		}
		b.WriteString(rest[:p])
		rest = rest[p:]
		switch {
		case strings.HasPrefix(rest, "%%"):
			b.WriteByte('%')
			rest = rest[2:]
		case strings.HasPrefix(rest, "%("):
			m := keyRe().FindStringSubmatchIndex(rest)
			if m == nil || m[0] != 0 {
				return &Error{"bad interpolation variable reference " + pyfmt.ReprString(rest)}
			}
			name := strings.ToLower(rest[m[2]:m[3]])
			rest = rest[m[1]:]
			v, err := c.lookup(sect, name)
			if err != nil {
				return &Error{fmt.Sprintf("Bad value substitution: option %s in section %s contains an "+
					"interpolation key %s which is not a valid option name. Raw value: %s",
					pyfmt.ReprString(option), pyfmt.ReprString(sect), pyfmt.ReprString(name), pyfmt.ReprString(rawval))}
			}
			if strings.Contains(v, "%") {
				if err := c.interpolate(b, sect, option, rawval, v, depth+1); err != nil {
					return err
				}
			} else {
				b.WriteString(v)
			}
		default:
			return &Error{"'%' must be followed by '%' or '(', found: " + pyfmt.ReprString(rest)}
		}
	}
	return nil
}
