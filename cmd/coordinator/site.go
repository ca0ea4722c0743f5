package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/fleetsh/fleetsh/internal/cliconf"
	"github.com/fleetsh/fleetsh/pkg/fleet/site"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// The site subcommands write a site's credentials (package site).
const siteUsage = `Usage:
  coordinator init-site DIR [--user ID]... [--admin ID]... [--agent SPEC]...
                            [--host NAME]... [--ip ADDR]... [--url tls://HOST:PORT] [--force]
                            [--cluster-route nats-route://HOST:PORT]... [--cluster-listen HOST:PORT]
                            [--leaf NAME=tls://HOST:PORT]... [--leaf-listen HOST:PORT] [--hub-url tls://HOST:PORT]...
  coordinator site add-user DIR [--user ID]... [--admin ID]...
  coordinator site add-agent DIR --agent SPEC...
  coordinator site rotate DIR user ID | agent ID | leaf NAME | coordinator | server-cert [--host NAME]... [--ip ADDR]...
  coordinator site remove DIR user ID | agent ID

An agent SPEC is ID[:name=GATEWAY][,groups=GROUP+GROUP...][,local=true][,leaf=NAME]:
its gateway name in topology.conf (default ID), the gateway groups it may serve
('+'-separated; default every group of its gateway), whether it may serve the nodes
under no gateway (--local), and the leaf server of its gateway site it connects to
(a --leaf NAME), e.g. --agent gw2:name=gw2,groups=compute+gpu,leaf=west.
A --leaf NAME=tls://HOST:PORT is a gateway site's NATS leaf server: its agents
connect to it at that URL, and it to the site's NATS servers (deploy/README.md,
"Many sites: a NATS cluster and leaf nodes").
See docs/SECURITY.md, "Site credentials".
`

// printSiteUsage prints the site subcommands after a flag set's usage.
func printSiteUsage(w io.Writer) { fmt.Fprint(w, "\n"+siteUsage) }

// parseInterleaved parses fs's flags wherever they are among args (flag
// stops at the first argument otherwise: "init-site DIR --user a") and
// returns the other arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// siteFlags is a flag set for a site subcommand that reports to stderr.
func siteFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("coordinator "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, siteUsage+"\nFlags of "+name+":\n")
		fs.PrintDefaults()
	}
	return fs
}

// specsVar defines the repeatable flag name on fs: each value given is
// parsed by parse (site.ParseAgentSpec, site.ParseLeafSpec) and appended
// to list.
func specsVar[T any](fs *flag.FlagSet, list *[]T, name, usage string, parse func(string) (T, error)) {
	fs.Func(name, usage, func(v string) error {
		s, err := parse(v)
		if err != nil {
			return err
		}
		*list = append(*list, s)
		return nil
	})
}

// agentUsage is the usage of the --agent flag of init-site and add-agent.
const agentUsage = "agent `SPEC`: ID[:name=GATEWAY][,groups=G1+G2][,local=true][,leaf=NAME] (repeatable)"

// siteExit reports err of subcommand name and returns the exit status:
// 2 for what the caller asked wrong, 1 for a failure to do it.
func siteExit(stderr io.Writer, name string, err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "coordinator %s: %v\n", name, err)
	var ie *site.InputError
	if errors.As(err, &ie) {
		return 2
	}
	return 1
}

// oneDir checks the positional arguments are exactly the site directory.
func oneDir(stderr io.Writer, name string, pos []string) (string, bool) {
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "coordinator %s: want one site directory, got %q (see --help)\n", name, pos)
		return "", false
	}
	return pos[0], true
}

// initArgs are the flags of init-site.
type initArgs struct {
	opts                     site.InitOptions
	users, admins, hosts, ip cliconf.Strings
	routes, hubURLs          cliconf.Strings
	agents                   []site.AgentSpec
	leaves                   []site.LeafSpec
}

// initSiteFlags declares the flags of init-site (its man page lists them
// too: spec.go).
func initSiteFlags(stderr io.Writer) (*flag.FlagSet, *initArgs) {
	fs := siteFlags("init-site", stderr)
	a := &initArgs{}
	opts := &a.opts
	fs.Var(&a.users, "user", "submitter user `id` (repeatable)")
	fs.Var(&a.admins, "admin", "admin user `id`: every job, fleet admin actions (repeatable)")
	specsVar(fs, &a.agents, "agent", agentUsage, site.ParseAgentSpec)
	fs.Var(&a.hosts, "host", "DNS `name` of the coordinator for its certificate, besides localhost (repeatable)")
	fs.Var(&a.ip, "ip", "IP `address` of the coordinator for its certificate, besides 127.0.0.1 and ::1 (repeatable)")
	fs.StringVar(&opts.URL, "url", "", "coordinator `URL` for agents and csub, tls://HOST:PORT, HOST a --host or --ip (default: the first --host, else --ip, else localhost; port 4222)")
	fs.StringVar(&opts.Listen, "listen", "", "`host:port` the coordinator listens on (default: 127.0.0.1 for a loopback URL, else 0.0.0.0; the URL's port)")
	fs.StringVar(&opts.Prefix, "prefix", protocol.DefaultPrefix, "subject `prefix` of the fleet")
	fs.BoolVar(&opts.Force, "force", false, "replace the site in DIR: every key, certificate and config anew")
	fs.Var(&a.routes, "cluster-route", "`URL` nats-route://HOST:PORT of a server of the site's NATS cluster, itself included (repeatable): nats-server.conf becomes one server of that cluster (docs/fleet.md, \"Two coordinators\")")
	fs.StringVar(&opts.ClusterListen, "cluster-listen", "", "with --cluster-route: `host:port` of the server's route listener (default: --listen's host, port 6222)")
	fs.StringVar(&opts.ClusterName, "cluster-name", "", "with --cluster-route: the cluster's `name` (default fleetsh)")
	specsVar(fs, &a.leaves, "leaf", "`NAME=tls://HOST:PORT`: a gateway site's NATS leaf server, the URL its agents (--agent ID:leaf=NAME) connect to (repeatable; leaves/NAME/ holds its files)", site.ParseLeafSpec)
	fs.StringVar(&opts.LeafListen, "leaf-listen", "", "with --leaf: `host:port` of the site's NATS servers' leaf-node listener (default: --listen's host, port 7422)")
	fs.Var(&a.hubURLs, "hub-url", "with --leaf: `URL` tls://HOST:PORT the leaf servers dial, HOST a --host or --ip (repeatable; default: each --cluster-route host, else the --url host, on --leaf-listen's port)")
	return fs, a
}

// initSite is `coordinator init-site DIR ...`.
func initSite(args []string, stderr io.Writer) int {
	fs, a := initSiteFlags(stderr)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
	}
	opts, users, admins, hosts, ip, routes, agents := a.opts, a.users, a.admins, a.hosts, a.ip, a.routes, a.agents
	leaves, hubURLs := a.leaves, a.hubURLs
	dir, ok := oneDir(stderr, "init-site", pos)
	if !ok {
		return 2
	}
	opts.Users, opts.Admins, opts.Agents, opts.Hosts, opts.IPs = users, admins, agents, hosts, ip
	opts.ClusterRoutes, opts.Leaves, opts.HubURLs = routes, leaves, hubURLs
	if err := site.Init(dir, opts); err != nil {
		return siteExit(stderr, "init-site", err)
	}
	abs, _ := filepath.Abs(dir)
	url := "URL"
	if s, err := site.Load(abs); err == nil {
		url = s.URL // the default, when --url was not given
	}
	fmt.Fprintf(stderr, `coordinator init-site: wrote the site in %s (%d users, %d agents):
  on the coordinator:  coordinator --config %s
  or, with an external NATS server (a cluster): nats-server -c %s
    and coordinator --nats %s --creds %s --ca %s --identities %s --signing-key %s
  copy each %s/ID/ to that gateway, each %s/ID/ to that user, at the same path
  (keep ca.key off the network; it is needed only to issue a certificate: server-cert, a leaf)
`, abs, len(users)+len(admins), len(agents), filepath.Join(abs, site.CoordinatorConfig),
		filepath.Join(abs, site.NATSServerConfFile), url, filepath.Join(abs, site.CoordinatorSeedFile), filepath.Join(abs, site.CACertFile),
		filepath.Join(abs, site.IdentitiesFile), filepath.Join(abs, site.CoordinatorSeedFile),
		filepath.Join(abs, site.AgentsDir), filepath.Join(abs, site.UsersDir))
	if len(routes) > 0 {
		fmt.Fprintf(stderr, `  the NATS cluster: run nats-server -c %s on each of its %d servers, each with its own
    name in $%s; every coordinator joins with --nats listing them, its own --id and the
    same --signing-key (docs/fleet.md, "Two coordinators")
`, filepath.Join(abs, site.NATSServerConfFile), len(routes), site.ServerNameEnv)
	}
	for _, l := range leaves {
		fmt.Fprintf(stderr, "  leaf %s: copy %s/ to its server and run nats-server -c %s there; its agents connect to %s\n",
			l.Name, filepath.Join(abs, site.LeavesDir, l.Name), filepath.Join(abs, site.LeavesDir, l.Name, site.LeafConfFile), l.URL)
	}
	return 0
}

// flagExit is the exit status after a flag parsing error (already
// reported by the flag set): 0 after --help, else 2.
func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// siteVerbs are the verbs of `coordinator site`, in the order its usage
// lists them.
var siteVerbs = []string{"add-user", "add-agent", "rotate", "remove"}

// verbArgs are the flags of a site verb.
type verbArgs struct {
	users, admins, hosts, ip cliconf.Strings
	agents                   []site.AgentSpec
}

// siteVerbFlags declares the flags of `site verb` (its man page lists
// them too: spec.go); ok is false for an unknown verb.
func siteVerbFlags(verb string, stderr io.Writer) (fs *flag.FlagSet, a *verbArgs, ok bool) {
	fs, a = siteFlags("site "+verb, stderr), &verbArgs{}
	switch verb {
	case "add-user":
		fs.Var(&a.users, "user", "submitter user `id` (repeatable)")
		fs.Var(&a.admins, "admin", "admin user `id` (repeatable)")
	case "add-agent":
		specsVar(fs, &a.agents, "agent", agentUsage, site.ParseAgentSpec)
	case "remove":
	case "rotate":
		fs.Var(&a.hosts, "host", "with server-cert: a DNS `name` to add to the certificate's (repeatable)")
		fs.Var(&a.ip, "ip", "with server-cert: an IP `address` to add to the certificate's (repeatable)")
	default:
		return nil, nil, false
	}
	return fs, a, true
}

// siteCmd is `coordinator site add-user|add-agent|rotate|remove DIR ...`.
func siteCmd(args []string, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		fmt.Fprint(stderr, siteUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	verb, args := args[0], args[1:]
	name := "site " + verb
	fs, a, ok := siteVerbFlags(verb, stderr)
	if !ok {
		fmt.Fprintf(stderr, "coordinator site: unknown verb %q (add-user, add-agent, rotate, remove)\n", verb)
		return 2
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) == 0 {
		fmt.Fprintf(stderr, "coordinator %s: want a site directory (see --help)\n", name)
		return 2
	}
	dir, rest := pos[0], pos[1:]
	users, admins, agents, hosts, ip := a.users, a.admins, a.agents, a.hosts, a.ip
	switch verb {
	case "add-user":
		if len(rest) > 0 || len(users)+len(admins) == 0 {
			fmt.Fprintf(stderr, "coordinator %s: want DIR and --user or --admin (see --help)\n", name)
			return 2
		}
		return done(stderr, name, site.AddUsers(dir, admins, users))
	case "add-agent":
		if len(rest) > 0 || len(agents) == 0 {
			fmt.Fprintf(stderr, "coordinator %s: want DIR and --agent (see --help)\n", name)
			return 2
		}
		return done(stderr, name, site.AddAgents(dir, agents))
	case "remove":
		switch {
		case len(rest) == 2 && rest[0] == "user":
			return done(stderr, name, site.RemoveUser(dir, rest[1]))
		case len(rest) == 2 && rest[0] == "agent":
			return done(stderr, name, site.RemoveAgent(dir, rest[1]))
		}
		fmt.Fprintf(stderr, "coordinator %s: want DIR and one of: user ID, agent ID (see --help)\n", name)
		return 2
	}
	return rotate(stderr, name, dir, rest, hosts, ip)
}

// rotate is `coordinator site rotate DIR WHAT [ID]`.
func rotate(stderr io.Writer, name, dir string, what []string, hosts, ips []string) int {
	usage := func() int {
		fmt.Fprintf(stderr, "coordinator %s: want DIR and one of: user ID, agent ID, leaf NAME, coordinator, server-cert (see --help)\n", name)
		return 2
	}
	if len(what) == 0 {
		return usage()
	}
	if what[0] != "server-cert" && len(hosts)+len(ips) > 0 {
		fmt.Fprintf(stderr, "coordinator %s: --host and --ip go with server-cert only\n", name)
		return 2
	}
	var err error
	switch {
	case what[0] == "user" && len(what) == 2:
		err = site.RotateUser(dir, what[1])
	case what[0] == "agent" && len(what) == 2:
		err = site.RotateAgent(dir, what[1])
	case what[0] == "leaf" && len(what) == 2:
		err = site.RotateLeaf(dir, what[1])
	case what[0] == "coordinator" && len(what) == 1:
		err = site.RotateCoordinator(dir)
	case what[0] == "server-cert" && len(what) == 1:
		err = site.RotateServerCert(dir, hosts, ips)
	default:
		return usage()
	}
	return done(stderr, name, err)
}

// done reports the end of a site verb that changed the site, or its error.
func done(stderr io.Writer, name string, err error) int {
	if err != nil {
		return siteExit(stderr, name, err)
	}
	fmt.Fprintf(stderr, "coordinator %s: done; distribute the changed files, reload an external nats-server (nats-server --signal reload) and restart the coordinator (docs/SECURITY.md, \"Site credentials\")\n", name)
	return 0
}
