package nodeset

import (
	"fmt"
	"os"
	"strings"
	"unicode/utf8"
)

// iniConfig reproduces the parts of Python 3's configparser.ConfigParser
// (default settings) that ClusterShell's groups.conf handling depends on:
//
//   - "key = value" and "key: value", split at the first '=' or ':', keys
//     lowercased, values stripped;
//   - full-line comments starting with '#' or ';' (after indentation), no
//     inline comments, so "map: cmd # x" keeps "# x" in the command;
//   - continuation lines: any line indented deeper than its option's first
//     line, joined with "\n"; blank lines inside a value are kept but
//     trailing ones dropped;
//   - a [DEFAULT] section whose options every section inherits;
//   - strict mode: a section or option repeated within one file is an
//     error, while later files simply override earlier ones;
//   - BasicInterpolation ("%(name)s", "%%") on non-raw reads.
type iniConfig struct {
	defaults *iniSection
	sections []*iniSection // in order of first appearance
	byName   map[string]*iniSection
}

// iniSection keeps values as lines while a file is read (continuations are
// appended) and joins them once the file is done, as configparser does.
type iniSection struct {
	name  string
	lines map[string][]string // during a read
	vals  map[string]string
}

const iniDefaultSection = "DEFAULT"

// iniMaxInterpolationDepth is configparser.MAX_INTERPOLATION_DEPTH.
const iniMaxInterpolationDepth = 10

func newINIConfig() *iniConfig {
	return &iniConfig{
		defaults: newINISection(iniDefaultSection),
		byName:   map[string]*iniSection{},
	}
}

func newINISection(name string) *iniSection {
	return &iniSection{name: name, lines: map[string][]string{}, vals: map[string]string{}}
}

// iniNoSectionError and iniNoOptionError mirror configparser's
// NoSectionError and NoOptionError, which ClusterShell treats as "option not
// set" in [Main] but reports as configuration errors in source sections.
type iniNoSectionError struct{ section string }

func (e *iniNoSectionError) Error() string { return "No section: " + gcRepr(e.section) }

type iniNoOptionError struct{ option, section string }

func (e *iniNoOptionError) Error() string {
	return fmt.Sprintf("No option %s in section: %s", gcRepr(e.option), gcRepr(e.section))
}

// read parses each file in turn like ConfigParser.read: files that cannot
// be read are skipped silently, and the names of those that were parsed are
// returned. A syntax error in any file stops the whole read.
func (c *iniConfig) read(files ...string) ([]string, error) {
	var parsed []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			// Python's read() skips any OSError: missing file,
			// permission denied, directory.
			continue
		}
		if err := c.parse(f, data); err != nil {
			return parsed, err
		}
		parsed = append(parsed, f)
	}
	return parsed, nil
}

// parse mirrors RawConfigParser._read line by line; its comments name the
// Python rule each step reproduces.
func (c *iniConfig) parse(fname string, data []byte) error {
	if !utf8.Valid(data) {
		return &ConfigError{Kind: SyntaxConfig, Msg: fmt.Sprintf("%s: invalid UTF-8 text", fname)}
	}
	// Python reads text files with universal newlines.
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	lines := strings.SplitAfter(text, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}

	type secOpt struct{ sect, opt string }
	var (
		added       = map[string]bool{}
		addedOpts   = map[secOpt]bool{}
		cursect     *iniSection
		sectname    string
		optname     string
		indentLevel int
		badLines    []string
	)
	// Every section touched by this file: their line lists are joined at
	// the end, including sections continued from earlier files.
	touched := map[*iniSection]bool{}

	for i, line := range lines {
		lineno := i + 1
		stripped := gcStrip(line)
		if strings.HasPrefix(stripped, "#") || strings.HasPrefix(stripped, ";") {
			// A comment neither ends a multi-line value nor adds to it.
			continue
		}
		if stripped == "" {
			// A blank line belongs to the value being read (trailing ones
			// are removed when values are joined).
			if cursect != nil && optname != "" {
				cursect.lines[optname] = append(cursect.lines[optname], "")
			}
			continue
		}
		indent := 0
		for _, r := range line {
			if !gcSpace(r) {
				break
			}
			indent++
		}
		if cursect != nil && optname != "" && indent > indentLevel {
			cursect.lines[optname] = append(cursect.lines[optname], stripped)
			continue
		}
		indentLevel = indent
		// Section header: "[" then everything up to the last "]"
		// (configparser's SECTCRE is "\[(?P<header>.+)\]", matched at
		// the start of the stripped line; trailing text is ignored).
		if strings.HasPrefix(stripped, "[") {
			if end := strings.LastIndexByte(stripped, ']'); end > 1 {
				sectname = stripped[1:end]
				switch sec, ok := c.byName[sectname]; {
				case ok:
					if added[sectname] {
						return &ConfigError{Kind: SyntaxConfig, Msg: fmt.Sprintf(
							"While reading from %s [line %2d]: section %s already exists",
							gcRepr(fname), lineno, gcRepr(sectname))}
					}
					cursect = sec
					added[sectname] = true
				case sectname == iniDefaultSection:
					cursect = c.defaults
				default:
					cursect = newINISection(sectname)
					c.byName[sectname] = cursect
					c.sections = append(c.sections, cursect)
					added[sectname] = true
				}
				touched[cursect] = true
				optname = ""
				continue
			}
		}
		if cursect == nil {
			return &ConfigError{Kind: SyntaxConfig, Msg: fmt.Sprintf(
				"File contains no section headers.\nfile: %s, line: %d\n%s",
				gcRepr(fname), lineno, gcRepr(line))}
		}
		// Option: the name is everything before the first delimiter.
		delim := strings.IndexAny(stripped, "=:")
		if delim < 0 {
			badLines = append(badLines, fmt.Sprintf("\n\t[line %2d]: %s", lineno, gcRepr(line)))
			// optname is kept: configparser lets continuation lines
			// after a bad line extend the previous option.
			continue
		}
		name := gcRStrip(stripped[:delim])
		if name == "" {
			badLines = append(badLines, fmt.Sprintf("\n\t[line %2d]: %s", lineno, gcRepr(line)))
		}
		optname = strings.ToLower(name)
		key := secOpt{sectname, optname}
		if addedOpts[key] {
			return &ConfigError{Kind: SyntaxConfig, Msg: fmt.Sprintf(
				"While reading from %s [line %2d]: option %s in section %s already exists",
				gcRepr(fname), lineno, gcRepr(optname), gcRepr(sectname))}
		}
		addedOpts[key] = true
		cursect.lines[optname] = []string{gcStrip(stripped[delim+1:])}
	}

	for sec := range touched {
		for name, val := range sec.lines {
			sec.vals[name] = gcRStrip(strings.Join(val, "\n"))
		}
		clear(sec.lines)
	}
	if len(badLines) > 0 {
		return &ConfigError{Kind: SyntaxConfig, Msg: "Source contains parsing errors: " + gcRepr(fname) + strings.Join(badLines, "")}
	}
	return nil
}

func gcRStrip(s string) string { return strings.TrimRightFunc(s, gcSpace) }

// sectionNames returns the sections in order, DEFAULT excluded, like
// ConfigParser.sections().
func (c *iniConfig) sectionNames() []string {
	names := make([]string, len(c.sections))
	for i, s := range c.sections {
		names[i] = s.name
	}
	return names
}

// hasOption is ConfigParser.has_option: DEFAULT options count for every
// existing section.
func (c *iniConfig) hasOption(section, option string) bool {
	if section == "" || section == iniDefaultSection {
		_, ok := c.defaults.vals[option]
		return ok
	}
	sec, ok := c.byName[section]
	if !ok {
		return false
	}
	if _, ok := sec.vals[option]; ok {
		return true
	}
	_, ok = c.defaults.vals[option]
	return ok
}

// lookup returns the raw value of option in section, falling back to
// DEFAULT.
func (c *iniConfig) lookup(section, option string) (string, error) {
	sec, ok := c.byName[section]
	if !ok && section != iniDefaultSection {
		return "", &iniNoSectionError{section}
	}
	if ok {
		if v, ok := sec.vals[option]; ok {
			return v, nil
		}
	}
	if v, ok := c.defaults.vals[option]; ok {
		return v, nil
	}
	return "", &iniNoOptionError{option, section}
}

// getRaw is ConfigParser.get(section, option, raw=True): ClusterShell reads
// upcall commands raw so that '%' reaches the shell untouched.
func (c *iniConfig) getRaw(section, option string) (string, error) {
	return c.lookup(section, option)
}

// get is ConfigParser.get with BasicInterpolation, which ClusterShell uses
// for the [Main] options: "%%" is a literal '%' and "%(name)s" is the value
// of option name of the same section (or DEFAULT).
func (c *iniConfig) get(section, option string) (string, error) {
	raw, err := c.lookup(section, option)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := c.interpolate(&b, section, option, raw, raw, 1); err != nil {
		return "", err
	}
	return b.String(), nil
}

func (c *iniConfig) interpolate(b *strings.Builder, section, option, rawval, rest string, depth int) error {
	if depth > iniMaxInterpolationDepth {
		return &ConfigError{Kind: SyntaxConfig, Msg: fmt.Sprintf("Recursion limit exceeded in value substitution: "+
			"option %s in section %s contains an interpolation key which cannot be "+
			"substituted in %d steps. Raw value: %s",
			gcRepr(option), gcRepr(section), iniMaxInterpolationDepth, gcRepr(rawval))}
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
			end := strings.Index(rest, ")")
			if end < 3 || !strings.HasPrefix(rest[end:], ")s") {
				return &ConfigError{Kind: SyntaxConfig, Msg: fmt.Sprintf("bad interpolation variable reference %s", gcRepr(rest))}
			}
			name := strings.ToLower(rest[2:end])
			rest = rest[end+2:]
			v, err := c.lookup(section, name)
			if err != nil {
				return &ConfigError{Kind: SyntaxConfig, Msg: fmt.Sprintf("Bad value substitution: option %s in section %s "+
					"contains an interpolation key %s which is not a valid option name. Raw value: %s",
					gcRepr(option), gcRepr(section), gcRepr(name), gcRepr(rawval))}
			}
			if strings.Contains(v, "%") {
				if err := c.interpolate(b, section, option, rawval, v, depth+1); err != nil {
					return err
				}
			} else {
				b.WriteString(v)
			}
		default:
			return &ConfigError{Kind: SyntaxConfig, Msg: fmt.Sprintf("'%%' must be followed by '%%' or '(', found: %s", gcRepr(rest))}
		}
	}
	return nil
}
