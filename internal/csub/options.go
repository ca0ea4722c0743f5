package csub

import (
	"fmt"
	"strings"
	"time"

	"github.com/fleetsh/fleetsh/internal/optparse"
	"github.com/fleetsh/fleetsh/internal/pyfmt"
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

// settings is the parsed command line: clush's options plus ours.
type settings struct {
	nodes, exclude    []string // -w, -x (node sets, groups allowed)
	groups, exgroups  []string // -g, -X (sets of group names)
	verbosity         int
	label             bool // not -N
	lineMode          bool // -L
	gather, gatherAll bool // -b, -B
	maxrc             bool // -S
	fanout            int  // -f (0: the agent's)
	connectTimeout    time.Duration
	commandTimeout    time.Duration
	user, sshOptions  string // -l, -o
	worker            string // -R
	fleet, prefix     string // --fleet, --prefix (or their variables)
	command           []string
	prefixFromEnv     bool // prefix came from FLEETSH_PREFIX (for its error)
}

// checkSafestring is ClusterShell's check_safestring option type: a value
// that is empty or looks like an option is refused (clush -w -b ...).
func checkSafestring(_ *optparse.Option, optStr, value string) (any, error) {
	if value == "" || strings.HasPrefix(value, "-") {
		return nil, &optparse.OptionValueError{Msg: fmt.Sprintf("option %s: invalid value: %s", optStr, pyfmt.ReprString(value))}
	}
	return value, nil
}

// newParser declares csub's options as ClusterShell 1.9.1's clush does
// (CLI/Clush.py main() and CLI/OptionParser.py install_*_options): same
// order, groups, metavars and help, so --help lines and every usage error
// read the same. Options csub does not implement yet are left out (not
// accepted, so "no such option" rather than silently ignored); each goes
// back at its place in clush's order when it is implemented. Our own
// options come last, in their own group.
func newParser(env *environ) *optparse.Parser {
	p := optparse.New(optparse.Config{
		Usage:     "%prog [options] command",
		Prog:      progName,
		Version:   "%prog " + Version,
		Types:     map[string]optparse.Checker{"safestring": checkSafestring},
		Formatter: optparse.NewHelpFormatter(optparse.WidthFromColumns(env.lookup("COLUMNS"))),
		Stdout:    env.stdout,
		Stderr:    env.stderr,
	})
	// Everything after the first argument that is not an option is the
	// command: csub -w n1 ls -l runs "ls -l".
	p.DisableInterspersedArgs()
	// Not yet: -s/--groupsource, -n/--nostdin, --groupsconf, --conf,
	// -O/--option.

	g := p.AddGroup("Selecting target nodes", "")
	g.AddOption(optparse.Option{Flags: []string{"-w"}, Action: optparse.ActionAppend, Type: "safestring",
		Dest: "nodes", Help: "nodes where to run the command"})
	g.AddOption(optparse.Option{Flags: []string{"-x"}, Action: optparse.ActionAppend, Type: "safestring",
		Dest: "exclude", Metavar: "NODES", Help: "exclude nodes from the node list"})
	// Not yet: -a/--all.
	g.AddOption(optparse.Option{Flags: []string{"-g", "--group"}, Action: optparse.ActionAppend,
		Type: "safestring", Dest: "group", Help: "run command on a group of nodes"})
	g.AddOption(optparse.Option{Flags: []string{"-X"}, Action: optparse.ActionAppend, Dest: "exgroup",
		Metavar: "GROUP", Type: "safestring", Help: "exclude nodes from this group"})
	// Not yet: -E/--engine (hidden), --hostfile/--machinefile, --topology,
	// --pick.

	g = p.AddGroup("Output behaviour", "")
	g.AddOption(optparse.Option{Flags: []string{"-q", "--quiet"}, Action: optparse.ActionStoreTrue,
		Dest: "quiet", Help: "be quiet, print essential output only"})
	g.AddOption(optparse.Option{Flags: []string{"-v", "--verbose"}, Action: optparse.ActionStoreTrue,
		Dest: "verbose", Help: "be verbose, print informative messages"})
	// Not yet: -d/--debug, -G/--groupbase.
	g.AddOption(optparse.Option{Flags: []string{"-L"}, Action: optparse.ActionStoreTrue, Dest: "line_mode",
		Help: "disable header block and order output by nodes"})
	g.AddOption(optparse.Option{Flags: []string{"-N"}, Action: optparse.ActionStoreFalse, Dest: "label",
		Default: true, Help: "disable labeling of command line"})
	// Not yet: -P/--progress.
	g.AddOption(optparse.Option{Flags: []string{"-b", "--dshbak"}, Action: optparse.ActionStoreTrue,
		Dest: "gather", Help: "gather nodes with same output"})
	g.AddOption(optparse.Option{Flags: []string{"-B"}, Action: optparse.ActionStoreTrue, Dest: "gatherall",
		Default: false, Help: "like -b but including standard error"})
	// Not yet: -r/--regroup.
	g.AddOption(optparse.Option{Flags: []string{"-S", "--maxrc"}, Action: optparse.ActionStoreTrue,
		Dest: "maxrc", Help: "return the largest of command return codes"})
	// Not yet: --color, --diff, --outdir, --errdir; the "File copying"
	// group (-c/--copy, --rcopy, --dest, -p).

	g = p.AddGroup("Connection options", "")
	g.AddOption(optparse.Option{Flags: []string{"-f", "--fanout"}, Action: optparse.ActionStore, Dest: "fanout",
		Help: "use a specified fanout", Type: optparse.TypeInt})
	// Not yet: --grooming (hidden).
	g.AddOption(optparse.Option{Flags: []string{"-l", "--user"}, Action: optparse.ActionStore, Type: "safestring",
		Dest: "user", Help: "execute remote command as user"})
	g.AddOption(optparse.Option{Flags: []string{"-o", "--options"}, Action: optparse.ActionStore,
		Dest: "options", Help: "can be used to give ssh options"})
	g.AddOption(optparse.Option{Flags: []string{"-t", "--connect_timeout"}, Action: optparse.ActionStore,
		Dest: "connect_timeout", Help: "limit time to connect to a node", Type: optparse.TypeFloat})
	g.AddOption(optparse.Option{Flags: []string{"-u", "--command_timeout"}, Action: optparse.ActionStore,
		Dest: "command_timeout", Help: "limit time for command to run on the node", Type: optparse.TypeFloat})
	// Not yet: -m/--mode.
	g.AddOption(optparse.Option{Flags: []string{"-R", "--worker"}, Action: optparse.ActionStore, Dest: "worker",
		Help: "worker name to use for command execution ('exec', 'rsh', 'ssh', etc. default is 'ssh')"})
	// Not yet: --remote.

	g = p.AddGroup("Fleet options", "")
	g.AddOption(optparse.Option{Flags: []string{"--fleet"}, Action: optparse.ActionStore, Dest: "fleet", Metavar: "URL",
		Help: "NATS URL of the fleet to submit to (default: $" + envFleet + "; none: run an in-process fleet)"})
	g.AddOption(optparse.Option{Flags: []string{"--prefix"}, Action: optparse.ActionStore, Dest: "prefix", Metavar: "PREFIX",
		Help: "subject prefix of the fleet (default: $" + envPrefix + ", else '" + protocol.DefaultPrefix + "')"})
	return p
}

// parseArgs parses the command line into settings. Usage errors, --help
// and --version return the parser's *optparse.ExitError (already
// printed).
func parseArgs(args []string, env *environ) (*settings, *optparse.Parser, error) {
	p := newParser(env)
	v, rest, err := p.Parse(args)
	if err != nil {
		return nil, p, err
	}
	s := &settings{
		nodes:     v.Strings("nodes"),
		exclude:   v.Strings("exclude"),
		groups:    v.Strings("group"),
		exgroups:  v.Strings("exgroup"),
		verbosity: verbStd,
		label:     v.Bool("label"),
		lineMode:  v.Bool("line_mode"),
		gather:    v.Bool("gather") || v.Bool("gatherall"),
		gatherAll: v.Bool("gatherall"),
		maxrc:     v.Bool("maxrc"),
		command:   rest,
	}
	// ClusterShell's ClushConfig applies -q, then -v (then -d): the last
	// one present wins in that order, not in command line order.
	if v.Bool("quiet") {
		s.verbosity = verbQuiet
	}
	if v.Bool("verbose") {
		s.verbosity = verbVerb
	}
	// clush ignores zero values ("if options.fanout:"): the defaults stay.
	if n := v.Int("fanout"); n > 0 {
		s.fanout = n
	}
	s.connectTimeout = seconds(v.Float("connect_timeout"))
	s.commandTimeout = seconds(v.Float("command_timeout"))
	s.user = v.String("user")
	s.sshOptions = v.String("options")
	s.worker = v.String("worker")

	s.fleet = v.String("fleet")
	if v.IsNone("fleet") {
		s.fleet = env.getenv(envFleet)
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
	return s, p, nil
}

// seconds converts an option's float seconds; zero, negative or absurd
// values mean "none", as clush's "if config.command_timeout > 0".
func seconds(f float64) time.Duration {
	if !(f > 0) || f > float64(1<<62)/float64(time.Second) {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}
