package optparse_test

import (
	"strings"

	"github.com/fleetsh/fleetsh/internal/optparse"
	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

// This file rebuilds, in Go, the option parser of ClusterShell 1.9.1's
// nodeset (ClusterShell/CLI/OptionParser.py and Nodeset.py), which the
// tests compare with the Python original. clush's parser is checked where
// it is declared, on csub's own table (internal/csub's
// TestParserMatchesClush, on the clush cases of testdata/cases.json).

// checkAutostep is ClusterShell's check_autostep type checker.
func checkAutostep(_ *optparse.Option, opt, value string) (any, error) {
	if strings.Contains(value, "%") {
		r := pyfmt.Decode(value)
		head, _ := pyfmt.Encode(r[:len(r)-1])
		if f, err := pyfmt.ParseFloat(head); err == nil {
			return f / 100.0, nil
		}
	} else if n, err := pyfmt.ParseInt(value, 10); err == nil {
		return optparse.IntValue(n), nil
	}
	if value == "auto" {
		return value, nil
	}
	return nil, &optparse.OptionValueError{Msg: "option " + opt + ": invalid value: " + pyfmt.ReprString(value) +
		", should be node count, node percentage or 'auto'"}
}

// checkSafestring is ClusterShell's check_safestring type checker.
func checkSafestring(_ *optparse.Option, opt, value string) (any, error) {
	if value == "" || strings.HasPrefix(value, "-") {
		return nil, &optparse.OptionValueError{Msg: "option " + opt + ": invalid value: " + pyfmt.ReprString(value)}
	}
	return value, nil
}

// newClusterShellParser is ClusterShell's OptionParser.__init__.
func newClusterShellParser(cfg optparse.Config) *optparse.Parser {
	cfg.Version = "%prog 1.9.1"
	cfg.Types = map[string]optparse.Checker{"autostep": checkAutostep, "safestring": checkSafestring}
	p := optparse.New(cfg)
	p.DisableInterspersedArgs()
	p.AddOption(optparse.Option{Flags: []string{"-s", "--groupsource"}, Action: optparse.ActionStore,
		Type: "safestring", Dest: "groupsource", Help: "optional groups.conf(5) group source to use"})
	return p
}

func installGroupsconfOption(p *optparse.Parser) {
	p.AddOption(optparse.Option{Flags: []string{"--groupsconf"}, Action: optparse.ActionStore, Metavar: "FILE",
		Help: "use alternate config file for groups.conf(5)"})
}

// newNodesetParser builds the parser of ClusterShell.CLI.Nodeset.nodeset().
func newNodesetParser(cfg optparse.Config) *optparse.Parser {
	cfg.Usage = "%prog [COMMAND] [OPTIONS] [ns1 [-ixX] ns2|...]"
	p := newClusterShellParser(cfg)
	installGroupsconfOption(p)

	g := p.AddGroup("Commands", "")
	g.AddOption(optparse.Option{Flags: []string{"-c", "--count"}, Action: optparse.ActionStoreTrue, Dest: "count",
		Default: false, Help: "show number of nodes in nodeset(s)"})
	g.AddOption(optparse.Option{Flags: []string{"-e", "--expand"}, Action: optparse.ActionStoreTrue, Dest: "expand",
		Default: false, Help: "expand nodeset(s) to separate nodes"})
	g.AddOption(optparse.Option{Flags: []string{"-f", "--fold"}, Action: optparse.ActionStoreTrue, Dest: "fold",
		Default: false, Help: "fold nodeset(s) (or separate nodes) into one nodeset"})
	g.AddOption(optparse.Option{Flags: []string{"-l", "--list"}, Action: optparse.ActionCount, Dest: "list",
		Default: false, Help: "list node groups from one source (see -s GROUPSOURCE)"})
	g.AddOption(optparse.Option{Flags: []string{"-L", "--list-all"}, Action: optparse.ActionCount, Dest: "listall",
		Default: false, Help: "list node groups from all group sources"})
	g.AddOption(optparse.Option{Flags: []string{"-r", "--regroup"}, Action: optparse.ActionStoreTrue, Dest: "regroup",
		Default: false, Help: "fold nodes using node groups (see -s GROUPSOURCE)"})
	g.AddOption(optparse.Option{Flags: []string{"--list-sources", "--groupsources"}, Action: optparse.ActionStoreTrue,
		Dest: "groupsources", Default: false, Help: "list all active group sources (see groups.conf(5))"})

	g = p.AddGroup("Operations", "")
	g.AddOption(optparse.Option{Flags: []string{"-x", "--exclude"}, Action: optparse.ActionAppend, Dest: "sub_nodes",
		Default: []any{}, Type: "string", Help: "exclude specified nodeset"})
	g.AddOption(optparse.Option{Flags: []string{"-i", "--intersection"}, Action: optparse.ActionAppend,
		Dest: "and_nodes", Default: []any{}, Type: "string", Help: "calculate nodesets intersection"})
	g.AddOption(optparse.Option{Flags: []string{"-X", "--xor"}, Action: optparse.ActionAppend, Dest: "xor_nodes",
		Default: []any{}, Type: "string", Help: "calculate symmetric difference between nodesets"})

	g = p.AddGroup("Options", "")
	g.AddOption(optparse.Option{Flags: []string{"-a", "--all"}, Action: optparse.ActionStoreTrue, Dest: "all",
		Help: "call external node groups support to display all nodes"})
	g.AddOption(optparse.Option{Flags: []string{"--autostep"}, Action: optparse.ActionStore, Dest: "autostep",
		Help: "enable a-b/step style syntax when folding, value is min node count threshold " +
			"(eg. '4', '50%' or 'auto')", Type: "autostep"})
	g.AddOption(optparse.Option{Flags: []string{"-d", "--debug"}, Action: optparse.ActionStoreTrue, Dest: "debug",
		Help: "output more messages for debugging purpose"})
	g.AddOption(optparse.Option{Flags: []string{"-q", "--quiet"}, Action: optparse.ActionStoreTrue, Dest: "quiet",
		Help: "be quiet, print essential output only"})
	g.AddOption(optparse.Option{Flags: []string{"-R", "--rangeset"}, Action: optparse.ActionStoreTrue,
		Dest: "rangeset", Help: "switch to RangeSet instead of NodeSet. Useful when working on numerical " +
			"cluster ranges, eg. 1,5,18-31"})
	g.AddOption(optparse.Option{Flags: []string{"-G", "--groupbase"}, Action: optparse.ActionStoreTrue,
		Dest: "groupbase", Help: "hide group source prefix (always \"@groupname\")"})
	g.AddOption(optparse.Option{Flags: []string{"-S", "--separator"}, Action: optparse.ActionStore,
		Dest: "separator", Default: " ", Help: "separator string to use when expanding nodesets (default: ' ')"})
	g.AddOption(optparse.Option{Flags: []string{"-O", "--output-format"}, Action: optparse.ActionStore,
		Dest: "output_format", Metavar: "FORMAT", Default: "%s", Help: "output format (default: '%s')"})
	g.AddOption(optparse.Option{Flags: []string{"-I", "--slice"}, Action: optparse.ActionStore,
		Dest: "slice_rangeset", Help: "return sliced off result", Type: "string"})
	g.AddOption(optparse.Option{Flags: []string{"--split"}, Action: optparse.ActionStore, Dest: "maxsplit",
		Help: "split result into a number of subsets", Type: "int"})
	g.AddOption(optparse.Option{Flags: []string{"--contiguous"}, Action: optparse.ActionStoreTrue,
		Dest: "contiguous", Help: "split result into contiguous subsets"})
	g.AddOption(optparse.Option{Flags: []string{"--axis"}, Action: optparse.ActionStore, Dest: "axis",
		Metavar: "RANGESET", Help: "fold along these axis only (axis 1..n for nD nodeset)"})
	g.AddOption(optparse.Option{Flags: []string{"--pick"}, Action: optparse.ActionStore, Dest: "pick",
		Metavar: "N", Type: "int", Help: "pick N node(s) at random in nodeset"})
	return p
}
