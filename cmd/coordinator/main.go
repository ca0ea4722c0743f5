// Command coordinator runs the fleet's coordinator: by default with its
// own embedded NATS server on 127.0.0.1:4222 and an in-process local
// agent for nodes under no gateway. See docs/fleet.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/internal/cliconf"
	"github.com/fleetsh/fleetsh/pkg/fleet/agent"
	"github.com/fleetsh/fleetsh/pkg/fleet/broker"
	"github.com/fleetsh/fleetsh/pkg/fleet/coordinator"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
	"github.com/fleetsh/fleetsh/pkg/topology"
	_ "github.com/fleetsh/fleetsh/pkg/workers"
)

const defaultTopology = "/etc/clustershell/topology.conf"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("coordinator", flag.ContinueOnError)
	var (
		config     = fs.String("config", "", "YAML file of settings named like these flags")
		listen     = fs.String("listen", "127.0.0.1:4222", `host:port the embedded NATS server accepts agents and csub on ("" = none)`)
		natsURL    = fs.String("nats", "", "join this NATS server or cluster instead of embedding one")
		topoPath   = fs.String("topology", "", "ClusterShell topology.conf (default "+defaultTopology+" if it exists)")
		root       = fs.String("root", "", "this coordinator's name in the topology (default: the sources that are no destination)")
		prefix     = fs.String("prefix", protocol.DefaultPrefix, "subject prefix of the fleet")
		localAgent = fs.Bool("local-agent", true, "run an agent in this process for nodes under no gateway")
		fanout     = fs.Int("fanout", 64, "fanout of the local agent")
		worker     = fs.String("worker", "ssh", "default distant worker of the local agent")
		heartbeat  = fs.Duration("heartbeat", time.Second, "heartbeat interval agents are told to use")
		lostAfter  = fs.Duration("lost-after", 0, "silence after which an agent is lost (default 3 heartbeats)")
		logLevel   = fs.String("log-level", "info", "debug, info, warn or error")
		maxNodes   = fs.Int("max-nodes", protocol.DefaultMaxJobNodes, fmt.Sprintf("most nodes a job may have (at most %d)", protocol.MaxShardNodes))
	)
	var info cliconf.Strings
	fs.Var(&info, "info", "key=value task info for the local agent's engines (repeatable)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "coordinator: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *config != "" {
		if err := cliconf.Apply(fs, *config); err != nil {
			fmt.Fprintln(os.Stderr, "coordinator:", err)
			return 2
		}
	}
	if *maxNodes < 1 || *maxNodes > protocol.MaxShardNodes {
		fmt.Fprintf(os.Stderr, "coordinator: --max-nodes %d: not from 1 to %d\n", *maxNodes, protocol.MaxShardNodes)
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "coordinator: --log-level %q: %v\n", *logLevel, err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	infoMap, err := keyValues(info)
	if err != nil {
		log.Error("bad --info", "err", err)
		return 2
	}

	router, err := loadTopology(*topoPath, *root)
	if err != nil {
		log.Error("topology", "err", err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var connect func(name string) (*nats.Conn, error)
	if *natsURL != "" {
		connect = func(name string) (*nats.Conn, error) {
			return nats.Connect(*natsURL, wire.Options(name, log)...)
		}
	} else {
		srv, err := broker.Start(broker.Config{Listen: *listen, Name: "fleetsh-coordinator", Logger: log})
		if err != nil {
			log.Error("embedded nats", "err", err)
			return 1
		}
		defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
		if a := broker.Addr(srv); a != "" {
			log.Info("nats listening", "url", "nats://"+a)
		}
		connect = func(name string) (*nats.Conn, error) {
			return nats.Connect("", append(wire.Options(name, log), nats.InProcessServer(srv))...)
		}
	}
	nc, err := connect("coordinator")
	if err != nil {
		log.Error("connect to nats", "err", err)
		return 1
	}
	defer nc.Close()
	co, err := coordinator.New(nc, coordinator.Config{
		Subjects: protocol.Subjects{Prefix: *prefix}, Router: router, Logger: log,
		Heartbeat: *heartbeat, LostAfter: *lostAfter, MaxJobNodes: *maxNodes,
	})
	if err != nil {
		log.Error("coordinator", "err", err)
		return 2
	}
	done := make(chan error, 2)
	go func() { done <- co.Run(ctx) }()
	if *localAgent {
		anc, err := connect("local-agent")
		if err != nil {
			log.Error("connect local agent", "err", err)
			return 1
		}
		defer anc.Close()
		ag, err := agent.New(anc, agent.Config{Subjects: protocol.Subjects{Prefix: *prefix}, Name: "local",
			Local: true, Capacity: *fanout, Worker: *worker, Info: infoMap, Logger: log.With("role", "local-agent")})
		if err != nil {
			log.Error("local agent", "err", err)
			return 2
		}
		go func() { done <- ag.Run(ctx) }()
	}
	if err := <-done; err != nil && ctx.Err() == nil {
		log.Error("stopped", "err", err)
		return 1
	}
	<-ctx.Done()
	log.Info("coordinator stopping")
	return 0
}

func keyValues(list []string) (map[string]string, error) {
	if len(list) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(list))
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not key=value", kv)
		}
		m[k] = v
	}
	return m, nil
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
