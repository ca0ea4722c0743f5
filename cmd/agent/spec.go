package main

import (
	"github.com/fleetsh/fleetsh/internal/cliconf"
	"github.com/fleetsh/fleetsh/internal/clispec"
)

// describe gives cmd the agent's description for its man page
// (internal/mangen); the options come from its flag set.
func describe(cmd *cliconf.Command) {
	cmd.Complete = map[string]string{"creds": clispec.CompleteFile, "ca": clispec.CompleteFile,
		"policy": clispec.CompleteFile, "spill-dir": clispec.CompleteDir, "file-cache": clispec.CompleteDir}
	cmd.Spec = clispec.Spec{
		Summary:  "the fleetsh gateway agent: runs the coordinator's shards on its nodes",
		Synopsis: []string{"--coordinator-key PUBKEY [--config FILE] [options]"},
		Description: []string{
			"The agent registers with the coordinator over NATS (--nats), under its gateway --name as topology.conf " +
				"names it, runs the shards it is sent on its local engine (ssh by default, --worker) and streams their " +
				"events back. It runs only the shards signed by a coordinator key it trusts (--coordinator-key, required), " +
				"for itself, unexpired and never seen before. With --policy it checks each shard against the authorization policy again.",
			"Cut from NATS, or not acknowledged by the coordinator, it keeps its shards running: their events wait in memory " +
				"up to --max-buffer, then in spill files under --spill-dir up to --max-spill; only past both are the commands held back.",
			"A copy pushed through the fleet (csub -c with --fleet) is fetched from the coordinator once per agent into " +
				"--file-cache, checked against its SHA-256 digests, built there once, then copied to the nodes with the job's worker; " +
				"an interrupted fetch goes on from the chunks already cached. A reverse copy (csub --rcopy) lands each node's copy in " +
				"the cache's spool, sends it to the coordinator's store, and removes it.",
			"--config names a YAML file whose keys are the long flag names (spill_dir or spill-dir); the command line wins over it.",
			"SIGTERM or SIGINT drains it: no new shards, running ones finish and are acknowledged, then it exits. " +
				"A second signal cancels the running shards and exits at once. SIGHUP is logged and ignored.",
		},
		Env: []clispec.Item{
			{Name: "STATE_DIRECTORY", Help: "the default --spill-dir (systemd's StateDirectory=), else the temporary directory"},
			{Name: "CACHE_DIRECTORY", Help: "the default --file-cache is its files directory (systemd's CacheDirectory=), else ~/.cache/fleetsh/files"},
			{Name: "TMPDIR", Help: "the temporary directory"},
			{Name: "SSH_AUTH_SOCK", Help: "the ssh agent the native ssh worker authenticates with, besides the keys of its configuration"},
			{Name: "CLUSTERSHELL_CFGDIR", Help: "a directory of groups.conf, which resolves the @groups of --policy (as for nodeset(1))"},
		},
		Files: []clispec.Item{
			{Name: "~/.ssh/config, ~/.ssh/known_hosts", Help: "the native ssh worker's OpenSSH configuration and known hosts " +
				"(--info ssh_config=FILE, --info ssh_known_hosts=FILE name others)"},
		},
		Exit: []clispec.Item{
			{Name: "0", Help: "drained after a signal"},
			{Name: "1", Help: "could not start, stopped by itself, or --drain-timeout passed before the shards ended"},
			{Name: "2", Help: "a bad flag or setting (no --coordinator-key)"},
		},
		SeeAlso: []string{"coordinator(1)", "csub(1)"},
	}
}
