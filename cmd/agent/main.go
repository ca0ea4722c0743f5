// Command agent is the fleetsh gateway daemon: it registers with the
// coordinator over NATS, runs the shards it is sent on its local engine
// and streams their events back (see package pkg/fleet/agent).
//
//	agent --nats nats://coord:4222 --name gw1 --group compute --fanout 128 \
//		--coordinator-key UC...   # the coordinator's public signing key
//	agent --nats tls://coord:4222 --id gw1 --creds gw1.nk --ca ca.pem --name gw1 --coordinator-key UC...
//
// It runs only the shards signed by a coordinator key it trusts, for
// itself, unexpired and never seen before; without --coordinator-key it
// refuses to start.
//
// SIGTERM or SIGINT drains it: no new shards, running ones finish and are
// acknowledged, then it exits 0 (non-zero if --drain-timeout passed
// first). A second signal cancels the running shards and exits at once.
// SIGHUP does not stop it (it is logged). With --policy it checks each
// shard against the authorization policy again (docs/SECURITY.md).
//
// Cut from NATS, or not acknowledged by the coordinator, it keeps its
// shards running: their events wait in memory up to --max-buffer (64 MiB),
// then in spill files under --spill-dir up to --max-spill (1 GiB); only
// past both are the commands held back (docs/fleet.md, Failure handling).
package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/fleetsh/fleetsh/internal/bytesize"
	"github.com/fleetsh/fleetsh/internal/cliconf"
	"github.com/fleetsh/fleetsh/pkg/fleet/agent"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/fleet/daemon"
	"github.com/fleetsh/fleetsh/pkg/fleet/files"
	"github.com/fleetsh/fleetsh/pkg/fleet/policy"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

func main() { cliconf.Main(run) }

// run is the whole command; signals arrive on sigs.
func run(args []string, stderr io.Writer, sigs <-chan os.Signal) int {
	cmd := cliconf.NewCommand("agent", stderr, "task info default `key=value` for the engines, e.g. ssh_options=-oBatchMode=yes (repeatable)")
	describe(cmd)
	fs := cmd.FlagSet
	var (
		cfg          agent.Config
		url          string
		creds        auth.Credentials
		drainTimeout time.Duration
		maxBuffer    int64
	)
	fs.StringVar(&url, "nats", "nats://127.0.0.1:4222", "NATS server `URL`s (comma-separated)")
	fs.StringVar(&creds.Seed, "creds", "", "nkey seed `file` of this agent's credential (needs --id, the id it was made for)")
	fs.StringVar(&creds.CA, "ca", "", "site CA PEM `file` to verify the NATS server with")
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
	bytesize.Var(fs, &cfg.MaxOutput, "max-output", agent.DefaultMaxOutput,
		"most output a node may send, stdout and stderr together (`SIZE`: 64M, 1G): a job's own cap is lowered to it")
	fs.DurationVar(&drainTimeout, "drain-timeout", time.Minute, "how long a drain may wait for running shards")
	bytesize.Var(fs, &maxBuffer, "max-buffer", agent.DefaultMaxBuffered,
		"unacknowledged events kept in memory over all shards (`SIZE`: 64M, 1G); past it they spill to --spill-dir")
	bytesize.Var(fs, &cfg.MaxSpill, "max-spill", agent.DefaultMaxSpill,
		"spill files at most (`SIZE`); past it too, the shards' commands are held back until the coordinator acknowledges")
	fs.StringVar(&cfg.SpillDir, "spill-dir", "", "`directory` the agent makes its private spill directory in (default $STATE_DIRECTORY, else the temporary directory)")
	fs.StringVar(&cfg.FileCache.Dir, "file-cache", "", "`directory` of the trees pushed through the fleet and of the nodes' reverse copies on their way back (default $CACHE_DIRECTORY/files, else ~/.cache/fleetsh/files)")
	bytesize.Var(fs, &cfg.FileCache.MaxBytes, "file-cache-size", files.DefaultCacheBytes,
		"most bytes the file cache keeps (`SIZE`); the least recently used trees not being copied go first")
	fs.DurationVar(&cfg.FileCache.MaxAge, "file-cache-age", files.DefaultCacheAge, "how long the file cache keeps a tree no copy used")
	fs.Func("coordinator-key", "public nkey `PUBKEY` of the coordinator whose signed shards the agent runs (required; repeatable or comma-separated, for a rotation)", func(v string) error {
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				if _, err := agent.ParseCoordinatorKey(k); err != nil {
					return err
				}
				cfg.CoordinatorKeys = append(cfg.CoordinatorKeys, k)
			}
		}
		return nil
	})
	policyPath := fs.String("policy", "", "authorization policy `file` each shard is checked against again (default: trust the coordinator)")
	log, code := cmd.Parse(args)
	if log == nil {
		return code
	}
	if len(cfg.CoordinatorKeys) == 0 {
		fmt.Fprintln(stderr, "agent: no --coordinator-key: an agent runs only shards signed by a coordinator key it trusts (the coordinator logs its key at start as coordinator_key)")
		return 2
	}
	if *policyPath != "" {
		var opts policy.Options
		if r, err := nodeset.LoadDefaultResolver(); err == nil {
			opts.Parser = &nodeset.Parser{Resolver: r}
		}
		p, err := policy.Load(*policyPath, opts)
		if err != nil {
			log.Error("policy", "err", err)
			return 1
		}
		cfg.Policy = p
		log.Info("authorization policy", "policy", p.String(), "rules", p.Rules())
	}
	cfg.MaxBuffered = int(min(maxBuffer, math.MaxInt))
	cfg.Info, cfg.Logger = cmd.Info, log
	// The connection retries its first attempt too (wire.Options): the
	// agent may start before the coordinator's NATS.
	return cmd.Serve(log, daemon.Config{NATS: url, Agent: &cfg, Creds: creds}, sigs, true, drainTimeout)
}
