// Command coordinator runs the fleet's coordinator: by default with its
// own embedded NATS server on 127.0.0.1:4222 and an in-process local
// agent for nodes under no gateway. SIGTERM or SIGINT stops it (the local
// agent first, cancelling what it runs). See docs/fleet.md.
package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/fleetsh/fleetsh/internal/cliconf"
	"github.com/fleetsh/fleetsh/pkg/fleet/agent"
	"github.com/fleetsh/fleetsh/pkg/fleet/coordinator"
	"github.com/fleetsh/fleetsh/pkg/fleet/daemon"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
	"github.com/fleetsh/fleetsh/pkg/topology"
)

const defaultTopology = "/etc/clustershell/topology.conf"

func main() { cliconf.Main(run) }

// run is the whole command; signals arrive on sigs.
func run(args []string, stderr io.Writer, sigs <-chan os.Signal) int {
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
		maxUser    = fs.Int("max-user-nodes", 0, "most nodes the jobs of one user may hold in the registry together, at least --max-nodes (default --max-nodes)")
	)
	log, code := cmd.Parse(args)
	if log == nil {
		return code
	}
	if *maxNodes < 1 || *maxNodes > protocol.MaxShardNodes {
		fmt.Fprintf(stderr, "coordinator: --max-nodes %d: not from 1 to %d\n", *maxNodes, protocol.MaxShardNodes)
		return 2
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
	subj := protocol.Subjects{Prefix: *prefix}
	cfg := daemon.Config{NATS: *natsURL, Listen: *listen, Insecure: *insecure, Name: "fleetsh-coordinator",
		Coordinator: &coordinator.Config{Subjects: subj, Router: router, Logger: log,
			Heartbeat: *heartbeat, LostAfter: *lostAfter, MaxJobNodes: *maxNodes, MaxUserNodes: *maxUser}}
	if *localAgent {
		cfg.Agent = &agent.Config{Subjects: subj, Name: "local", Local: true, Capacity: *fanout, Worker: *worker,
			Info: cmd.Info, Logger: log.With("role", "local-agent")}
	}
	return cliconf.Serve(log, cfg, sigs, false, 0)
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
