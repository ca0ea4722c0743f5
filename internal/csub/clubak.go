package csub

// clubak: ClusterShell's clubak (CLI/Clubak.py) on csub's renderer. It
// reads "key: line" from standard input, gathers the lines of each key in
// an engine.MsgTree (as clush gathers a node's output) and prints them
// with clush's display (display.go): header blocks, -b gathering, -L, -N,
// --diff, -r, colors. clubak_input.go reads and splits the input lines;
// clubak_show.go prints the tree in each of clubak's modes.

import (
	"errors"
	"fmt"
	"io"

	"github.com/fleetsh/fleetsh/internal/clispec"
	"github.com/fleetsh/fleetsh/internal/clusteropt"
	"github.com/fleetsh/fleetsh/internal/optparse"
	"github.com/fleetsh/fleetsh/internal/pyfmt"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// clubakProg is the name clubak prints in its messages.
const clubakProg = "clubak"

// interpretKeys values (--interpret-keys): whether a key is read as a
// node set.
const (
	keysNever  = iota // the key is a name, as written
	keysAlways        // the key is a node set; one that does not parse is an error
	keysAuto          // a node set until a key does not parse, names from then on
)

// clubakOptions is clubak's command line.
type clubakOptions struct {
	groupsource, groupsconf string // -s, --groupsconf
	quiet, verbose, debug   bool   // -q, -v, -d
	groupbase               bool   // -G
	lineMode                bool   // -L
	label                   bool   // not -N
	gather                  bool   // -b, -B or --diff
	regroup                 bool   // -r
	separator               string // -S
	fast                    bool   // -F
	trace                   bool   // -T
	interpret               int    // --interpret-keys
	whencolor               string // --color
	colorGiven              bool   // --color was given, maybe empty
	diff                    bool   // --diff
}

// verbosity is Display's, from -q, -v and -d (-d wins over -v, -v over
// -q).
func (o *clubakOptions) verbosity() int {
	switch {
	case o.debug:
		return verbDebug
	case o.verbose:
		return verbVerb
	case o.quiet:
		return verbQuiet
	}
	return verbStd
}

// newClubakParser declares clubak's options as ClusterShell 1.9.1's
// clubak does (OptionParser.__init__, install_groupsconf_option and
// install_display_options with verbose_options, separator_option,
// dshbak_compat and msgtree_mode): same order, help and errors.
// --outdir and --errdir are accepted and ignored, as in clubak (its
// Display keeps them, nothing of clubak writes files).
func newClubakParser(env *environ) *optparse.Parser {
	p := newCLIParser(env, "%prog [options]", clubakProg)
	clusteropt.AddGroupsconfOption(p)
	addDisplayOptions(p, displayOptionSet{verbose: true, separator: true, dshbak: true, msgtree: true})
	return p
}

// parseClubakArgs parses the command line; usage errors, --help and
// --version return the parser's *optparse.ExitError (already printed).
// Arguments that are not options are ignored, as clubak ignores them.
func parseClubakArgs(args []string, env *environ) (*clubakOptions, *optparse.Parser, error) {
	p := newClubakParser(env)
	v, _, err := p.Parse(args)
	if err != nil {
		return nil, p, err
	}
	o := &clubakOptions{
		groupsource: v.String("groupsource"),
		groupsconf:  v.String("groupsconf"),
		quiet:       v.Bool("quiet"),
		verbose:     v.Bool("verbose"),
		debug:       v.Bool("debug"),
		groupbase:   v.Bool("groupbase"),
		lineMode:    v.Bool("line_mode"),
		label:       v.Bool("label"),
		gather:      v.Bool("gather") || v.Bool("gatherall") || v.Bool("diff"),
		regroup:     v.Bool("regroup"),
		separator:   v.String("separator"),
		fast:        v.Bool("fast_mode"),
		trace:       v.Bool("trace_mode"),
		whencolor:   v.String("whencolor"),
		colorGiven:  !v.IsNone("whencolor"),
		diff:        v.Bool("diff"),
	}
	switch v.String("interpret_keys") {
	case "auto":
		o.interpret = keysAuto
	case "always":
		o.interpret = keysAlways
	default: // "never", and "" which clubak reads as not "always"
		o.interpret = keysNever
	}
	return o, p, nil
}

// clubakColor is Display's choice of colors without a clush.conf: --color,
// else NO_COLOR, CLICOLOR_FORCE and CLICOLOR, else whether standard
// output is a terminal.
func clubakColor(o *clubakOptions, env *environ) bool {
	if !o.colorGiven {
		return useColor(&settings{}, "", env)
	}
	switch o.whencolor {
	case "always":
		return true
	case "never":
		return false
	}
	return isTerminalFile(env.stdout)
}

// ClubakMain runs clubak with args (without the program name), reading
// the lines to gather from stdin, and returns its exit status. getenv
// supplies COLUMNS, the color variables (NO_COLOR, CLICOLOR,
// CLICOLOR_FORCE) and those locating groups.conf.
func ClubakMain(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if clispec.Serve(args, stdout, clubakSpec) {
		return 0
	}
	env := &environ{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	o, p, err := parseClubakArgs(args, env)
	if err == nil {
		err = runClubak(o, p, env)
	}
	var ee *optparse.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.Status
	case errors.Is(err, errClubakWrite):
		// A closed pipe: clubak says nothing (handle_generic_error).
		return 1
	}
	fmt.Fprintln(env.stderr, errorLineOf(clubakProg, err))
	return 1
}

// runClubak is clubak(): read and gather the input, then display it.
func runClubak(o *clubakOptions, p *optparse.Parser, env *environ) error {
	paths := nodeset.DefaultConfigPaths(env.lookup)
	if o.groupsconf != "" {
		paths = []string{o.groupsconf}
	}
	resolver := nodeset.NewLazyResolver(paths...)
	parser := &nodeset.Parser{Resolver: resolver}
	if o.fast && (o.trace || o.lineMode) {
		return p.Error("incompatible tree options")
	}
	sep, err := pyfmt.EncodeStrict(pyfmt.Decode(o.separator))
	if err != nil {
		return &clubakError{err.Error()}
	}
	out := newClubakOut(env.stdout)
	g := newGatherer(o, parser, []byte(sep))
	if err := g.read(env.stdin, out); err != nil {
		return errors.Join(out.flush(), err)
	}
	if o.diff && o.lineMode {
		if err := out.flush(); err != nil {
			return err
		}
		return p.Error("option mismatch (diff not supported in line_mode)")
	}
	d := &display{o: newOutputs(&out.stage, env.stderr), label: o.label, gather: o.gather, lineMode: o.lineMode,
		diff: o.diff, verbosity: o.verbosity(), nodeCount: true, color: clubakColor(o, env),
		regroup: o.regroup, groupsource: o.groupsource, noprefix: o.groupbase, parser: parser}
	if o.debug {
		// clubak sets the group resolver's verbosity here, which reads
		// groups.conf: a broken one fails now.
		if _, err := resolver.Load(); err != nil {
			return errors.Join(out.flush(), err)
		}
		fmt.Fprintf(env.stderr, "%s: line_mode=%s gather=%s tree_depth=%d\n",
			clubakProg, pyBool(o.lineMode), pyBool(d.gather), g.tree.Depth())
	}
	return errors.Join(g.show(d, out), out.flush())
}

// clubakError is an error clubak prints as "clubak: <msg>" (Python's
// ValueError and its kind, which handle_generic_error prints so).
type clubakError struct{ msg string }

func (e *clubakError) Error() string { return e.msg }
