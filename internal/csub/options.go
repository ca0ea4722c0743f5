package csub

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/fleetsh/fleetsh/internal/clusteropt"
	"github.com/fleetsh/fleetsh/internal/optparse"
	"github.com/fleetsh/fleetsh/internal/pyfmt"
	"github.com/fleetsh/fleetsh/pkg/fleet/site"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Version is the ClusterShell version whose clush csub reproduces, as
// nodeset does: scripts that parse "--version" keep working.
const Version = "1.9.1"

// Verbosity levels, ClusterShell's VERB_QUIET ... VERB_DEBUG.
const (
	verbQuiet = 0
	verbStd   = 1
	verbVerb  = 2
	verbDebug = 3
)

// Environment variables that stand for the fleet options.
const (
	envFleet  = "FLEETSH_FLEET"
	envPrefix = "FLEETSH_PREFIX"
)

// settings is the parsed command line, clush's options plus ours, and
// what clush.conf makes of them.
type settings struct {
	// Selecting target nodes.
	nodes, exclude   []string // -w, -x (node sets, groups allowed)
	groups, exgroups []string // -g, -X (sets of group names)
	all              bool     // -a
	hostfiles        []string // --hostfile
	pick             int      // --pick (0: all)
	groupsource      string   // -s
	groupsconf       string   // --groupsconf
	conf             string   // --conf
	confOpts         []string // -O KEY=VALUE
	nostdin          bool     // -n

	// Output behaviour.
	quiet, verbose, debugOpt bool // -q, -v, -d as given
	verbosity                int  // clush.conf's, after -q/-v/-d/-O
	groupbase                bool // -G
	label                    bool // not -N
	lineMode                 bool // -L
	progress                 bool // -P
	gather, gatherAll        bool // -b (or -B, --diff), -B
	regroup                  bool // -r
	maxrcOpt                 bool // -S: exit code lines need verbosity std
	whencolor                string
	diff                     bool   // --diff
	outdir, errdir           string // --outdir, --errdir

	// File copying.
	copy, rcopy bool   // -c, --rcopy
	dest        string // --dest
	preserve    bool   // -p

	// Connection options, as given (the settings below are clush.conf's
	// values after them).
	fanoutOpt                            int
	connectTimeoutOpt, commandTimeoutOpt float64
	user, sshOptions                     string // -l, -o
	mode                                 string // -m
	worker                               string // -R

	// Ours.
	fleet, prefix string // --fleet, --prefix (or their variables)
	fleetCreds    string // --fleet-creds
	fleetCA       string // --fleet-ca
	fleetUser     string // the credential's user id (connect; "": none)
	// reconnect is --fleet-reconnect as client.Client.Reconnect: 0 the
	// client's default, negative never.
	reconnect     time.Duration
	gatewayPaths  bool  // --gateway-paths
	prefixFromEnv bool  // prefix came from FLEETSH_PREFIX (for its error)
	json, summary bool  // --json, --summary (json.go)
	wait          bool  // --wait (csub status)
	maxOutput     int64 // --max-output (outcap.go; 0: the job's default)

	command []string

	// From clush.conf (config.go) and the options.
	cfg            *clushConfig
	fanout         int // 0: the agent's
	connectTimeout time.Duration
	commandTimeout time.Duration
	color          bool // ANSI colors
	nodeCount      bool // clush.conf node_count
	// maxrc makes the exit status the largest exit code (-S, or
	// clush.conf maxrc). clush reads maxrc after the run: a bad value is
	// reported then (maxrcErr).
	maxrc    bool
	maxrcErr error
	// From configure (setup.go).
	forwardStdin   bool              // standard input goes to the nodes
	interaction    bool              // clush's user_interaction: a user at the terminal
	stdin          io.Reader         // what the job streams to them (readInput); nil: none
	commandPrefix  []string          // the mode's command_prefix, split
	passwordPrompt bool              // the mode's password_prompt
	info           map[string]string // the job's task info keys
}

// copying tells whether the run is a file copy (-c or --rcopy).
func (s *settings) copying() bool { return s.copy || s.rcopy }

// copyCallback is OptionParser._copy_callback: -c and --rcopy turn
// interspersed arguments back on (the rest are file names, options may
// follow them) and set their flag.
func copyCallback(opt *optparse.Option, _ string, _ any, st *optparse.State) error {
	st.Parser.EnableInterspersedArgs()
	st.Values.Set(opt.Dest, true)
	return nil
}

// newParser declares csub's options as ClusterShell 1.9.1's clush does
// (CLI/Clush.py main() and CLI/OptionParser.py install_*_options): same
// order, groups, metavars and help, so --help lines and every usage error
// read the same. Left out: the tree mode options --topology, --remote and
// the hidden --grooming (topology is the coordinator's business, see
// the package doc), so they are refused rather than ignored. Our own
// options come last, in their own group.
func newParser(env *environ) *optparse.Parser {
	// Everything after the first argument that is not an option is the
	// command: csub -w n1 ls -l runs "ls -l".
	p := newCLIParser(env, "%prog [options] command", progName)
	p.AddOption(optparse.Option{Flags: []string{"-n", "--nostdin"}, Action: optparse.ActionStoreTrue, Dest: "nostdin",
		Help: "don't watch for possible input from stdin"})
	clusteropt.AddGroupsconfOption(p)
	p.AddOption(optparse.Option{Flags: []string{"--conf"}, Action: optparse.ActionStore, Metavar: "FILE",
		Help: "use alternate config file for clush.conf(5)"})
	p.AddOption(optparse.Option{Flags: []string{"-O", "--option"}, Action: optparse.ActionAppend, Metavar: "KEY=VALUE",
		Dest: "option", Default: []any{}, Help: "override any key=value clush.conf(5) options"})

	g := p.AddGroup("Selecting target nodes", "")
	g.AddOption(optparse.Option{Flags: []string{"-w"}, Action: optparse.ActionAppend, Type: "safestring",
		Dest: "nodes", Help: "nodes where to run the command"})
	g.AddOption(optparse.Option{Flags: []string{"-x"}, Action: optparse.ActionAppend, Type: "safestring",
		Dest: "exclude", Metavar: "NODES", Help: "exclude nodes from the node list"})
	g.AddOption(optparse.Option{Flags: []string{"-a", "--all"}, Action: optparse.ActionStoreTrue, Dest: "nodes_all",
		Help: "run command on all nodes"})
	g.AddOption(optparse.Option{Flags: []string{"-g", "--group"}, Action: optparse.ActionAppend,
		Type: "safestring", Dest: "group", Help: "run command on a group of nodes"})
	g.AddOption(optparse.Option{Flags: []string{"-X"}, Action: optparse.ActionAppend, Dest: "exgroup",
		Metavar: "GROUP", Type: "safestring", Help: "exclude nodes from this group"})
	// Accepted for scripts written for clush, and ignored: the event
	// engine is Go's.
	g.AddOption(optparse.Option{Flags: []string{"-E", "--engine"}, Action: optparse.ActionStore, Dest: "engine",
		Choices: []string{"auto", "epoll", "poll", "select"}, Default: "auto", Help: optparse.SuppressHelp})
	g.AddOption(optparse.Option{Flags: []string{"--hostfile", "--machinefile"}, Action: optparse.ActionAppend,
		Dest: "hostfile", Default: []any{}, Metavar: "FILE", Help: "path to file containing a list of target hosts"})
	g.AddOption(optparse.Option{Flags: []string{"--pick"}, Action: optparse.ActionStore, Dest: "pick",
		Metavar: "N", Type: optparse.TypeInt, Help: "pick N node(s) at random in nodeset"})

	addDisplayOptions(p, displayOptionSet{verbose: true})

	g = p.AddGroup("File copying", "")
	g.AddOption(optparse.Option{Flags: []string{"-c", "--copy"}, Action: optparse.ActionCallback, Dest: "copy",
		Callback: copyCallback, Help: "copy local file or directory to remote nodes"})
	g.AddOption(optparse.Option{Flags: []string{"--rcopy"}, Action: optparse.ActionCallback, Dest: "rcopy",
		Callback: copyCallback, Help: "copy file or directory from remote nodes"})
	g.AddOption(optparse.Option{Flags: []string{"--dest"}, Action: optparse.ActionStore, Dest: "dest_path",
		Help: "destination file or directory on the nodes"})
	g.AddOption(optparse.Option{Flags: []string{"-p"}, Action: optparse.ActionStoreTrue, Dest: "preserve_flag",
		Help: "preserve modification times and modes"})

	g = p.AddGroup("Connection options", "")
	g.AddOption(optparse.Option{Flags: []string{"-f", "--fanout"}, Action: optparse.ActionStore, Dest: "fanout",
		Help: "use a specified fanout", Type: optparse.TypeInt})
	g.AddOption(optparse.Option{Flags: []string{"-l", "--user"}, Action: optparse.ActionStore, Type: "safestring",
		Dest: "user", Help: "execute remote command as user"})
	g.AddOption(optparse.Option{Flags: []string{"-o", "--options"}, Action: optparse.ActionStore,
		Dest: "options", Help: "can be used to give ssh options"})
	g.AddOption(optparse.Option{Flags: []string{"-t", "--connect_timeout"}, Action: optparse.ActionStore,
		Dest: "connect_timeout", Help: "limit time to connect to a node", Type: optparse.TypeFloat})
	g.AddOption(optparse.Option{Flags: []string{"-u", "--command_timeout"}, Action: optparse.ActionStore,
		Dest: "command_timeout", Help: "limit time for command to run on the node", Type: optparse.TypeFloat})
	g.AddOption(optparse.Option{Flags: []string{"-m", "--mode"}, Action: optparse.ActionStore, Dest: "mode",
		Help: "run mode; define MODEs in <confdir>/*.conf"})
	g.AddOption(optparse.Option{Flags: []string{"-R", "--worker"}, Action: optparse.ActionStore, Dest: "worker",
		Help: "worker name to use for command execution ('exec', 'rsh', 'ssh', etc. default is 'ssh')"})

	g = p.AddGroup("Fleet options", "")
	g.AddOption(optparse.Option{Flags: []string{"--fleet"}, Action: optparse.ActionStore, Dest: "fleet", Metavar: "URL",
		Help: "NATS URL of the fleet to submit to (default: $" + envFleet + "; none: run an in-process fleet)"})
	g.AddOption(optparse.Option{Flags: []string{"--fleet-creds"}, Action: optparse.ActionStore, Dest: "fleet_creds", Metavar: "FILE",
		Help: "with --fleet, the nkey seed file of your fleet credential (default: the one $" + envFleetConfig +
			" or ~/.config/fleetsh/fleet.yaml names)"})
	g.AddOption(optparse.Option{Flags: []string{"--fleet-ca"}, Action: optparse.ActionStore, Dest: "fleet_ca", Metavar: "FILE",
		Help: "with --fleet, the site CA file to verify the fleet's TLS certificate with"})
	g.AddOption(optparse.Option{Flags: []string{"--fleet-reconnect"}, Action: optparse.ActionStore, Dest: "fleet_reconnect", Metavar: "DURATION",
		Help: "with --fleet, how long to keep trying to get the job's output back when the coordinator cannot be reached " +
			"or does not know the job, before naming the nodes not accounted for (default: 2m; 0: give up at once)"})
	g.AddOption(optparse.Option{Flags: []string{"--prefix"}, Action: optparse.ActionStore, Dest: "prefix", Metavar: "PREFIX",
		Help: "subject prefix of the fleet (default: $" + envPrefix + ", else '" + protocol.DefaultPrefix + "')"})
	g.AddOption(optparse.Option{Flags: []string{"--json"}, Action: optparse.ActionStoreTrue, Dest: "json",
		Help: "print JSON Lines: one object per output line and per node result (final state, exit code, timings)"})
	g.AddOption(optparse.Option{Flags: []string{"--summary"}, Action: optparse.ActionStoreTrue, Dest: "summary",
		Help: "print a final summary of the nodes per final state on stderr"})
	g.AddOption(optparse.Option{Flags: []string{"--wait"}, Action: optparse.ActionStoreTrue, Dest: "wait",
		Help: "with csub status JOB, wait for the job to end"})
	addMaxOutputOption(g)
	g.AddOption(optparse.Option{Flags: []string{"--gateway-paths"}, Action: optparse.ActionStoreTrue, Dest: "gateway_paths",
		Help: "with --fleet, let -c read its sources and --rcopy write under --dest on the machines of the agents " +
			"serving the nodes (the gateways), rather than move the files from and to here through the fleet"})
	return p
}

// parseReconnect reads --fleet-reconnect: a Go duration, or a number of
// seconds as clush's -t and -u take. 0 is client.Client.Reconnect's
// "never" (negative).
func parseReconnect(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		f, ferr := strconv.ParseFloat(v, 64)
		if ferr != nil || math.IsNaN(f) || math.IsInf(f, 0) || f > 1e9 {
			return 0, err
		}
		d = time.Duration(f * float64(time.Second))
	}
	switch {
	case d < 0:
		return 0, errors.New("negative")
	case d == 0:
		return -1, nil
	}
	return d, nil
}

// parseArgs parses the command line into settings and reads clush.conf,
// up to where clush's main() creates its Display: usage errors, --help
// and --version return the parser's *optparse.ExitError (already
// printed); configuration errors are returned for exitStatus.
func parseArgs(args []string, env *environ) (*settings, *optparse.Parser, error) {
	p := newParser(env)
	v, rest, err := p.Parse(args)
	if err != nil {
		return nil, p, err
	}
	s := &settings{
		nodes:             v.Strings("nodes"),
		exclude:           v.Strings("exclude"),
		groups:            v.Strings("group"),
		exgroups:          v.Strings("exgroup"),
		all:               v.Bool("nodes_all"),
		hostfiles:         v.Strings("hostfile"),
		pick:              v.Int("pick"),
		groupsource:       v.String("groupsource"),
		groupsconf:        v.String("groupsconf"),
		conf:              v.String("conf"),
		confOpts:          v.Strings("option"),
		nostdin:           v.Bool("nostdin"),
		quiet:             v.Bool("quiet"),
		verbose:           v.Bool("verbose"),
		debugOpt:          v.Bool("debug"),
		groupbase:         v.Bool("groupbase"),
		label:             v.Bool("label"),
		lineMode:          v.Bool("line_mode"),
		progress:          v.Bool("progress"),
		diff:              v.Bool("diff"),
		gather:            v.Bool("gather") || v.Bool("gatherall") || v.Bool("diff"),
		gatherAll:         v.Bool("gatherall"),
		regroup:           v.Bool("regroup"),
		maxrcOpt:          v.Bool("maxrc"),
		whencolor:         v.String("whencolor"),
		outdir:            v.String("outdir"),
		errdir:            v.String("errdir"),
		copy:              v.Bool("copy"),
		rcopy:             v.Bool("rcopy"),
		dest:              v.String("dest_path"),
		preserve:          v.Bool("preserve_flag"),
		fanoutOpt:         v.Int("fanout"),
		connectTimeoutOpt: v.Float("connect_timeout"),
		commandTimeoutOpt: v.Float("command_timeout"),
		user:              v.String("user"),
		sshOptions:        v.String("options"),
		mode:              v.String("mode"),
		worker:            v.String("worker"),
		gatewayPaths:      v.Bool("gateway_paths"),
		json:              v.Bool("json"),
		summary:           v.Bool("summary"),
		wait:              v.Bool("wait"),
		command:           rest,
	}
	s.fleet = v.String("fleet")
	if v.IsNone("fleet") {
		s.fleet = env.getenv(envFleet)
	}
	s.fleetCreds, s.fleetCA = v.String("fleet_creds"), v.String("fleet_ca")
	if !v.IsNone("fleet_reconnect") {
		if s.reconnect, err = parseReconnect(v.String("fleet_reconnect")); err != nil {
			return nil, p, p.Error(fmt.Sprintf("option --fleet-reconnect: invalid value: %s (a duration: 2m, 30s; 0 gives up at once)",
				pyfmt.ReprString(v.String("fleet_reconnect"))))
		}
	}
	s.prefix = v.String("prefix")
	if v.IsNone("prefix") {
		s.prefix = env.getenv(envPrefix)
		s.prefixFromEnv = s.prefix != ""
	}
	if err := protocol.ValidPrefix(s.prefix); err != nil {
		what := "option --prefix"
		if s.prefixFromEnv {
			what = envPrefix
		}
		return nil, p, p.Error(fmt.Sprintf("%s: invalid value: %s", what, pyfmt.ReprString(s.prefix)))
	}
	if s.cfg, err = loadConfig(s, env); err != nil {
		return nil, p, err
	}
	// Our own keys in clush.conf's [Main] (or a mode): fleet and prefix,
	// after --fleet/--prefix and their variables.
	if s.fleet == "" {
		if s.fleet, err = s.cfg.optional("fleet"); err != nil {
			return nil, p, err
		}
	}
	if s.fleet == "" && env.getenv(envFleetConfig) != "" {
		// An explicit fleet.yaml names the fleet too (the default one
		// does not: without --fleet csub runs its own fleet).
		c, err := site.LoadClientConfig(env.getenv(envFleetConfig))
		if err != nil {
			return nil, p, err
		}
		s.fleet = c.URL
	}
	if s.prefix == "" {
		if s.prefix, err = s.cfg.optional("prefix"); err != nil {
			return nil, p, err
		}
		if err := protocol.ValidPrefix(s.prefix); err != nil {
			return nil, p, p.Error(fmt.Sprintf("clush.conf prefix: invalid value: %s", pyfmt.ReprString(s.prefix)))
		}
	}
	// The mode applies to every key it sets, color and node_count
	// included (clush reads those before it activates the mode, so a
	// mode's color or node_count has no effect there).
	if s.mode != "" {
		if err := s.cfg.setMode(s.mode); err != nil {
			return nil, p, err
		}
	}
	if s.maxOutput, err = maxOutputSetting(v, s, p); err != nil {
		return nil, p, err
	}
	s.verbosity = s.cfg.verbosity()
	// clush reads color first, then checks --diff against -L while it
	// creates its Display, then reads node_count.
	cfgColor, err := s.cfg.color()
	if err != nil {
		return nil, p, err
	}
	if s.diff && s.lineMode {
		return nil, p, p.Error("option mismatch (diff not supported in line_mode)")
	}
	s.color = useColor(s, cfgColor, env)
	if s.nodeCount, err = s.cfg.getBool("node_count"); err != nil {
		return nil, p, err
	}
	// Read again once a mode is active (configure).
	s.maxrc, s.maxrcErr = s.cfg.getBool("maxrc")
	return s, p, nil
}

// useColor is clush's choice of ANSI colors (main() and Display's
// __init__): --color, else clush.conf's color, else NO_COLOR, CLICOLOR
// and CLICOLOR_FORCE, else whether standard output is a terminal.
func useColor(s *settings, cfgColor string, env *environ) bool {
	var color *bool
	yes, no := true, false
	stdoutTTY := isTerminalFile(env.stdout)
	if cfgColor == "auto" {
		c := stdoutTTY && (s.gatherAll || isTerminalFile(env.stderr))
		color = &c
	} else {
		c := cfgColor == "always"
		color = &c
	}
	if s.whencolor == "" && (cfgColor == "" || cfgColor == "auto") {
		// No --color (clush cannot tell --color= from none here either).
		if _, set := env.lookup("NO_COLOR"); set {
			color = &no
		} else {
			switch force, cli := env.getenv("CLICOLOR_FORCE"), env.getenv("CLICOLOR"); {
			case force != "" && force != "0":
				color = &yes
			case cli == "":
				color = nil
			case cli != "0":
				color = &stdoutTTY
			default:
				color = &no
			}
		}
	}
	if color == nil {
		c := (s.whencolor == "" || s.whencolor == "auto") && stdoutTTY || s.whencolor == "always"
		color = &c
	}
	return *color
}

// isTerminalFile tells whether w (standard input, output or error) is a
// terminal.
func isTerminalFile(w any) bool {
	f, ok := w.(*os.File)
	return ok && isTTY(int(f.Fd()))
}

// seconds converts clush.conf's float seconds; zero, negative or absurd
// values mean "none", as clush's "if config.command_timeout > 0".
func seconds(f float64) time.Duration {
	if !(f > 0) || f > float64(1<<62)/float64(time.Second) {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}
