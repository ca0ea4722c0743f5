package csub

import (
	"io"
	"strings"

	"github.com/fleetsh/fleetsh/internal/clispec"
	"github.com/fleetsh/fleetsh/pkg/engine"
)

// The man pages and shell completion of csub and clubak are generated
// from these descriptions and the parsers' own declarations
// (internal/mangen); a command prints its description as JSON when its
// only argument is clispec.Flag.

// optionCompletion says what completes the values of csub's and clubak's
// options (nodeset -L and -l for node sets and groups).
var optionCompletion = map[string]string{
	"-w": clispec.CompleteNodes, "-x": clispec.CompleteNodes,
	"-g": clispec.CompleteGroups, "-X": clispec.CompleteGroups,
	"-s":           clispec.CompleteSources,
	"--groupsconf": clispec.CompleteFile, "--conf": clispec.CompleteFile, "--hostfile": clispec.CompleteFile,
	"--fleet-creds": clispec.CompleteFile, "--fleet-ca": clispec.CompleteFile,
	"--outdir": clispec.CompleteDir, "--errdir": clispec.CompleteDir,
}

// specEnv is an environment for building a parser whose output goes
// nowhere and whose help is not wrapped to a terminal.
func specEnv() *environ {
	return &environ{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
}

// groupsEnv are the variables that locate groups.conf and clush.conf.
var groupsEnv = []clispec.Item{
	{Name: "CLUSTERSHELL_CFGDIR", Help: "a directory read after the others for groups.conf (and clush.conf)"},
	{Name: "XDG_CONFIG_HOME", Help: "groups.conf and clush.conf are also read from $XDG_CONFIG_HOME/clustershell (default ~/.config)"},
	{Name: "COLUMNS", Help: "the width --help wraps to"},
	{Name: "NO_COLOR, CLICOLOR, CLICOLOR_FORCE", Help: "without --color (and clush.conf's color), turn colors off, on where the output is a terminal, or on"},
}

// cliSpec is csub's description.
func cliSpec() clispec.Spec {
	p := newParser(specEnv())
	groups := clispec.FromOptparse(p, optionCompletion)
	for gi := range groups {
		for oi, o := range groups[gi].Options {
			if o.Flags[0] == "-R" {
				groups[gi].Options[oi].Choices = engine.Drivers()
			}
		}
	}
	var subs []clispec.Subcommand
	synopsis := []string{"[options] command", "[options] -c|--rcopy FILE... [--dest DEST]", "[options]"}
	for _, c := range Subcommands() {
		syn := strings.TrimPrefix(c.Synopsis, progName+" ")
		sub := clispec.Subcommand{Name: c.Name, Synopsis: syn, Help: c.Summary + " Exit status: " + c.Exit}
		for _, o := range c.Options {
			sub.Options = append(sub.Options, clispec.Option{Flags: []string{o[0]}, Help: o[1]})
		}
		subs = append(subs, sub)
		synopsis = append(synopsis, syn)
	}
	return clispec.Spec{
		Name:     progName,
		Summary:  "run commands and copy files on many nodes through a fleetsh fleet, as clush does",
		Synopsis: synopsis,
		Description: []string{
			"csub is clush(1)'s command line and output on a fleetsh fleet: the same options, the same clush.conf, " +
				"the same output byte for byte (with csub where clush prints its own name). It resolves the target nodes " +
				"and their groups here (groups.conf, as nodeset(1)), submits one job to the fleet's coordinator over NATS and " +
				"prints the job's merged output as clush prints a command's.",
			"With no fleet (no --fleet, no $" + envFleet + ", no fleet key in clush.conf and no $" + envFleetConfig + ") " +
				"csub starts an in-process fleet for the run: it then works as clush on this machine.",
			"Without a command, on a terminal, csub is clush's interactive prompt. On a terminal a run shows a live " +
				"progress line on standard error; Ctrl-T names the nodes still running.",
			"Beyond clush: --json prints JSON Lines, --summary the nodes per final state; nodes the fleet could not run " +
				"(no agent for their gateway, agent lost, connection, authentication or host key failures) are named on " +
				"standard error by final state and reason. The subcommands (see SUBCOMMANDS) talk to the fleet's job registry.",
		},
		Groups:      groups,
		Subcommands: subs,
		Env: append([]clispec.Item{
			{Name: envFleet, Help: "the fleet's NATS URL, when --fleet is not given"},
			{Name: envPrefix, Help: "the fleet's subject prefix, when --prefix is not given"},
			{Name: envFleetConfig, Help: "the fleet.yaml naming the fleet and the credential (default ~/.config/fleetsh/fleet.yaml, used for the credential only)"},
			{Name: envMaxNodes, Help: "the most nodes a job may have (default 1000000)"},
			{Name: "FLEETSH_LOG", Help: "the level of the fleet's own logs on standard error (debug, info, warn; default error)"},
			{Name: "FLEETSH_CPUPROFILE, FLEETSH_MEMPROFILE", Help: "write a CPU or heap profile of the run to these files"},
			{Name: "USER, LOGNAME", Help: "the submitter's name in the job"},
		}, groupsEnv...),
		Files: append([]clispec.Item{
			{Name: "/etc/clustershell/clush.conf", Help: "clush's configuration, and its other places (~/.local/etc/clustershell/, $XDG_CONFIG_HOME/clustershell/); fleet and prefix keys of [Main] name the fleet"},
			{Name: "~/.config/fleetsh/fleet.yaml", Help: "the fleet credential: nkey seed and site CA (coordinator init-site writes one per user)"},
			{Name: "~/.csub_history", Help: "the interactive prompt's history"},
		}, clispec.GroupsFiles()...),
		Exit: []clispec.Item{
			{Name: "0", Help: "the job ran (without -S, whatever the commands' exit codes)"},
			{Name: "N", Help: "with -S (or clush.conf maxrc), the largest exit code of the commands"},
			{Name: "1", Help: "csub could not run the job (configuration, node set, fleet unreachable, refused by the policy)"},
			{Name: "2", Help: "a usage error"},
			{Name: "130", Help: "interrupted by Ctrl-C before the job was submitted"},
			{Name: "255", Help: "the fleet could not run some node (no agent, agent lost, worker failure), or with -S a node timed out"},
		},
		SeeAlso:  []string{"clush(1)", "nodeset(1)", "clubak(1)", "coordinator(1)", "agent(1)", "clush.conf(5)", "groups.conf(5)"},
		Operands: clispec.CompleteCommand,
	}
}

// clubakSpec is clubak's description.
func clubakSpec() clispec.Spec {
	p := newClubakParser(specEnv())
	return clispec.Spec{
		Name:     clubakProg,
		Summary:  "gather the \"node: line\" output of any tool and print it as clush does",
		Synopsis: []string{"[options] < input"},
		Description: []string{
			"clubak reads lines \"KEY: content\" on its standard input (the output of pdsh, clush, csub -L or ssh loops), " +
				"gathers the lines of each key and prints them as clush does: a header block per node, or per set of nodes " +
				"with the same output (-b), or one line per node line (-L). Keys are node names; with --interpret-keys=auto " +
				"(the default) they are read as node sets, and folded. -S changes the separator.",
			"Options, output, messages and exit status are ClusterShell 1.9.1's clubak's, byte for byte.",
		},
		Groups: clispec.FromOptparse(p, optionCompletion),
		Env:    groupsEnv,
		Files:  clispec.GroupsFiles(),
		Exit: []clispec.Item{
			{Name: "0", Help: "the input was gathered and printed"},
			{Name: "1", Help: "a bad input line (no separator), or standard output closed"},
			{Name: "2", Help: "a usage error"},
		},
		SeeAlso: []string{"csub(1)", "nodeset(1)", "clush(1)", "dshbak(1)"},
	}
}
