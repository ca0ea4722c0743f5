// Command agent is the fleetsh gateway daemon: it registers with the
// coordinator over NATS, runs the shards it is sent on its local engine
// and streams their events back (see package pkg/fleet/agent).
//
//	agent --nats nats://coord:4222 --name gw1 --group compute --fanout 128
//
// SIGTERM or SIGINT drains it: no new shards, running ones finish and are
// acknowledged, then it exits 0 (non-zero if --drain-timeout passed
// first). A second signal cancels the running shards and exits at once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/internal/cliconf"
	"github.com/fleetsh/fleetsh/pkg/fleet/agent"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

func main() {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	os.Exit(run(os.Args[1:], os.Stderr, sigs))
}

// run is the whole command; signals arrive on sigs.
func run(args []string, stderr io.Writer, sigs <-chan os.Signal) int {
	var (
		cfg          agent.Config
		url          string
		logLevel     string
		drainTimeout time.Duration
	)
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&url, "nats", "nats://127.0.0.1:4222", "NATS server `URL`s (comma-separated)")
	fs.StringVar(&cfg.Subjects.Prefix, "prefix", protocol.DefaultPrefix, "subject `prefix` of the fleet")
	fs.StringVar(&cfg.ID, "id", "", "agent `id` (default: name and a random suffix)")
	fs.StringVar(&cfg.Name, "name", "", "gateway `name` as in topology.conf (default: short host name)")
	fs.BoolVar(&cfg.Local, "local", false, "serve the nodes under no gateway")
	fs.Func("group", "serve only gateway `group` (repeatable)", func(v string) error {
		cfg.Groups = append(cfg.Groups, v)
		return nil
	})
	fs.IntVar(&cfg.Capacity, "fanout", agent.DefaultCapacity, "commands run at once per shard, and the most a job may ask")
	fs.StringVar(&cfg.Worker, "worker", agent.DefaultWorker, "default `driver`: ssh, openssh, rsh, pdsh, exec")
	fs.Func("info", "task info default `key=value` for the engines, e.g. ssh_options=-oBatchMode=yes (repeatable)", func(v string) error {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return fmt.Errorf("want key=value, got %q", v)
		}
		if cfg.Info == nil {
			cfg.Info = map[string]string{}
		}
		cfg.Info[k] = val
		return nil
	})
	fs.StringVar(&logLevel, "log-level", "info", "log `level`: debug, info, warn, error")
	fs.DurationVar(&drainTimeout, "drain-timeout", time.Minute, "how long a drain may wait for running shards")
	config := fs.String("config", "", "YAML `file` of settings named like these flags (the command line wins)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *config != "" {
		if err := cliconf.Apply(fs, *config); err != nil {
			fmt.Fprintln(stderr, "agent:", err)
			return 2
		}
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "agent: unexpected arguments: %q\n", fs.Args())
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		fmt.Fprintf(stderr, "agent: --log-level: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg.Logger = log

	// wire.Options retries the first connection too: the agent may start
	// before the coordinator's NATS.
	nc, err := nats.Connect(url, wire.Options("fleetsh-agent", log)...)
	if err != nil {
		log.Error("nats connect", "url", url, "err", err)
		return 1
	}
	defer nc.Close()
	a, err := agent.New(nc, cfg)
	if err != nil {
		log.Error("agent", "err", err)
		return 2
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	ran := make(chan error, 1)
	go func() { ran <- a.Run(ctx) }()

	select {
	case err := <-ran:
		log.Error("agent stopped", "err", err)
		return 1
	case sig := <-sigs:
		log.Info("draining", "signal", sig.String(), "timeout", drainTimeout)
	}
	dctx, dcancel := context.WithTimeout(ctx, drainTimeout)
	defer dcancel()
	drained := make(chan error, 1)
	go func() { drained <- a.Drain(dctx) }()
	var derr error
	select {
	case derr = <-drained:
	case sig := <-sigs:
		derr = fmt.Errorf("second signal (%s): cancelling running shards", sig)
	case err := <-ran:
		log.Error("agent stopped while draining", "err", err)
		return 1
	}
	if derr != nil {
		log.Error("drain incomplete", "err", derr)
	}
	stop()
	if err := <-ran; err != nil {
		log.Error("agent stopped", "err", err)
		return 1
	}
	_ = nc.FlushTimeout(time.Second)
	if derr != nil {
		return 1
	}
	return 0
}
