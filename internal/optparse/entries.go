package optparse

import "strings"

// HelpEntry is one option as --help lists it, for the programs that
// generate man pages and shell completion from a parser's declarations
// (internal/clispec).
type HelpEntry struct {
	// Group is the title of the option's group ("" for the parser's own
	// options, listed first).
	Group string
	// Short and Long are the option strings ("-w"; "--worker").
	Short, Long []string
	// Metavar names the option's value as --help does ("" when the
	// option takes none).
	Metavar string
	// Help is the help text with %default expanded, as --help prints it.
	Help string
	// Choices are the values a choice option accepts.
	Choices []string
}

// HelpEntries returns the options --help lists, in its order (the
// parser's own, then each group's), leaving out SuppressHelp ones.
func (p *Parser) HelpEntries() []HelpEntry {
	h := p.newHelpState()
	var out []HelpEntry
	add := func(group string, opts []*Option) {
		for _, o := range opts {
			if o.Help == SuppressHelp {
				continue
			}
			e := HelpEntry{Group: group, Short: append([]string(nil), o.shortOpts...),
				Long: append([]string(nil), o.longOpts...), Choices: append([]string(nil), o.Choices...)}
			if o.TakesValue() {
				e.Metavar = o.Metavar
				if e.Metavar == "" {
					e.Metavar = strings.ToUpper(o.Dest)
				}
			}
			if o.Help != "" {
				e.Help = h.expandDefault(o)
			}
			out = append(out, e)
		}
	}
	add("", p.options)
	for _, g := range p.groups {
		add(g.Title, g.options)
	}
	return out
}

// UsageLine returns the usage text with %prog expanded and without
// "Usage: " ("" when usage is suppressed).
func (p *Parser) UsageLine() string {
	if !p.hasUsage {
		return ""
	}
	return p.expandProg(p.usage)
}

// Prog returns the program name the parser prints.
func (p *Parser) Prog() string { return p.prog }
