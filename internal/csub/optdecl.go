package csub

import (
	"github.com/fleetsh/fleetsh/internal/clusteropt"
	"github.com/fleetsh/fleetsh/internal/optparse"
)

// The option declarations csub and clubak share, as ClusterShell 1.9.1's
// CLI/OptionParser.py shares them between clush and clubak (those nodeset
// shares too are internal/clusteropt's).

// newCLIParser is ClusterShell's OptionParser(usage): the parser and its
// -s/--groupsource option (see clusteropt).
func newCLIParser(env *environ, usage, prog string) *optparse.Parser {
	return clusteropt.New(clusteropt.Config{
		Usage:     usage,
		Prog:      prog,
		Version:   Version,
		HelpWidth: optparse.WidthFromColumns(env.lookup("COLUMNS")),
		Stdout:    env.stdout,
		Stderr:    env.stderr,
	})
}

// displayOptionSet is install_display_options' arguments (debug_option is
// always on for clush and clubak).
type displayOptionSet struct {
	verbose   bool // -q and -v
	separator bool // -S is --separator (clubak), not --maxrc (clush)
	dshbak    bool // -b also as -c, and no -P (clubak)
	msgtree   bool // clubak's -F, -T and --interpret-keys
}

// addDisplayOptions is install_display_options: the "Output behaviour"
// group, in ClusterShell's order.
func addDisplayOptions(p *optparse.Parser, set displayOptionSet) {
	g := p.AddGroup("Output behaviour", "")
	if set.verbose {
		g.AddOption(optparse.Option{Flags: []string{"-q", "--quiet"}, Action: optparse.ActionStoreTrue,
			Dest: "quiet", Help: "be quiet, print essential output only"})
		g.AddOption(optparse.Option{Flags: []string{"-v", "--verbose"}, Action: optparse.ActionStoreTrue,
			Dest: "verbose", Help: "be verbose, print informative messages"})
	}
	g.AddOption(optparse.Option{Flags: []string{"-d", "--debug"}, Action: optparse.ActionStoreTrue,
		Dest: "debug", Help: "output more messages for debugging purpose"})
	g.AddOption(optparse.Option{Flags: []string{"-G", "--groupbase"}, Action: optparse.ActionStoreTrue,
		Dest: "groupbase", Default: false, Help: "do not display group source prefix"})
	g.AddOption(optparse.Option{Flags: []string{"-L"}, Action: optparse.ActionStoreTrue, Dest: "line_mode",
		Help: "disable header block and order output by nodes"})
	g.AddOption(optparse.Option{Flags: []string{"-N"}, Action: optparse.ActionStoreFalse, Dest: "label",
		Default: true, Help: "disable labeling of command line"})
	if set.dshbak {
		g.AddOption(optparse.Option{Flags: []string{"-b", "-c", "--dshbak"}, Action: optparse.ActionStoreTrue,
			Dest: "gather", Help: "gather nodes with same output"})
	} else {
		g.AddOption(optparse.Option{Flags: []string{"-P", "--progress"}, Action: optparse.ActionStoreTrue,
			Dest: "progress", Help: "show progress during command execution"})
		g.AddOption(optparse.Option{Flags: []string{"-b", "--dshbak"}, Action: optparse.ActionStoreTrue,
			Dest: "gather", Help: "gather nodes with same output"})
	}
	g.AddOption(optparse.Option{Flags: []string{"-B"}, Action: optparse.ActionStoreTrue, Dest: "gatherall",
		Default: false, Help: "like -b but including standard error"})
	g.AddOption(optparse.Option{Flags: []string{"-r", "--regroup"}, Action: optparse.ActionStoreTrue,
		Dest: "regroup", Default: false, Help: "fold nodeset using node groups"})
	if set.separator {
		g.AddOption(optparse.Option{Flags: []string{"-S", "--separator"}, Action: optparse.ActionStore,
			Dest: "separator", Default: ":", Help: "node / line content separator string (default: ':')"})
	} else {
		g.AddOption(optparse.Option{Flags: []string{"-S", "--maxrc"}, Action: optparse.ActionStoreTrue,
			Dest: "maxrc", Help: "return the largest of command return codes"})
	}
	if set.msgtree {
		g.AddOption(optparse.Option{Flags: []string{"-F", "--fast"}, Action: optparse.ActionStoreTrue,
			Dest: "fast_mode", Help: "faster but memory hungry mode"})
		g.AddOption(optparse.Option{Flags: []string{"-T", "--tree"}, Action: optparse.ActionStoreTrue,
			Dest: "trace_mode", Help: "message tree trace mode"})
		g.AddOption(optparse.Option{Flags: []string{"--interpret-keys"}, Action: optparse.ActionStore,
			Dest: "interpret_keys", Choices: colorChoices, Default: "auto",
			Help: "whether to interpret keys (never, always or auto)"})
	}
	g.AddOption(optparse.Option{Flags: []string{"--color"}, Action: optparse.ActionStore, Dest: "whencolor",
		Choices: colorChoices, Help: "whether to use ANSI colors (never, always or auto)"})
	g.AddOption(optparse.Option{Flags: []string{"--diff"}, Action: optparse.ActionStoreTrue, Dest: "diff",
		Help: "show diff between gathered outputs"})
	g.AddOption(optparse.Option{Flags: []string{"--outdir"}, Action: optparse.ActionStore, Dest: "outdir",
		Help: "output directory for stdout files (OPTIONAL)"})
	g.AddOption(optparse.Option{Flags: []string{"--errdir"}, Action: optparse.ActionStore, Dest: "errdir",
		Help: "output directory for stderr files (OPTIONAL)"})
}
