// Command coordinator runs the fleet's coordinator: by default with its
// own embedded NATS server on 127.0.0.1:4222 and an in-process local
// agent for nodes under no gateway. It signs every shard it dispatches
// with --signing-key (an nkey seed file), or with an ephemeral key whose
// public key it logs at start; agents run only shards signed by a key
// they trust (agent --coordinator-key). Every job is checked against an
// authorization policy (--policy, else the built-in one) and written to
// --audit-log. SIGTERM or SIGINT stops it (the local agent first,
// cancelling what it runs); SIGHUP reopens its --audit-log. See
// docs/fleet.md and docs/SECURITY.md.
//
// `coordinator init-site DIR` writes a site's credentials and configs,
// and `coordinator site add-user|add-agent|rotate|remove DIR` changes them (see
// package pkg/fleet/site and docs/SECURITY.md).
package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/fleetsh/fleetsh/internal/cliconf"
	"github.com/fleetsh/fleetsh/pkg/fleet/agent"
	"github.com/fleetsh/fleetsh/pkg/fleet/audit"
	"github.com/fleetsh/fleetsh/pkg/fleet/coordinator"
	"github.com/fleetsh/fleetsh/pkg/fleet/daemon"
	"github.com/fleetsh/fleetsh/pkg/fleet/policy"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
	"github.com/fleetsh/fleetsh/pkg/topology"
)

const defaultTopology = "/etc/clustershell/topology.conf"

func main() { cliconf.Main(run) }

// run is the whole command; signals arrive on sigs.
func run(args []string, stderr io.Writer, sigs <-chan os.Signal) int {
	if len(args) > 0 {
		switch args[0] {
		case "init-site":
			return initSite(args[1:], stderr)
		case "site":
			return siteCmd(args[1:], stderr)
		}
	}
	cmd := cliconf.NewCommand("coordinator", stderr, "task info default `key=value` for the local agent's engines (repeatable)")
	fs := cmd.FlagSet
	var (
		listen     = fs.String("listen", "127.0.0.1:4222", `host:port the embedded NATS server accepts agents and csub on ("" = none)`)
		insecure   = fs.Bool("insecure", false, "let --listen name an address beyond loopback, without authentication or TLS (logged at every start)")
		natsURL    = fs.String("nats", "", "join this NATS server or cluster instead of embedding one")
		topoPath   = fs.String("topology", "", "ClusterShell topology.conf (default "+defaultTopology+" if it exists)")
		root       = fs.String("root", "", "this coordinator's name in the topology (default: the sources that are no destination)")
		prefix     = fs.String("prefix", protocol.DefaultPrefix, "subject prefix of the fleet")
		localAgent = fs.Bool("local-agent", true, "run an agent in this process for nodes under no gateway")
		fanout     = fs.Int("fanout", agent.DefaultCapacity, "fanout of the local agent")
		worker     = fs.String("worker", agent.DefaultWorker, "default distant worker of the local agent")
		heartbeat  = fs.Duration("heartbeat", time.Second, "heartbeat interval agents are told to use")
		lostAfter  = fs.Duration("lost-after", 0, "silence after which an agent is lost (default 3 heartbeats)")
		maxNodes   = fs.Int("max-nodes", protocol.DefaultMaxJobNodes, fmt.Sprintf("most nodes a job may have (at most %d)", protocol.MaxShardNodes))
		signingKey = fs.String("signing-key", "", "nkey seed `file` (mode 0600) the coordinator signs shards with; agents trust its public key (--coordinator-key). Default: an ephemeral key, logged at start")
		shardTTL   = fs.Duration("shard-ttl", protocol.DefaultShardTTL, fmt.Sprintf("how long a signed shard may wait to be accepted by its agent (at most %v)", protocol.MaxShardTTL))
		policyPath = fs.String("policy", "", "authorization policy `file` (default: the built-in policy, see docs/SECURITY.md)")
		auditPath  = fs.String("audit-log", "", "append a JSON line per job accepted, denied and ended to `file` (reopened on SIGHUP)")
		maxUser    = fs.Int("max-user-nodes", 0, "most nodes the jobs of one user may hold in the registry together, at least --max-nodes (default --max-nodes)")
	)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage of coordinator:\n")
		fs.PrintDefaults()
		printSiteUsage(stderr)
	}
	log, code := cmd.Parse(args)
	if log == nil {
		return code
	}
	if *maxNodes < 1 || *maxNodes > protocol.MaxShardNodes {
		fmt.Fprintf(stderr, "coordinator: --max-nodes %d: not from 1 to %d\n", *maxNodes, protocol.MaxShardNodes)
		return 2
	}
	if *shardTTL <= 0 || *shardTTL > protocol.MaxShardTTL {
		fmt.Fprintf(stderr, "coordinator: --shard-ttl %v: must be positive and at most %v\n", *shardTTL, protocol.MaxShardTTL)
		return 2
	}
	var key nkeys.KeyPair
	if *signingKey != "" {
		k, err := readSigningKey(*signingKey)
		if err != nil {
			fmt.Fprintf(stderr, "coordinator: --signing-key: %v\n", err)
			return 2
		}
		key = k
	}
	if *maxUser != 0 && *maxUser < *maxNodes {
		fmt.Fprintf(stderr, "coordinator: --max-user-nodes %d: under --max-nodes %d\n", *maxUser, *maxNodes)
		return 2
	}
	router, err := loadTopology(*topoPath, *root)
	if err != nil {
		log.Error("topology", "err", err)
		return 1
	}
	pol, err := loadPolicy(*policyPath)
	if err != nil {
		log.Error("policy", "err", err)
		return 1
	}
	log.Info("authorization policy", "policy", pol.String(), "rules", pol.Rules())
	var auditLog *audit.Log
	if *auditPath != "" {
		if auditLog, err = audit.Open(*auditPath); err != nil {
			log.Error("audit log", "err", err)
			return 1
		}
		defer auditLog.Close()
	}
	subj := protocol.Subjects{Prefix: *prefix}
	cfg := daemon.Config{NATS: *natsURL, Listen: *listen, Insecure: *insecure, Name: "fleetsh-coordinator",
		Coordinator: &coordinator.Config{Subjects: subj, Router: router, Logger: log,
			Heartbeat: *heartbeat, LostAfter: *lostAfter, MaxJobNodes: *maxNodes, MaxUserNodes: *maxUser,
			SigningKey: key, ShardTTL: *shardTTL, Policy: pol, Audit: auditLog}}
	if *localAgent {
		cfg.Agent = &agent.Config{Subjects: subj, Name: "local", Local: true, Capacity: *fanout, Worker: *worker,
			Info: cmd.Info, Logger: log.With("role", "local-agent")}
	}
	return cliconf.Serve(log, cfg, sigs, false, 0)
}

// loadPolicy reads the policy file, its @groups resolved with the
// default groups configuration; without a file it is the built-in
// default policy.
func loadPolicy(path string) (*policy.Policy, error) {
	if path == "" {
		return policy.Default(nil), nil
	}
	var opts policy.Options
	if r, err := nodeset.LoadDefaultResolver(); err == nil {
		opts.Parser = &nodeset.Parser{Resolver: r}
	}
	return policy.Load(path, opts)
}

// loadTopology reads the topology (the default file only if it exists)
// and returns its router for root, or nil without a topology.
func loadTopology(path, root string) (coordinator.Router, error) {
	if path == "" {
		if _, err := os.Stat(defaultTopology); err != nil {
			return nil, nil
		}
		path = defaultTopology
	}
	var opts topology.Options
	if r, err := nodeset.LoadDefaultResolver(); err == nil {
		opts.Parser = &nodeset.Parser{Resolver: r}
	}
	t, err := topology.Load(path, opts)
	if err != nil {
		return nil, err
	}
	r, err := t.Router(root)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return coordinator.FromTopology(r), nil
}
