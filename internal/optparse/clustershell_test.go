package optparse_test

import (
	"strings"

	"github.com/fleetsh/fleetsh/internal/optparse"
	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

// This file rebuilds, in Go, the option parsers of ClusterShell 1.9.1's
// nodeset and clush (ClusterShell/CLI/OptionParser.py, Nodeset.py and
// Clush.py), which the tests compare with the Python originals.

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

// newClushParser builds the parser of ClusterShell.CLI.Clush.main().
func newClushParser(cfg optparse.Config) *optparse.Parser {
	cfg.Usage = "%prog [options] command"
	p := newClusterShellParser(cfg)
	p.AddOption(optparse.Option{Flags: []string{"-n", "--nostdin"}, Action: optparse.ActionStoreTrue,
		Dest: "nostdin", Help: "don't watch for possible input from stdin"})
	installGroupsconfOption(p)

	// install_clush_config_options
	p.AddOption(optparse.Option{Flags: []string{"--conf"}, Action: optparse.ActionStore, Metavar: "FILE",
		Help: "use alternate config file for clush.conf(5)"})
	p.AddOption(optparse.Option{Flags: []string{"-O", "--option"}, Action: optparse.ActionAppend,
		Metavar: "KEY=VALUE", Dest: "option", Default: []any{},
		Help: "override any key=value clush.conf(5) options"})

	// install_nodes_options
	g := p.AddGroup("Selecting target nodes", "")
	g.AddOption(optparse.Option{Flags: []string{"-w"}, Action: optparse.ActionAppend, Type: "safestring",
		Dest: "nodes", Help: "nodes where to run the command"})
	g.AddOption(optparse.Option{Flags: []string{"-x"}, Action: optparse.ActionAppend, Type: "safestring",
		Dest: "exclude", Metavar: "NODES", Help: "exclude nodes from the node list"})
	g.AddOption(optparse.Option{Flags: []string{"-a", "--all"}, Action: optparse.ActionStoreTrue,
		Dest: "nodes_all", Help: "run command on all nodes"})
	g.AddOption(optparse.Option{Flags: []string{"-g", "--group"}, Action: optparse.ActionAppend,
		Type: "safestring", Dest: "group", Help: "run command on a group of nodes"})
	g.AddOption(optparse.Option{Flags: []string{"-X"}, Action: optparse.ActionAppend, Dest: "exgroup",
		Metavar: "GROUP", Type: "safestring", Help: "exclude nodes from this group"})
	g.AddOption(optparse.Option{Flags: []string{"-E", "--engine"}, Action: optparse.ActionStore,
		Dest: "engine", Choices: []string{"auto", "epoll", "poll", "select"}, Default: "auto",
		Help: optparse.SuppressHelp})
	g.AddOption(optparse.Option{Flags: []string{"--hostfile", "--machinefile"}, Action: optparse.ActionAppend,
		Dest: "hostfile", Default: []any{}, Metavar: "FILE",
		Help: "path to file containing a list of target hosts"})
	g.AddOption(optparse.Option{Flags: []string{"--topology"}, Action: optparse.ActionStore, Dest: "topofile",
		Default: optparse.None, Metavar: "FILE", Help: "topology configuration file to use for tree mode"})
	g.AddOption(optparse.Option{Flags: []string{"--pick"}, Action: optparse.ActionStore, Dest: "pick",
		Metavar: "N", Type: "int", Help: "pick N node(s) at random in nodeset"})

	// install_display_options(verbose_options=True)
	threeChoices := []string{"", "never", "always", "auto"}
	g = p.AddGroup("Output behaviour", "")
	g.AddOption(optparse.Option{Flags: []string{"-q", "--quiet"}, Action: optparse.ActionStoreTrue,
		Dest: "quiet", Help: "be quiet, print essential output only"})
	g.AddOption(optparse.Option{Flags: []string{"-v", "--verbose"}, Action: optparse.ActionStoreTrue,
		Dest: "verbose", Help: "be verbose, print informative messages"})
	g.AddOption(optparse.Option{Flags: []string{"-d", "--debug"}, Action: optparse.ActionStoreTrue,
		Dest: "debug", Help: "output more messages for debugging purpose"})
	g.AddOption(optparse.Option{Flags: []string{"-G", "--groupbase"}, Action: optparse.ActionStoreTrue,
		Dest: "groupbase", Default: false, Help: "do not display group source prefix"})
	g.AddOption(optparse.Option{Flags: []string{"-L"}, Action: optparse.ActionStoreTrue, Dest: "line_mode",
		Help: "disable header block and order output by nodes"})
	g.AddOption(optparse.Option{Flags: []string{"-N"}, Action: optparse.ActionStoreFalse, Dest: "label",
		Default: true, Help: "disable labeling of command line"})
	g.AddOption(optparse.Option{Flags: []string{"-P", "--progress"}, Action: optparse.ActionStoreTrue,
		Dest: "progress", Help: "show progress during command execution"})
	g.AddOption(optparse.Option{Flags: []string{"-b", "--dshbak"}, Action: optparse.ActionStoreTrue,
		Dest: "gather", Help: "gather nodes with same output"})
	g.AddOption(optparse.Option{Flags: []string{"-B"}, Action: optparse.ActionStoreTrue, Dest: "gatherall",
		Default: false, Help: "like -b but including standard error"})
	g.AddOption(optparse.Option{Flags: []string{"-r", "--regroup"}, Action: optparse.ActionStoreTrue,
		Dest: "regroup", Default: false, Help: "fold nodeset using node groups"})
	g.AddOption(optparse.Option{Flags: []string{"-S", "--maxrc"}, Action: optparse.ActionStoreTrue,
		Dest: "maxrc", Help: "return the largest of command return codes"})
	g.AddOption(optparse.Option{Flags: []string{"--color"}, Action: optparse.ActionStore, Dest: "whencolor",
		Choices: threeChoices, Help: "whether to use ANSI colors (never, always or auto)"})
	g.AddOption(optparse.Option{Flags: []string{"--diff"}, Action: optparse.ActionStoreTrue, Dest: "diff",
		Help: "show diff between gathered outputs"})
	g.AddOption(optparse.Option{Flags: []string{"--outdir"}, Action: optparse.ActionStore, Dest: "outdir",
		Help: "output directory for stdout files (OPTIONAL)"})
	g.AddOption(optparse.Option{Flags: []string{"--errdir"}, Action: optparse.ActionStore, Dest: "errdir",
		Help: "output directory for stderr files (OPTIONAL)"})

	// install_filecopy_options
	copyCallback := func(opt *optparse.Option, _ string, _ any, st *optparse.State) error {
		st.Parser.EnableInterspersedArgs()
		st.Values.Set(opt.Dest, true)
		return nil
	}
	g = p.AddGroup("File copying", "")
	g.AddOption(optparse.Option{Flags: []string{"-c", "--copy"}, Action: optparse.ActionCallback, Dest: "copy",
		Callback: copyCallback, Help: "copy local file or directory to remote nodes"})
	g.AddOption(optparse.Option{Flags: []string{"--rcopy"}, Action: optparse.ActionCallback, Dest: "rcopy",
		Callback: copyCallback, Help: "copy file or directory from remote nodes"})
	g.AddOption(optparse.Option{Flags: []string{"--dest"}, Action: optparse.ActionStore, Dest: "dest_path",
		Help: "destination file or directory on the nodes"})
	g.AddOption(optparse.Option{Flags: []string{"-p"}, Action: optparse.ActionStoreTrue, Dest: "preserve_flag",
		Help: "preserve modification times and modes"})

	// install_connector_options
	g = p.AddGroup("Connection options", "")
	g.AddOption(optparse.Option{Flags: []string{"-f", "--fanout"}, Action: optparse.ActionStore, Dest: "fanout",
		Help: "use a specified fanout", Type: "int"})
	g.AddOption(optparse.Option{Flags: []string{"--grooming"}, Action: optparse.ActionStore,
		Dest: "grooming_delay", Help: optparse.SuppressHelp, Type: "float"})
	g.AddOption(optparse.Option{Flags: []string{"-l", "--user"}, Action: optparse.ActionStore, Type: "safestring",
		Dest: "user", Help: "execute remote command as user"})
	g.AddOption(optparse.Option{Flags: []string{"-o", "--options"}, Action: optparse.ActionStore,
		Dest: "options", Help: "can be used to give ssh options"})
	g.AddOption(optparse.Option{Flags: []string{"-t", "--connect_timeout"}, Action: optparse.ActionStore,
		Dest: "connect_timeout", Help: "limit time to connect to a node", Type: "float"})
	g.AddOption(optparse.Option{Flags: []string{"-u", "--command_timeout"}, Action: optparse.ActionStore,
		Dest: "command_timeout", Help: "limit time for command to run on the node", Type: "float"})
	g.AddOption(optparse.Option{Flags: []string{"-m", "--mode"}, Action: optparse.ActionStore, Dest: "mode",
		Help: "run mode; define MODEs in <confdir>/*.conf"})
	g.AddOption(optparse.Option{Flags: []string{"-R", "--worker"}, Action: optparse.ActionStore, Dest: "worker",
		Help: "worker name to use for command execution ('exec', 'rsh', 'ssh', etc. default is 'ssh')"})
	g.AddOption(optparse.Option{Flags: []string{"--remote"}, Action: optparse.ActionStore, Dest: "remote",
		Choices: []string{"yes", "no"}, Help: "whether to enable remote execution: in tree mode, 'yes' forces " +
			"connections to the leaf nodes for execution, 'no' establishes connections up to the leaf " +
			"parent nodes for execution (default is 'yes')"})
	return p
}
