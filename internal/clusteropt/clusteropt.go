// Package clusteropt is ClusterShell 1.9.1's CLI/OptionParser.py as far as
// nodeset, clush (csub) and clubak share it: the option parser with its
// version line, its safestring type, its stop at the first argument that
// is not an option and its -s/--groupsource option (OptionParser.__init__),
// and install_groupsconf_option. Each program declares its other options
// itself (internal/nodesetcli, internal/csub) in ClusterShell's order, so
// that --help and usage errors read the same.
package clusteropt

import (
	"fmt"
	"io"
	"maps"
	"strings"

	"github.com/fleetsh/fleetsh/internal/optparse"
	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

// Config is what differs between the programs' parsers.
type Config struct {
	Usage   string // optparse's usage, "%prog [options]"
	Prog    string // the program's name
	Version string // ClusterShell's version, printed as "%prog <Version>"
	// HelpWidth is the help's width, optparse.WidthFromColumns of the
	// program's $COLUMNS.
	HelpWidth int
	// Stdout and Stderr receive the help, the version and usage errors.
	Stdout, Stderr io.Writer
	// Types are option types besides safestring (nodeset's autostep).
	Types map[string]optparse.Checker
}

// New returns OptionParser(usage) as ClusterShell creates it: the parser
// and its -s/--groupsource option.
func New(cfg Config) *optparse.Parser {
	types := map[string]optparse.Checker{"safestring": CheckSafestring}
	maps.Copy(types, cfg.Types)
	p := optparse.New(optparse.Config{
		Usage:     cfg.Usage,
		Prog:      cfg.Prog,
		Version:   "%prog " + cfg.Version,
		Types:     types,
		Formatter: optparse.NewHelpFormatter(cfg.HelpWidth),
		Stdout:    cfg.Stdout,
		Stderr:    cfg.Stderr,
	})
	p.DisableInterspersedArgs()
	p.AddOption(optparse.Option{Flags: []string{"-s", "--groupsource"}, Action: optparse.ActionStore, Type: "safestring",
		Dest: "groupsource", Help: "optional groups.conf(5) group source to use"})
	return p
}

// AddGroupsconfOption is install_groupsconf_option: --groupsconf FILE.
func AddGroupsconfOption(p *optparse.Parser) {
	p.AddOption(optparse.Option{Flags: []string{"--groupsconf"}, Action: optparse.ActionStore, Metavar: "FILE",
		Help: "use alternate config file for groups.conf(5)"})
}

// CheckSafestring is ClusterShell's check_safestring option type: a value
// that is empty or looks like an option is refused ("clush -w -b ...").
func CheckSafestring(_ *optparse.Option, optStr, value string) (any, error) {
	if value == "" || strings.HasPrefix(value, "-") {
		return nil, &optparse.OptionValueError{Msg: fmt.Sprintf("option %s: invalid value: %s", optStr, pyfmt.ReprString(value))}
	}
	return value, nil
}
