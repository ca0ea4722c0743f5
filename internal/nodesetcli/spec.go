package nodesetcli

import (
	"io"

	"github.com/fleetsh/fleetsh/internal/clispec"
)

// cliSpec is nodeset's description, from which internal/mangen generates
// its man page and shell completion; nodeset prints it as JSON when its
// only argument is clispec.Flag.
func cliSpec() clispec.Spec {
	p := newParser("nodeset", &environ{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }})
	complete := map[string]string{"-s": clispec.CompleteSources, "--groupsconf": clispec.CompleteFile,
		"-x": clispec.CompleteNodes, "-i": clispec.CompleteNodes, "-X": clispec.CompleteNodes}
	return clispec.Spec{
		Name:     "nodeset",
		Summary:  "fold, expand, count and combine node sets, as ClusterShell's nodeset",
		Synopsis: []string{"[COMMAND] [OPTIONS] [ns1 [-ixX] ns2|...]"},
		Description: []string{
			"nodeset works on node sets such as node[1-64],gpu[01-08] and node groups such as @compute: it counts (-c), " +
				"expands (-e) or folds (-f) them, combines them with -x (exclude), -i (intersection) and -X (symmetric " +
				"difference), lists the groups of groups.conf's sources (-l, -L, --groupsources) and folds nodes into " +
				"groups (-r). Node sets come from the arguments, else from standard input.",
			"Options, output, messages and exit status are ClusterShell 1.9.1's nodeset's, flag for flag and byte for byte.",
		},
		Groups: clispec.FromOptparse(p, complete),
		Env: []clispec.Item{
			{Name: "CLUSTERSHELL_CFGDIR", Help: "a directory read after the others for groups.conf"},
			{Name: "XDG_CONFIG_HOME", Help: "groups.conf is also read from $XDG_CONFIG_HOME/clustershell (default ~/.config)"},
			{Name: "HOME", Help: "groups.conf is also read from ~/.local/etc/clustershell"},
			{Name: "COLUMNS", Help: "the width --help wraps to"},
		},
		Files: clispec.GroupsFiles(),
		Exit: []clispec.Item{
			{Name: "0", Help: "success"},
			{Name: "1", Help: "a bad node set, range set or group source"},
			{Name: "2", Help: "a usage error"},
		},
		SeeAlso:  []string{"csub(1)", "clubak(1)", "clush(1)", "groups.conf(5)"},
		Operands: clispec.CompleteNodes,
	}
}
