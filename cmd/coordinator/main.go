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
	"strings"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/fleetsh/fleetsh/internal/bytesize"
	"github.com/fleetsh/fleetsh/internal/cliconf"
	"github.com/fleetsh/fleetsh/pkg/fleet/agent"
	"github.com/fleetsh/fleetsh/pkg/fleet/audit"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/fleet/coordinator"
	"github.com/fleetsh/fleetsh/pkg/fleet/daemon"
	"github.com/fleetsh/fleetsh/pkg/fleet/files"
	"github.com/fleetsh/fleetsh/pkg/fleet/ops"
	"github.com/fleetsh/fleetsh/pkg/fleet/policy"
	"github.com/fleetsh/fleetsh/pkg/fleet/site"
	"github.com/fleetsh/fleetsh/pkg/fleet/statusweb"
	"github.com/fleetsh/fleetsh/pkg/fleet/store"
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
	describe(cmd)
	// The read-only status page shares the operator listener (--http) with
	// /metrics, /healthz and /readyz: loopback-only unless told otherwise,
	// and the page itself answers only loopback Host names.
	cmd.Mount = func(s *ops.Server, f *daemon.Fleet) {
		if co := f.Coordinator(); co != nil {
			s.Handle("/", statusweb.New(co))
		}
	}
	fs := cmd.FlagSet
	var (
		listen     = fs.String("listen", "127.0.0.1:4222", `host:port the embedded NATS server accepts agents and csub on ("" = none)`)
		insecure   = fs.Bool("insecure", false, "let --listen name an address beyond loopback without TLS and identities (logged at every start)")
		tlsCert    = fs.String("tls-cert", "", "PEM `file` of the embedded NATS server's TLS certificate (clients must then speak TLS)")
		tlsKey     = fs.String("tls-key", "", "PEM `file` of the key of --tls-cert")
		tlsCA      = fs.String("tls-ca", "", "site CA PEM `file`: verify the certificates clients show (optional)")
		identities = fs.String("identities", "", "JSON `file` of the site's identities: the embedded NATS server accepts only these, each with its role's permissions, and agents register only as they grant (none: no authentication)")
		natsURL    = fs.String("nats", "", "join this NATS server or cluster instead of embedding one")
		creds      = fs.String("creds", "", "with --nats, the nkey seed `file` of the coordinator's credential")
		caFile     = fs.String("ca", "", "with --nats, the site CA PEM `file` to verify the server with")
		topoPath   = fs.String("topology", "", "ClusterShell topology.conf (default "+defaultTopology+" if it exists)")
		root       = fs.String("root", "", "this coordinator's name in the topology (default: the sources that are no destination)")
		prefix     = fs.String("prefix", protocol.DefaultPrefix, "subject prefix of the fleet")
		localAgent = fs.Bool("local-agent", true, "run an agent in this process for nodes under no gateway")
		fanout     = fs.Int("fanout", agent.DefaultCapacity, "fanout of the local agent")
		worker     = fs.String("worker", agent.DefaultWorker, "default distant worker of the local agent")
		maxOutput  int64
		heartbeat  = fs.Duration("heartbeat", time.Second, "heartbeat interval agents are told to use")
		lostAfter  = fs.Duration("lost-after", 0, "silence after which an agent is lost (default 3 heartbeats)")
		maxNodes   = fs.Int("max-nodes", protocol.DefaultMaxJobNodes, fmt.Sprintf("most nodes a job may have (at most %d)", protocol.MaxShardNodes))
		signingKey = fs.String("signing-key", "", "nkey seed `file` (mode 0600) the coordinator signs shards with; agents trust its public key (--coordinator-key). Default: an ephemeral key, logged at start")
		shardTTL   = fs.Duration("shard-ttl", protocol.DefaultShardTTL, fmt.Sprintf("how long a signed shard may wait to be accepted by its agent (at most %v)", protocol.MaxShardTTL))
		policyPath = fs.String("policy", "", "authorization policy `file` (default: the built-in policy, see docs/SECURITY.md)")
		auditPath  = fs.String("audit-log", "", "append a JSON line per job accepted, denied and ended to `file` (reopened on SIGHUP)")
		maxUser    = fs.Int("max-user-nodes", 0, "most nodes the jobs of one user may hold in the registry together, at least --max-nodes (default --max-nodes)")
		storeDir   = fs.String("store", "", "`dir`ectory of the embedded NATS server's JetStream, which keeps the job registry and journals across restarts (default $STATE_DIRECTORY, else $XDG_STATE_HOME/fleetsh, else ~/.local/state/fleetsh); with --nats the external server's JetStream keeps them")
		coordID    = fs.String("id", "", "this coordinator's `id`, the owner of its jobs in the store: restarted with the same id, it resumes them (default: the host name)")
		replicas   = fs.Int("store-replicas", 1, "servers of a NATS cluster that keep each stored message (3 on a cluster of three)")
		storeMax   = fs.Int64("store-max-bytes", store.DefaultMaxBytes, "most `bytes` the job journals keep, the oldest dropped first")
		filesCfg   files.StreamConfig
	)
	bytesize.Var(fs, &filesCfg.MaxBytes, "files-max-bytes", 0,
		"most bytes (`SIZE`) the store of copies through the fleet keeps; when full, new copies are refused until old content expires "+
			"(default: no bound of its own, only JetStream's storage; a size is reserved from that storage at start)")
	fs.DurationVar(&filesCfg.MaxAge, "files-max-age", files.DefaultStreamAge, "how long the store of copies through the fleet keeps content")
	bytesize.Var(fs, &maxOutput, "max-output", agent.DefaultMaxOutput,
		"most output a node of the local agent may send, stdout and stderr together (`SIZE`: 64M, 1G): a job's own cap is lowered to it")
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
		k, err := site.ReadSeed(*signingKey)
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
	if *natsURL != "" && (*tlsCert != "" || *tlsKey != "" || *tlsCA != "") {
		fmt.Fprintf(stderr, "coordinator: --tls-cert, --tls-key and --tls-ca configure the embedded NATS server, not one joined with --nats\n")
		return 2
	}
	if *natsURL == "" && (*creds != "" || *caFile != "") {
		fmt.Fprintf(stderr, "coordinator: --creds and --ca are the credential for a NATS server joined with --nats\n")
		return 2
	}
	var ids []auth.Identity
	var admins []string
	var grants map[string]coordinator.AgentGrant
	if *identities != "" {
		var err error
		if ids, err = site.LoadIdentities(*identities); err != nil {
			fmt.Fprintf(stderr, "coordinator: --identities: %v\n", err)
			return 2
		}
		// Agents register only as the site's identities grant; the local
		// agent under its own id. The site's admins are the built-in
		// policy's.
		admins, grants = site.Grants(ids)
		if err := grantLocalAgent(grants, *localAgent); err != nil {
			fmt.Fprintf(stderr, "coordinator: --identities: %v\n", err)
			return 2
		}
	}
	router, err := loadTopology(*topoPath, *root)
	if err != nil {
		log.Error("topology", "err", err)
		return 1
	}
	pol, err := loadPolicy(*policyPath, admins)
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
	st, id, err := storeConfig(*storeDir, *coordID, *replicas, *storeMax)
	if st != nil {
		st.Files = &filesCfg
	}
	if err != nil {
		fmt.Fprintf(stderr, "coordinator: %v\n", err)
		return 2
	}
	subj := protocol.Subjects{Prefix: *prefix}
	cfg := daemon.Config{NATS: *natsURL, Listen: *listen, Insecure: *insecure, Name: "fleetsh-coordinator",
		Identities: embeddedOnly(*natsURL, ids), TLSCert: *tlsCert, TLSKey: *tlsKey, TLSCA: *tlsCA,
		Creds: auth.Credentials{Seed: *creds, CA: *caFile},
		Coordinator: &coordinator.Config{Subjects: subj, Router: router, Logger: log,
			Heartbeat: *heartbeat, LostAfter: *lostAfter, MaxJobNodes: *maxNodes, MaxUserNodes: *maxUser,
			SigningKey: key, ShardTTL: *shardTTL, Policy: pol, Audit: auditLog, Agents: grants, ID: id},
		Store: st}
	if *natsURL != "" {
		st.Dir = "" // the external server keeps the state
	}
	if *localAgent {
		cfg.Agent = &agent.Config{Subjects: subj, Name: "local", Local: true, ID: localID(ids), Capacity: *fanout, Worker: *worker,
			Info: cmd.Info, Logger: log.With("role", "local-agent"), MaxOutput: maxOutput}
	}
	return cmd.Serve(log, cfg, sigs, false, 0)
}

// storeConfig checks the store flags and returns the store's settings
// and the coordinator's id.
func storeConfig(dir, id string, replicas int, maxBytes int64) (*daemon.StoreConfig, string, error) {
	if replicas < 1 || replicas > 5 {
		return nil, "", fmt.Errorf("--store-replicas %d: not from 1 to 5", replicas)
	}
	if maxBytes < 1<<20 {
		return nil, "", fmt.Errorf("--store-max-bytes %d: under 1 MiB", maxBytes)
	}
	if dir == "" {
		d, err := daemon.DefaultStoreDir()
		if err != nil {
			return nil, "", err
		}
		dir = d
	}
	if id == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, "", fmt.Errorf("--id: no host name (%v): give one", err)
		}
		id = h
	}
	if err := protocol.ValidID(id); err != nil {
		// A host name with dots: keep what an id may hold.
		id = strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
				return r
			}
			return '_'
		}, id)
		if err := protocol.ValidID(id); err != nil {
			return nil, "", fmt.Errorf("--id: %w", err)
		}
	}
	return &daemon.StoreConfig{Dir: dir, Replicas: replicas, MaxBytes: maxBytes}, id, nil
}

// loadPolicy reads the policy file, its @groups resolved with the
// default groups configuration; without a file it is the built-in
// default policy, whose admins are the site's.
func loadPolicy(path string, admins []string) (*policy.Policy, error) {
	if path == "" {
		return policy.Default(admins), nil
	}
	var opts policy.Options
	if r, err := nodeset.LoadDefaultResolver(); err == nil {
		opts.Parser = &nodeset.Parser{Resolver: r}
	}
	return policy.Load(path, opts)
}

// embeddedOnly returns the identities the embedded server accepts: none
// when joining an external server, which has its own.
func embeddedOnly(natsURL string, ids []auth.Identity) []auth.Identity {
	if natsURL != "" {
		return nil
	}
	return ids
}

// grantLocalAgent grants the coordinator's own local agent, when it runs
// one, the nodes under no gateway, under coordinator.LocalAgentID, which
// no identity of the site may take.
func grantLocalAgent(agents map[string]coordinator.AgentGrant, local bool) error {
	if _, ok := agents[coordinator.LocalAgentID]; ok {
		return fmt.Errorf("agent identity %q: the id of the coordinator's own local agent", coordinator.LocalAgentID)
	}
	if local {
		agents[coordinator.LocalAgentID] = coordinator.AgentGrant{Local: true}
	}
	return nil
}

// localID is the local agent's id: the one its grant names when the
// coordinator grants agents from identities, else a random one.
func localID(ids []auth.Identity) string {
	if len(ids) > 0 {
		return coordinator.LocalAgentID
	}
	return ""
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
