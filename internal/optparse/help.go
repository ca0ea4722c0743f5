package optparse

import (
	"math"
	"os"
	"strings"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

// HelpFormatter formats the help like optparse's IndentedHelpFormatter.
// Its fields are the constructor arguments and may be changed before use.
type HelpFormatter struct {
	// IndentIncrement is the indentation of each nesting level (2).
	IndentIncrement int
	// MaxHelpPosition is the maximum column of the help texts (24).
	MaxHelpPosition int
	// Width is the total number of columns.
	Width int
	// ShortFirst lists short option strings before long ones (true).
	ShortFirst bool
	// DefaultTag is replaced in help texts by the option's default value
	// ("%default"); empty disables the expansion.
	DefaultTag string
	// ShortOptDelimiter separates a short option from its metavar: " "
	// ("-f FILE", the default) or "" ("-fFILE").
	ShortOptDelimiter string
	// LongOptDelimiter separates a long option from its metavar: "="
	// ("--file=FILE", the default) or " " ("--file FILE").
	LongOptDelimiter string
}

// NewHelpFormatter returns the formatter optparse uses by default. A width
// of 0 means, as width=None does in Python, the value of the COLUMNS
// environment variable (80 if unset or not an integer) minus 2.
func NewHelpFormatter(width int) *HelpFormatter {
	if width == 0 {
		v, ok := os.LookupEnv("COLUMNS")
		width = WidthFromColumns(v, ok)
	}
	return &HelpFormatter{
		IndentIncrement:   2,
		MaxHelpPosition:   24,
		Width:             width,
		ShortFirst:        true,
		DefaultTag:        "%default",
		ShortOptDelimiter: " ",
		LongOptDelimiter:  "=",
	}
}

// WidthFromColumns returns the help width optparse derives from the
// COLUMNS environment variable (value, set): int(COLUMNS) - 2, or 78.
func WidthFromColumns(value string, set bool) int {
	width := int64(80)
	if set {
		if n, err := pyfmt.ParseInt(value, 10); err == nil {
			switch {
			case n.IsInt64() && n.Int64() > -math.MaxInt32 && n.Int64() < math.MaxInt32:
				width = n.Int64()
			case n.Sign() < 0:
				width = -math.MaxInt32
			default:
				width = math.MaxInt32
			}
		}
	}
	return int(width - 2)
}

// helpState is the formatter state of one help rendering (optparse keeps
// it in the formatter).
type helpState struct {
	f             *HelpFormatter
	p             *Parser
	currentIndent int
	helpPosition  int
	helpWidth     int
	strings       map[*Option]string
}

func (f *HelpFormatter) maxHelpPosition() int {
	return min(f.MaxHelpPosition, max(f.Width-20, f.IndentIncrement*2))
}

func (f *HelpFormatter) formatUsage(usage string) string { return "Usage: " + usage + "\n" }

func (h *helpState) indent() { h.currentIndent += h.f.IndentIncrement }
func (h *helpState) dedent() { h.currentIndent -= h.f.IndentIncrement }

func (h *helpState) formatHeading(heading string) string {
	return spaces(h.currentIndent) + heading + ":\n"
}

func spaces(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat(" ", n)
}

func runeLen(s string) int { return len(pyfmt.Decode(s)) }

// formatText wraps a paragraph at the current indentation (_format_text).
func (h *helpState) formatText(text string) string {
	width := max(h.f.Width-h.currentIndent, 11)
	ind := spaces(h.currentIndent)
	return strings.Join(wrapText(text, width, ind, ind), "\n")
}

func (h *helpState) formatDescription(desc string) string {
	if desc == "" {
		return ""
	}
	return h.formatText(desc) + "\n"
}

func (h *helpState) expandDefault(o *Option) string {
	if h.f.DefaultTag == "" {
		return o.Help
	}
	var dv any
	if o.Dest != "" {
		dv = h.p.defaults[o.Dest]
	}
	s := "none"
	if dv != nil {
		s = pyfmt.Str(dv)
	}
	return strings.ReplaceAll(o.Help, h.f.DefaultTag, s)
}

func (h *helpState) formatOption(o *Option) string {
	var b strings.Builder
	opts := h.strings[o]
	optWidth := h.helpPosition - h.currentIndent - 2
	indentFirst := 0
	endsWithNewline := false
	if runeLen(opts) > optWidth {
		b.WriteString(spaces(h.currentIndent) + opts + "\n")
		indentFirst = h.helpPosition
		endsWithNewline = true
	} else {
		b.WriteString(spaces(h.currentIndent) + opts + spaces(optWidth-runeLen(opts)) + "  ")
	}
	var lines []string
	if o.Help != "" {
		lines = wrapText(h.expandDefault(o), h.helpWidth, "", "")
	}
	if len(lines) > 0 {
		b.WriteString(spaces(indentFirst) + lines[0] + "\n")
		for _, l := range lines[1:] {
			b.WriteString(spaces(h.helpPosition) + l + "\n")
		}
	} else if !endsWithNewline {
		b.WriteString("\n")
	}
	return b.String()
}

func (h *helpState) storeOptionStrings() {
	h.indent()
	maxLen := 0
	for _, o := range h.p.options {
		s := h.formatOptionStrings(o)
		h.strings[o] = s
		maxLen = max(maxLen, runeLen(s)+h.currentIndent)
	}
	h.indent()
	for _, g := range h.p.groups {
		for _, o := range g.options {
			s := h.formatOptionStrings(o)
			h.strings[o] = s
			maxLen = max(maxLen, runeLen(s)+h.currentIndent)
		}
	}
	h.dedent()
	h.dedent()
	h.helpPosition = min(maxLen+2, h.f.maxHelpPosition())
	h.helpWidth = max(h.f.Width-h.helpPosition, 11)
}

// formatOptionStrings returns "-x X, --xx=X" (format_option_strings).
func (h *helpState) formatOptionStrings(o *Option) string {
	var shorts, longs []string
	if o.TakesValue() {
		metavar := o.Metavar
		if metavar == "" {
			metavar = strings.ToUpper(o.Dest)
		}
		for _, s := range o.shortOpts {
			shorts = append(shorts, s+h.f.ShortOptDelimiter+metavar)
		}
		for _, l := range o.longOpts {
			longs = append(longs, l+h.f.LongOptDelimiter+metavar)
		}
	} else {
		shorts, longs = o.shortOpts, o.longOpts
	}
	var all []string
	if h.f.ShortFirst {
		all = append(append(all, shorts...), longs...)
	} else {
		all = append(append(all, longs...), shorts...)
	}
	return strings.Join(all, ", ")
}

// formatContainerOptions implements OptionContainer.format_option_help.
func (h *helpState) formatContainerOptions(c *container) string {
	var b strings.Builder
	for _, o := range c.options {
		if o.Help != SuppressHelp {
			b.WriteString(h.formatOption(o))
		}
	}
	return b.String()
}

// formatGroup implements OptionGroup.format_help.
func (h *helpState) formatGroup(g *Group) string {
	result := h.formatHeading(g.Title)
	h.indent()
	var parts []string
	if g.description != "" {
		parts = append(parts, h.formatDescription(g.description))
	}
	if len(g.options) > 0 {
		parts = append(parts, h.formatContainerOptions(&g.container))
	}
	result += strings.Join(parts, "\n")
	h.dedent()
	return result
}

func (p *Parser) newHelpState() *helpState {
	return &helpState{f: p.formatter, p: p, strings: make(map[*Option]string)}
}

func (h *helpState) formatOptionHelp() string {
	h.storeOptionStrings()
	result := []string{h.formatHeading("Options")}
	h.indent()
	if len(h.p.options) > 0 {
		result = append(result, h.formatContainerOptions(&h.p.container), "\n")
	}
	for _, g := range h.p.groups {
		result = append(result, h.formatGroup(g), "\n")
	}
	h.dedent()
	return strings.Join(result[:len(result)-1], "")
}

// FormatHelp returns the full help text --help prints (format_help).
func (p *Parser) FormatHelp() string {
	h := p.newHelpState()
	var b strings.Builder
	if p.hasUsage {
		b.WriteString(p.Usage() + "\n")
	}
	if p.description != "" {
		b.WriteString(h.formatDescription(p.expandProg(p.description)) + "\n")
	}
	b.WriteString(h.formatOptionHelp())
	if p.epilog != "" {
		b.WriteString("\n" + h.formatText(p.epilog) + "\n")
	}
	return b.String()
}
