package main

import (
	"io"

	"github.com/fleetsh/fleetsh/internal/cliconf"
	"github.com/fleetsh/fleetsh/internal/clispec"
)

// describe gives cmd the coordinator's description for its man page
// (internal/mangen); the options come from the flag sets themselves.
func describe(cmd *cliconf.Command) {
	cmd.Complete = map[string]string{
		"tls-cert": clispec.CompleteFile, "tls-key": clispec.CompleteFile, "tls-ca": clispec.CompleteFile,
		"identities": clispec.CompleteFile, "creds": clispec.CompleteFile, "ca": clispec.CompleteFile,
		"topology": clispec.CompleteFile, "signing-key": clispec.CompleteFile, "policy": clispec.CompleteFile,
		"audit-log": clispec.CompleteFile, "store": clispec.CompleteDir,
	}
	init, _ := initSiteFlags(io.Discard)
	subs := []clispec.Subcommand{{Name: "init-site",
		Synopsis: "init-site DIR [--user ID]... [--admin ID]... [--agent SPEC]... [--host NAME]... [--ip ADDR]... [--url tls://HOST:PORT] [--force]",
		Help: "Write a new site in DIR: its CA, the NATS server's TLS certificate, the coordinator's signing key, " +
			"an nkey credential per user and agent, the identities file and the configs of the coordinator, " +
			"of each agent and of csub (fleet.yaml). It prints how to start the coordinator from them.",
		Options: clispec.FromFlagSet(init, nil)}}
	verbHelp := map[string][2]string{
		"add-user":  {"site add-user DIR [--user ID]... [--admin ID]...", "Add users to the site in DIR: a credential each, and their identities."},
		"add-agent": {"site add-agent DIR --agent SPEC...", "Add agents to the site in DIR: a credential and an agent config each."},
		"rotate": {"site rotate DIR user ID | agent ID | coordinator | server-cert [--host NAME]... [--ip ADDR]...",
			"Issue a new credential for a user or an agent, a new coordinator signing key, or a new server certificate."},
		"remove": {"site remove DIR user ID | agent ID", "Remove a user or an agent from the site: its identity and credential."},
	}
	for _, verb := range siteVerbs {
		fs, _, _ := siteVerbFlags(verb, io.Discard)
		subs = append(subs, clispec.Subcommand{Name: "site " + verb, Synopsis: verbHelp[verb][0], Help: verbHelp[verb][1],
			Options: clispec.FromFlagSet(fs, nil)})
	}
	cmd.Spec = clispec.Spec{
		Summary:  "the fleetsh coordinator: accepts csub's jobs and dispatches them to agents over NATS",
		Synopsis: append([]string{"[--config FILE] [options]"}, subSynopses(subs)...),
		Description: []string{
			"The coordinator runs an embedded NATS server (on --listen, 127.0.0.1:4222 by default) or joins one " +
				"(--nats), accepts jobs from csub, checks each against the authorization policy (--policy, else the " +
				"built-in one), splits it into shards per gateway as topology.conf routes its nodes, signs each shard " +
				"and dispatches it to the agents of that gateway, then merges the agents' event streams into one per job. " +
				"Jobs and their journals are kept in JetStream (--store), so a restarted coordinator with the same --id resumes them.",
			"Unless --local-agent=false it runs an agent in its own process for the nodes under no gateway.",
			"--config names a YAML file whose keys are the long flag names (tls_cert or tls-cert); the command line wins over it.",
			"SIGTERM or SIGINT stops it (its local agent first, cancelling what it runs); SIGHUP reopens --audit-log.",
			"The init-site and site subcommands write and change a site's credentials (see SUBCOMMANDS).",
		},
		Subcommands: subs,
		Env: []clispec.Item{
			{Name: "STATE_DIRECTORY", Help: "the default --store directory (systemd's StateDirectory=)"},
			{Name: "XDG_STATE_HOME", Help: "without STATE_DIRECTORY, --store defaults to $XDG_STATE_HOME/fleetsh, else ~/.local/state/fleetsh"},
			{Name: "CLUSTERSHELL_CFGDIR", Help: "a directory of groups.conf, which resolves the @groups of --policy and --topology (as for nodeset(1))"},
		},
		Files: []clispec.Item{
			{Name: defaultTopology, Help: "the topology read when --topology is not given (if it exists)"},
			{Name: "/etc/clustershell/groups.conf", Help: "node groups of the policy and topology (and groups.conf's other places, see nodeset(1))"},
		},
		Exit: []clispec.Item{
			{Name: "0", Help: "stopped by a signal after a clean run, or a subcommand succeeded"},
			{Name: "1", Help: "could not start (topology, policy, audit log, NATS) or stopped by itself"},
			{Name: "2", Help: "a bad flag or setting"},
		},
		SeeAlso: []string{"agent(1)", "csub(1)", "nodeset(1)", "clubak(1)"},
	}
}

// subSynopses are the subcommands' synopses.
func subSynopses(subs []clispec.Subcommand) []string {
	var out []string
	for _, s := range subs {
		out = append(out, s.Synopsis)
	}
	return out
}
