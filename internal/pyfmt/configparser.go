package pyfmt

import (
	"fmt"
	"os"
	"strings"
	"unicode/utf8"
)

// ConfigParser is Python 3.11's configparser.ConfigParser as ClusterShell
// 1.9.1 constructs it for groups.conf (NodeUtils.GroupResolverConfig),
// clush.conf (CLI.Config.ClushConfig) and topology.conf
// (Topology.TopologyParser): all three keep the default settings, so that
// one reader serves them all:
//
//   - "key = value" and "key: value", split at the first '=' or ':', the
//     name right-stripped and the value stripped;
//   - full-line comments starting with '#' or ';' (after indentation), no
//     inline comments ("map: cmd # x" keeps "# x");
//   - continuation lines: a line indented deeper than its option's first
//     line continues the value, joined with "\n"; blank lines inside a
//     value are kept and trailing ones dropped;
//   - a [DEFAULT] section whose options every section inherits;
//   - strict mode: a section or an option repeated within one file is an
//     error, while a later file overrides an earlier one;
//   - BasicInterpolation ("%(name)s", "%%") on Get and Items, checked on
//     Set; GetRaw reads a value as written (get(..., raw=True)).
//
// The settings in which the callers differ are the fields of
// [ConfigOptions]. The zero value is not usable: use NewConfigParser.
type ConfigParser struct {
	opts     ConfigOptions
	defaults *cpSection
	sections []*cpSection // in order of creation
	byName   map[string]*cpSection
}

// ConfigOptions are the settings in which fleetsh's ConfigParsers differ.
type ConfigOptions struct {
	// CaseSensitive keeps option names as written, as ClusterShell's
	// TopologyParser does (optionxform = str). Without it names are
	// lower-cased, configparser's default optionxform.
	CaseSensitive bool
	// StopAtFirstError makes a read fail at the first fault in line order,
	// a malformed line or invalid UTF-8 included, with a *ConfigError about
	// that line alone. Without it a read fails as configparser's does: on
	// invalid UTF-8 anywhere before reading anything, on a duplicate or a
	// missing section header at once, and on malformed lines at the end of
	// the file with one ParsingError listing them all. topology.conf's
	// reader reports the first fault, with the line to fix.
	StopAtFirstError bool
}

// DefaultSection is configparser's DEFAULTSECT.
const DefaultSection = "DEFAULT"

// cpSection is a section's options, in order of first appearance (the
// order of a Python dict, which Items keeps).
type cpSection struct {
	name  string
	opts  map[string]*cpOption
	order []*cpOption
}

// cpOption is one option; lines holds its value while a file is read
// (continuation lines are appended) and value the joined result, as
// configparser keeps a list until the file is done.
type cpOption struct {
	name  string
	lines []string
	value string
	line  int // the line of its key in the file that set it; 0 when Set
}

func newCPSection(name string) *cpSection {
	return &cpSection{name: name, opts: map[string]*cpOption{}}
}

// set returns the option called name of s, created at the end of the
// order if new, and records line as where it was last set.
func (s *cpSection) set(name string, line int) *cpOption {
	o, ok := s.opts[name]
	if !ok {
		o = &cpOption{name: name}
		s.opts[name] = o
		s.order = append(s.order, o)
	}
	o.line = line
	return o
}

// NewConfigParser returns an empty ConfigParser.
func NewConfigParser(opts ConfigOptions) *ConfigParser {
	return &ConfigParser{opts: opts, defaults: newCPSection(DefaultSection), byName: map[string]*cpSection{}}
}

// optionxform is ConfigParser.optionxform.
func (c *ConfigParser) optionxform(name string) string {
	if c.opts.CaseSensitive {
		return name
	}
	return strings.ToLower(name)
}

// AddSection is add_section for a section that does not exist yet (an
// existing one is kept).
func (c *ConfigParser) AddSection(name string) {
	if _, ok := c.byName[name]; !ok && name != DefaultSection {
		s := newCPSection(name)
		c.byName[name] = s
		c.sections = append(c.sections, s)
	}
}

// Sections returns the section names in order, DEFAULT excluded.
func (c *ConfigParser) Sections() []string {
	names := make([]string, len(c.sections))
	for i, s := range c.sections {
		names[i] = s.name
	}
	return names
}

// HasSection is has_section: DEFAULT is not a section.
func (c *ConfigParser) HasSection(name string) bool {
	_, ok := c.byName[name]
	return ok
}

// HasOption is has_option: DEFAULT options count for every existing
// section, and section "" is DEFAULT.
func (c *ConfigParser) HasOption(section, option string) bool {
	option = c.optionxform(option)
	if section == "" || section == DefaultSection {
		_, ok := c.defaults.opts[option]
		return ok
	}
	s, ok := c.byName[section]
	if !ok {
		return false
	}
	if _, ok := s.opts[option]; ok {
		return true
	}
	_, ok = c.defaults.opts[option]
	return ok
}

// Set is ConfigParser.set: BasicInterpolation refuses a value with a '%'
// that is neither "%%" nor "%(name)s" (an *Error of kind ValueError), and
// the section must exist (a *NoSectionError).
func (c *ConfigParser) Set(section, option, value string) error {
	if err := checkInterpolation(value); err != nil {
		return err
	}
	s := c.defaults
	if section != DefaultSection {
		var ok bool
		if s, ok = c.byName[section]; !ok {
			return &NoSectionError{section}
		}
	}
	s.set(c.optionxform(option), 0).value = value
	return nil
}

// checkInterpolation is BasicInterpolation.before_set: with every "%%"
// removed, then every "%(name)s", no '%' may remain. The position Python
// reports is in that reduced string, in code points.
func checkInterpolation(value string) error {
	rest := strings.ReplaceAll(value, "%%", "")
	var tmp strings.Builder
	for {
		i := strings.Index(rest, "%(")
		if i < 0 {
			tmp.WriteString(rest)
			break
		}
		if n := keyRef(rest[i:]); n > 0 {
			tmp.WriteString(rest[:i])
			rest = rest[i+n:]
			continue
		}
		tmp.WriteString(rest[:i+1])
		rest = rest[i+1:]
	}
	if p := strings.IndexByte(tmp.String(), '%'); p >= 0 {
		return valueError(fmt.Sprintf("invalid interpolation syntax in %s at position %d",
			ReprString(value), utf8.RuneCountInString(tmp.String()[:p])))
	}
	return nil
}

// keyRef returns the length of the reference "%(name)s" at the start of s
// (configparser's _KEYCRE, `%\(([^)]+)\)s`), or 0.
func keyRef(s string) int {
	end := strings.IndexByte(s, ')')
	if end < 3 || !strings.HasPrefix(s[end:], ")s") {
		return 0
	}
	return end + 2
}

// Read parses each file in turn like ConfigParser.read: files that cannot
// be read are skipped silently, and the names of those that were parsed
// are returned. A syntax error (a *ConfigError) stops the read.
func (c *ConfigParser) Read(files ...string) ([]string, error) {
	var parsed []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // Python's read() skips any OSError
		}
		if err := c.ReadString(string(data), f); err != nil {
			return parsed, err
		}
		parsed = append(parsed, f)
	}
	return parsed, nil
}

// ReadString is read_string: text read as the contents of a file named
// source (in error messages).
func (c *ConfigParser) ReadString(text, source string) error {
	// Python reads text files with universal newlines.
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	lines := strings.SplitAfter(text, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if !c.opts.StopAtFirstError && !utf8.ValidString(text) {
		line := 1
		for utf8.ValidString(lines[line-1]) {
			line++
		}
		return &ConfigError{Kind: ErrInvalidUTF8, Source: source, Line: line}
	}
	r := cpReader{c: c, source: source, added: map[string]bool{}, addedOpts: map[[2]string]bool{}}
	for i, line := range lines {
		if err := r.line(i+1, line); err != nil {
			return err
		}
	}
	// _join_multiline_values, for the options this file set.
	for _, o := range r.touched {
		o.value = RStrip(strings.Join(o.lines, "\n"))
		o.lines = nil
	}
	if len(r.bad) > 0 {
		e := r.bad[0]
		e.more = r.bad[1:]
		return e
	}
	return nil
}

// cpReader is the state of RawConfigParser._read over one file.
type cpReader struct {
	c           *ConfigParser
	source      string
	added       map[string]bool    // sections met in this file
	addedOpts   map[[2]string]bool // (section, option) met in this file
	cur         *cpSection         // nil before the first header
	sectname    string
	opt         *cpOption // the option continuation lines extend, or nil
	indentLevel int
	touched     []*cpOption
	bad         []*ConfigError // malformed lines, reported at the end
}

// line reads line lineno (with its "\n", if any).
func (r *cpReader) line(lineno int, line string) error {
	if !utf8.ValidString(line) { // only with StopAtFirstError
		return &ConfigError{Kind: ErrInvalidUTF8, Source: r.source, Line: lineno}
	}
	value := Strip(line)
	if strings.HasPrefix(value, "#") || strings.HasPrefix(value, ";") {
		return nil // a comment neither ends a value nor adds to it
	}
	if value == "" {
		// A blank line belongs to the value being read (trailing ones are
		// removed when values are joined).
		if r.opt != nil {
			r.opt.lines = append(r.opt.lines, "")
		}
		return nil
	}
	indent := 0 // in code points, as configparser counts
	for _, c := range line {
		if !IsSpace(c) {
			break
		}
		indent++
	}
	if r.opt != nil && indent > r.indentLevel {
		r.opt.lines = append(r.opt.lines, value)
		return nil
	}
	r.indentLevel = indent
	// Section header: SECTCRE `\[(?P<header>.+)\]`, matched at the start
	// of the stripped line: the name runs to the last ']' and what follows
	// it is ignored.
	if strings.HasPrefix(value, "[") {
		if end := strings.LastIndexByte(value, ']'); end > 1 {
			return r.header(lineno, value[1:end])
		}
	}
	if r.cur == nil {
		return &ConfigError{Kind: ErrNoSectionHeader, Source: r.source, Line: lineno, Text: line}
	}
	// Option: OPTCRE, the name is everything before the first delimiter.
	delim := strings.IndexAny(value, "=:")
	if delim < 0 {
		// The option continuation lines extend is kept: configparser lets
		// them extend the option before a malformed line.
		return r.malformed(lineno, line)
	}
	name := RStrip(value[:delim])
	if name == "" {
		if err := r.malformed(lineno, line); err != nil {
			return err
		}
	}
	name = r.c.optionxform(name)
	key := [2]string{r.sectname, name}
	if r.addedOpts[key] {
		return &ConfigError{Kind: ErrDuplicateOption, Source: r.source, Line: lineno, Section: r.sectname, Option: name}
	}
	r.addedOpts[key] = true
	r.opt = r.cur.set(name, lineno)
	r.opt.lines = []string{Strip(value[delim+1:])}
	r.touched = append(r.touched, r.opt)
	if name == "" {
		r.opt = nil // an empty name takes no continuation lines
	}
	return nil
}

func (r *cpReader) header(lineno int, name string) error {
	r.sectname = name
	r.opt = nil
	switch s, ok := r.c.byName[name]; {
	case ok:
		if r.added[name] {
			return &ConfigError{Kind: ErrDuplicateSection, Source: r.source, Line: lineno, Section: name}
		}
		r.cur = s
	case name == DefaultSection:
		r.cur = r.c.defaults
	default:
		r.cur = newCPSection(name)
		r.c.byName[name] = r.cur
		r.c.sections = append(r.c.sections, r.cur)
	}
	r.added[name] = true
	return nil
}

// malformed records a line that is neither a header, an option, a
// continuation nor a comment: an error at once with StopAtFirstError,
// otherwise one of the ParsingError's lines.
func (r *cpReader) malformed(lineno int, line string) error {
	e := &ConfigError{Kind: ErrParsing, Source: r.source, Line: lineno, Text: line}
	if r.c.opts.StopAtFirstError {
		return e
	}
	r.bad = append(r.bad, e)
	return nil
}
