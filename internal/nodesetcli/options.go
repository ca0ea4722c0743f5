// Package nodesetcli is the nodeset command: ClusterShell 1.9's nodeset,
// flag for flag and byte for byte, on top of pkg/nodeset.
package nodesetcli

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/fleetsh/fleetsh/internal/clusteropt"
	"github.com/fleetsh/fleetsh/internal/optparse"
	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

// Version is the ClusterShell version whose behaviour nodeset reproduces;
// scripts that parse "nodeset --version" keep working.
const Version = "1.9.1"

// autostepAuto and autostepFactor are the two non-numeric forms of
// --autostep: "auto" and "N%".
type autostepAuto struct{}
type autostepFactor float64

// checkAutostep is ClusterShell's check_autostep option type.
func checkAutostep(_ *optparse.Option, optStr, value string) (any, error) {
	if strings.Contains(value, "%") {
		r := pyfmt.Decode(value)
		if f, err := pyfmt.ParseFloat(string(r[:len(r)-1])); err == nil {
			return autostepFactor(f / 100.0), nil
		}
	} else if n, err := pyfmt.ParseInt(value, 10); err == nil {
		return autostepInt(n), nil
	}
	if value == "auto" {
		return autostepAuto{}, nil
	}
	return nil, &optparse.OptionValueError{Msg: fmt.Sprintf(
		"option %s: invalid value: %s, should be node count, node percentage or 'auto'", optStr, pyfmt.ReprString(value))}
}

// autostepInt clamps an integer autostep to the int range: beyond it, no
// run of a real set is long enough to be folded anyway.
func autostepInt(n *big.Int) int {
	if n.IsInt64() {
		v := n.Int64()
		if v > 1<<40 {
			v = 1 << 40
		}
		return int(max(v, -1))
	}
	if n.Sign() < 0 {
		return -1
	}
	return 1 << 40
}

// newParser declares nodeset's options exactly as ClusterShell's
// OptionParser does (same order, groups and help), so that --help and
// every usage error are identical.
func newParser(prog string, env *environ) *optparse.Parser {
	p := clusteropt.New(clusteropt.Config{
		Usage:     "%prog [COMMAND] [OPTIONS] [ns1 [-ixX] ns2|...]",
		Prog:      prog,
		Version:   Version,
		HelpWidth: optparse.WidthFromColumns(env.lookup("COLUMNS")),
		Stdout:    env.stdout,
		Stderr:    env.stderr,
		Types:     map[string]optparse.Checker{"autostep": checkAutostep},
	})
	clusteropt.AddGroupsconfOption(p)

	g := p.AddGroup("Commands", "")
	g.AddOption(optparse.Option{Flags: []string{"-c", "--count"}, Action: optparse.ActionStoreTrue, Dest: "count", Default: false,
		Help: "show number of nodes in nodeset(s)"})
	g.AddOption(optparse.Option{Flags: []string{"-e", "--expand"}, Action: optparse.ActionStoreTrue, Dest: "expand", Default: false,
		Help: "expand nodeset(s) to separate nodes"})
	g.AddOption(optparse.Option{Flags: []string{"-f", "--fold"}, Action: optparse.ActionStoreTrue, Dest: "fold", Default: false,
		Help: "fold nodeset(s) (or separate nodes) into one nodeset"})
	g.AddOption(optparse.Option{Flags: []string{"-l", "--list"}, Action: optparse.ActionCount, Dest: "list", Default: false,
		Help: "list node groups from one source (see -s GROUPSOURCE)"})
	g.AddOption(optparse.Option{Flags: []string{"-L", "--list-all"}, Action: optparse.ActionCount, Dest: "listall", Default: false,
		Help: "list node groups from all group sources"})
	g.AddOption(optparse.Option{Flags: []string{"-r", "--regroup"}, Action: optparse.ActionStoreTrue, Dest: "regroup", Default: false,
		Help: "fold nodes using node groups (see -s GROUPSOURCE)"})
	g.AddOption(optparse.Option{Flags: []string{"--list-sources", "--groupsources"}, Action: optparse.ActionStoreTrue, Dest: "groupsources", Default: false,
		Help: "list all active group sources (see groups.conf(5))"})

	g = p.AddGroup("Operations", "")
	g.AddOption(optparse.Option{Flags: []string{"-x", "--exclude"}, Action: optparse.ActionAppend, Dest: "sub_nodes", Default: []any{}, Type: optparse.TypeString,
		Help: "exclude specified nodeset"})
	g.AddOption(optparse.Option{Flags: []string{"-i", "--intersection"}, Action: optparse.ActionAppend, Dest: "and_nodes", Default: []any{}, Type: optparse.TypeString,
		Help: "calculate nodesets intersection"})
	g.AddOption(optparse.Option{Flags: []string{"-X", "--xor"}, Action: optparse.ActionAppend, Dest: "xor_nodes", Default: []any{}, Type: optparse.TypeString,
		Help: "calculate symmetric difference between nodesets"})

	g = p.AddGroup("Options", "")
	g.AddOption(optparse.Option{Flags: []string{"-a", "--all"}, Action: optparse.ActionStoreTrue, Dest: "all",
		Help: "call external node groups support to display all nodes"})
	g.AddOption(optparse.Option{Flags: []string{"--autostep"}, Action: optparse.ActionStore, Dest: "autostep", Type: "autostep",
		Help: "enable a-b/step style syntax when folding, value is min node count threshold (eg. '4', '50%' or 'auto')"})
	g.AddOption(optparse.Option{Flags: []string{"-d", "--debug"}, Action: optparse.ActionStoreTrue, Dest: "debug",
		Help: "output more messages for debugging purpose"})
	g.AddOption(optparse.Option{Flags: []string{"-q", "--quiet"}, Action: optparse.ActionStoreTrue, Dest: "quiet",
		Help: "be quiet, print essential output only"})
	g.AddOption(optparse.Option{Flags: []string{"-R", "--rangeset"}, Action: optparse.ActionStoreTrue, Dest: "rangeset",
		Help: "switch to RangeSet instead of NodeSet. Useful when working on numerical cluster ranges, eg. 1,5,18-31"})
	g.AddOption(optparse.Option{Flags: []string{"-G", "--groupbase"}, Action: optparse.ActionStoreTrue, Dest: "groupbase",
		Help: "hide group source prefix (always \"@groupname\")"})
	g.AddOption(optparse.Option{Flags: []string{"-S", "--separator"}, Action: optparse.ActionStore, Dest: "separator", Default: " ",
		Help: "separator string to use when expanding nodesets (default: ' ')"})
	g.AddOption(optparse.Option{Flags: []string{"-O", "--output-format"}, Action: optparse.ActionStore, Dest: "output_format", Metavar: "FORMAT", Default: "%s",
		Help: "output format (default: '%s')"})
	g.AddOption(optparse.Option{Flags: []string{"-I", "--slice"}, Action: optparse.ActionStore, Dest: "slice_rangeset", Type: optparse.TypeString,
		Help: "return sliced off result"})
	g.AddOption(optparse.Option{Flags: []string{"--split"}, Action: optparse.ActionStore, Dest: "maxsplit", Type: optparse.TypeInt,
		Help: "split result into a number of subsets"})
	g.AddOption(optparse.Option{Flags: []string{"--contiguous"}, Action: optparse.ActionStoreTrue, Dest: "contiguous",
		Help: "split result into contiguous subsets"})
	g.AddOption(optparse.Option{Flags: []string{"--axis"}, Action: optparse.ActionStore, Dest: "axis", Metavar: "RANGESET",
		Help: "fold along these axis only (axis 1..n for nD nodeset)"})
	g.AddOption(optparse.Option{Flags: []string{"--pick"}, Action: optparse.ActionStore, Dest: "pick", Metavar: "N", Type: optparse.TypeInt,
		Help: "pick N node(s) at random in nodeset"})
	return p
}
