package pyfmt

import (
	"fmt"
	"strings"
)

// maxInterpolationDepth is configparser.MAX_INTERPOLATION_DEPTH.
const maxInterpolationDepth = 10

// maxInterpolatedLen bounds the length of a value after interpolation.
// Python has no such limit, but ten levels of references can multiply a
// small file into gigabytes; no real configuration comes near it.
const maxInterpolatedLen = 1 << 20

// ConfigErrorKind tells which configparser exception a *ConfigError is.
type ConfigErrorKind int

// The kinds of *ConfigError, named after configparser's exceptions.
const (
	// ErrNoSectionHeader is MissingSectionHeaderError: an option before
	// the first section header. Text is the line.
	ErrNoSectionHeader ConfigErrorKind = iota + 1
	// ErrDuplicateSection is DuplicateSectionError: Section appears twice
	// in one file.
	ErrDuplicateSection
	// ErrDuplicateOption is DuplicateOptionError: Option appears twice in
	// Section in one file.
	ErrDuplicateOption
	// ErrParsing is ParsingError: Text is a line that is neither a header,
	// an option, a continuation nor a comment (no delimiter, or nothing
	// before it). Python lists every such line of the file in one error;
	// Error does too.
	ErrParsing
	// ErrInvalidUTF8: the file is not UTF-8 text (Python would fail
	// decoding it, with a UnicodeDecodeError). Line is the first line at
	// fault.
	ErrInvalidUTF8
	// ErrBadReference is the InterpolationSyntaxError for a "%(" that does
	// not start a "%(name)s": Text is the rest of the value from there.
	ErrBadReference
	// ErrBadPercent is the InterpolationSyntaxError for a '%' followed by
	// neither '%' nor '(': Text is the rest of the value from there.
	ErrBadPercent
	// ErrMissingKey is InterpolationMissingOptionError: Key is the name
	// that is no option of Section, Text the raw value of Option.
	ErrMissingKey
	// ErrDepth is InterpolationDepthError: more than ten levels of
	// references. Text is the raw value of Option.
	ErrDepth
	// ErrTooLong: the value of Option grows over a megabyte through its
	// references (fleetsh's bound; Python has none). Text is its raw value.
	ErrTooLong
)

// A ConfigError is a configparser.Error: a syntax error of a file, or an
// interpolation error of a value. Error returns Python's message; the
// fields let a caller word its own.
type ConfigError struct {
	Kind    ConfigErrorKind
	Source  string // the file read (syntax errors)
	Line    int    // 1-based line at fault; for interpolation errors the option's line (0: set by Set)
	Section string
	Option  string
	Key     string // ErrMissingKey: the unknown name
	Text    string // the line (syntax errors) or value (interpolation errors) at fault, see Kind
	more    []*ConfigError
}

// Error returns configparser's message, names quoted by Python's repr.
func (e *ConfigError) Error() string {
	if e.Kind >= ErrBadReference {
		return e.Interpolation(ReprString)
	}
	src := ReprString(e.Source)
	switch e.Kind {
	case ErrNoSectionHeader:
		return fmt.Sprintf("File contains no section headers.\nfile: %s, line: %d\n%s", src, e.Line, ReprString(e.Text))
	case ErrDuplicateSection:
		return fmt.Sprintf("While reading from %s [line %2d]: section %s already exists", src, e.Line, ReprString(e.Section))
	case ErrDuplicateOption:
		return fmt.Sprintf("While reading from %s [line %2d]: option %s in section %s already exists",
			src, e.Line, ReprString(e.Option), ReprString(e.Section))
	case ErrParsing:
		var b strings.Builder
		b.WriteString("Source contains parsing errors: " + src)
		for _, l := range append([]*ConfigError{e}, e.more...) {
			fmt.Fprintf(&b, "\n\t[line %2d]: %s", l.Line, ReprString(l.Text))
		}
		return b.String()
	}
	return e.Source + ": invalid UTF-8 text"
}

// Interpolation returns the message of an interpolation error (Kind
// ErrBadReference and after) with names and values quoted by quote.
func (e *ConfigError) Interpolation(quote func(string) string) string {
	switch e.Kind {
	case ErrBadReference:
		return "bad interpolation variable reference " + quote(e.Text)
	case ErrBadPercent:
		return "'%' must be followed by '%' or '(', found: " + quote(e.Text)
	case ErrMissingKey:
		return fmt.Sprintf("Bad value substitution: option %s in section %s contains an interpolation key %s "+
			"which is not a valid option name. Raw value: %s", quote(e.Option), quote(e.Section), quote(e.Key), quote(e.Text))
	case ErrDepth:
		return fmt.Sprintf("Recursion limit exceeded in value substitution: option %s in section %s contains an "+
			"interpolation key which cannot be substituted in %d steps. Raw value: %s",
			quote(e.Option), quote(e.Section), maxInterpolationDepth, quote(e.Text))
	case ErrTooLong:
		return fmt.Sprintf("option %s in section %s is longer than %d bytes after interpolation. Raw value: %s",
			quote(e.Option), quote(e.Section), maxInterpolatedLen, quote(e.Text))
	}
	return e.Error()
}

// NoSectionError is configparser.NoSectionError.
type NoSectionError struct{ Section string }

func (e *NoSectionError) Error() string { return "No section: " + ReprString(e.Section) }

// NoOptionError is configparser.NoOptionError.
type NoOptionError struct{ Option, Section string }

func (e *NoOptionError) Error() string {
	return fmt.Sprintf("No option %s in section: %s", ReprString(e.Option), ReprString(e.Section))
}

// lookup returns option (already transformed) of section, falling back to
// DEFAULT.
func (c *ConfigParser) lookup(section, option string) (*cpOption, error) {
	s, ok := c.byName[section]
	if !ok && section != DefaultSection {
		return nil, &NoSectionError{section}
	}
	if ok {
		if o, ok := s.opts[option]; ok {
			return o, nil
		}
	}
	if o, ok := c.defaults.opts[option]; ok {
		return o, nil
	}
	return nil, &NoOptionError{option, section}
}

// GetRaw is ConfigParser.get(section, option, raw=True): the value as
// written, '%' included.
func (c *ConfigParser) GetRaw(section, option string) (string, error) {
	o, err := c.lookup(section, c.optionxform(option))
	if err != nil {
		return "", err
	}
	return o.value, nil
}

// Get is ConfigParser.get(section, option) with BasicInterpolation: "%%"
// is a literal '%' and "%(name)s" the value of option name of the same
// section (or DEFAULT).
func (c *ConfigParser) Get(section, option string) (string, error) {
	o, err := c.lookup(section, c.optionxform(option))
	if err != nil {
		return "", err
	}
	return c.interpolate(section, o)
}

// ConfigItem is one (name, value) pair of Items, with the line of the key.
type ConfigItem struct {
	Name, Value string
	Line        int
}

// Items is ConfigParser.items(section): the DEFAULT options, then the
// section's own (one that overrides a default keeps the default's place),
// values interpolated.
func (c *ConfigParser) Items(section string) ([]ConfigItem, error) {
	s, ok := c.byName[section]
	if !ok && section != DefaultSection {
		return nil, &NoSectionError{section}
	}
	var order []string
	seen := map[string]bool{}
	for _, src := range []*cpSection{c.defaults, s} {
		if src == nil {
			continue
		}
		for _, o := range src.order {
			if !seen[o.name] {
				seen[o.name] = true
				order = append(order, o.name)
			}
		}
	}
	items := make([]ConfigItem, 0, len(order))
	for _, name := range order {
		o, _ := c.lookup(section, name)
		v, err := c.interpolate(section, o)
		if err != nil {
			return nil, err
		}
		items = append(items, ConfigItem{Name: name, Value: v, Line: o.line})
	}
	return items, nil
}

// interpolate is BasicInterpolation.before_get for option o of section.
func (c *ConfigParser) interpolate(section string, o *cpOption) (string, error) {
	if !strings.Contains(o.value, "%") {
		return o.value, nil
	}
	var b strings.Builder
	if err := c.interpolateSome(&b, section, o, o.value, 1); err != nil {
		return "", err
	}
	return b.String(), nil
}

// interpolateSome is BasicInterpolation._interpolate_some: it appends
// rest, interpolated, to b.
func (c *ConfigParser) interpolateSome(b *strings.Builder, section string, o *cpOption, rest string, depth int) error {
	fail := func(kind ConfigErrorKind, key, text string) error {
		return &ConfigError{Kind: kind, Line: o.line, Section: section, Option: o.name, Key: key, Text: text}
	}
	if depth > maxInterpolationDepth {
		return fail(ErrDepth, "", o.value)
	}
	for rest != "" {
		p := strings.IndexByte(rest, '%')
		if p < 0 {
			p = len(rest)
		}
		if b.Len()+p > maxInterpolatedLen {
			return fail(ErrTooLong, "", o.value)
		}
		b.WriteString(rest[:p])
		rest = rest[p:]
		switch {
		case rest == "":
		case strings.HasPrefix(rest, "%%"):
			b.WriteByte('%')
			rest = rest[2:]
		case strings.HasPrefix(rest, "%("):
			n := keyRef(rest)
			if n == 0 {
				return fail(ErrBadReference, "", rest)
			}
			key := c.optionxform(rest[2 : n-2])
			rest = rest[n:]
			v, err := c.lookup(section, key)
			if err != nil {
				return fail(ErrMissingKey, key, o.value)
			}
			if strings.Contains(v.value, "%") {
				if err := c.interpolateSome(b, section, o, v.value, depth+1); err != nil {
					return err
				}
			} else if b.Len()+len(v.value) > maxInterpolatedLen {
				return fail(ErrTooLong, "", o.value)
			} else {
				b.WriteString(v.value)
			}
		default:
			return fail(ErrBadPercent, "", rest)
		}
	}
	return nil
}
