package csub

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
	"github.com/fleetsh/fleetsh/internal/pyini"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// targetNodes computes the node set to run on as clush's main() does: the
// union of -w, --hostfile, -a and the groups of -g, minus the union of -x
// and the groups of -X, then --pick. Groups resolve here, with the
// user's groups.conf (or --groupsconf) and -s as the default source: the
// job carries only the resulting folded set, so the fleet needs no
// groups. A set left empty is clush's usage error "No node to run on.".
// It also gives d the parser -r folds headers with.
func targetNodes(s *settings, env *environ, d *display, usageError func(string) error) (*nodeset.NodeSet, error) {
	paths := nodeset.DefaultConfigPaths(env.lookup)
	if s.groupsconf != "" {
		paths = []string{s.groupsconf}
	}
	res := nodeset.NewLazyResolver(paths...)
	if s.verbosity >= verbDebug {
		res.Debug = stderrOf{d.o}
	}
	p := &nodeset.Parser{Resolver: res}
	d.parser = p
	if s.groupsource != "" {
		// clush sets the default source first, which loads groups.conf:
		// an unknown source fails even without groups on the command line.
		if err := res.SetDefaultSource(s.groupsource); err != nil {
			return nil, err
		}
	}
	var wlist, xlist []*nodeset.NodeSet
	for _, list := range []struct {
		vals []string
		out  *[]*nodeset.NodeSet
	}{{s.nodes, &wlist}, {s.exclude, &xlist}} {
		for _, v := range list.vals {
			ns, err := p.Parse(v)
			if err != nil {
				return nil, err
			}
			*list.out = append(*list.out, ns)
		}
	}
	// clush #225: "-w node*" that the shell expanded to a local file name.
	for _, list := range []struct {
		opt string
		l   []*nodeset.NodeSet
	}{{"w", wlist}, {"x", xlist}} {
		for _, ns := range list.l {
			if ns.Len() == 1 {
				if _, err := os.Stat(ns.String()); err == nil {
					d.vprintErr(verbStd, "Warning: using '-%s %s' and local path '%s' exists, was it expanded by the shell?",
						list.opt, ns, ns)
				}
			}
		}
	}
	// --hostfile: node sets separated by blanks and lines (clush #235).
	for _, path := range s.hostfiles {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, osError(err)
		}
		fns := nodeset.New()
		for _, word := range strings.Fields(string(data)) {
			if err := p.Update(fns, word); err != nil {
				return nil, err
			}
		}
		d.vprintErr(verbDebug, "Using nodeset %s from hostfile %s", fns, path)
		wlist = append(wlist, fns)
	}
	base, exclude := nodeset.New(), nodeset.New()
	for _, ns := range wlist {
		base.Update(ns)
	}
	for _, ns := range xlist {
		exclude.Update(ns)
	}
	if s.all {
		all, err := p.All("")
		if err != nil {
			return nil, err
		}
		d.vprint(verbDebug, "Adding nodes from option -a: %s", all)
		base.Update(all)
	}
	// -g rack[1-2] means @rack1 and @rack2: the value is a set of group
	// names, parsed without groups.
	for _, g := range []struct {
		vals []string
		into *nodeset.NodeSet
		msg  string
	}{{s.groups, base, "Adding nodes from option -g"}, {s.exgroups, exclude, "Excluding nodes from option -X"}} {
		if len(g.vals) == 0 {
			continue
		}
		names, err := (&nodeset.Parser{}).ParseList(g.vals)
		if err != nil {
			return nil, err
		}
		for name := range names.All() {
			ns, err := p.Parse("@" + name)
			if err != nil {
				return nil, err
			}
			d.vprint(verbDebug, "%s %s: %s", g.msg, name, ns)
			g.into.Update(ns)
		}
	}
	base.DifferenceUpdate(exclude)
	if base.Len() < 1 {
		return nil, usageError("No node to run on.")
	}
	// Counted, not expanded: refuse a set too large at once, before any
	// step (--pick, the job, the renderer) holds its names.
	limit, err := maxNodes(env)
	if err != nil {
		return nil, err
	}
	if n := base.Len(); n > limit {
		return nil, &protocol.TooManyNodesError{Nodes: n, Limit: limit, Who: progName,
			How: fmt.Sprintf("%s raises it, up to the limit of the fleet's coordinator", envMaxNodes)}
	}
	if s.pick != 0 && s.pick < base.Len() {
		if s.pick < 0 {
			return nil, &pyError{"Sample larger than population or is negative"}
		}
		nodes := base.Nodes()
		rand.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
		picked := nodeset.New()
		for _, n := range nodes[:s.pick] {
			_ = picked.AddNode(n) // names of a parsed set: valid
		}
		base = picked
		if s.verbosity >= verbVerb {
			// clush prints this one in color, whatever --color says.
			fmt.Fprintf(d.o.stdout(), "%sPicked random nodes: %s%s\n", colorResult, base, colorEnd)
		}
	}
	return base, nil
}

// envMaxNodes overrides the most nodes a job may have, which csub
// checks before it expands the node set, and gives its in-process fleet.
const envMaxNodes = "FLEETSH_MAX_NODES"

// maxNodes returns the most nodes a job may have: $FLEETSH_MAX_NODES,
// else protocol.DefaultMaxJobNodes.
func maxNodes(env *environ) (int, error) {
	v := env.getenv(envMaxNodes)
	if v == "" {
		return protocol.DefaultMaxJobNodes, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > protocol.MaxShardNodes {
		return 0, &configError{msg: fmt.Sprintf("%s=%q: not a number of nodes from 1 to %d", envMaxNodes, v, protocol.MaxShardNodes)}
	}
	return n, nil
}

// stderrOf writes to the display's standard error, keeping its order
// with standard output (the group resolver's -d messages).
type stderrOf struct{ o *outputs }

func (w stderrOf) Write(p []byte) (int, error) { return w.o.stderr().Write(p) }

// errorLine formats an error as ClusterShell's handle_generic_error does
// (the same mapping as the nodeset command's, with csub's name).
func errorLine(err error) string { return errorLineOf(progName, err) }

// errorLineOf is errorLine for the program prog (clubak).
func errorLineOf(prog string, err error) string {
	var (
		pe *nodeset.ParseError
		re *nodeset.RangeParseError
		ee *nodeset.ExternalError
		ic *nodeset.IllegalCharError
		ce *nodeset.ConfigError
		us *nodeset.UnknownSourceError
		nu *nodeset.NoUpcallError
		qf *nodeset.QueryFailedError
		py *pyfmt.Error
	)
	var (
		cfg *configError
		pye *pyError
		ose *osErrorT
		ini *pyini.Error
		nse *pyini.NoSectionError
		noe *pyini.NoOptionError
	)
	switch {
	case errors.As(err, &cfg), errors.As(err, &ose):
		return "ERROR: " + err.Error()
	case errors.As(err, &pye), errors.As(err, &ini), errors.As(err, &nse), errors.As(err, &noe):
		return prog + ": " + err.Error()
	case errors.As(err, &pe), errors.As(err, &re):
		return prog + ": Parse error: " + err.Error()
	case errors.As(err, &ee):
		return prog + ": External error: " + ee.Error()
	case errors.As(err, &ic):
		return fmt.Sprintf("%s: Illegal group character: \"%s\"", prog, ic.Error())
	case errors.As(err, &ce) && ce.Kind == nodeset.SyntaxConfig:
		return prog + ": " + ce.Error()
	case errors.As(err, &ce) && ce.Kind == nodeset.ValueConfig:
		return "ERROR: " + ce.Error()
	case errors.As(err, &ce):
		return prog + ": Group resolver error: " + ce.Error()
	case errors.As(err, &us):
		return fmt.Sprintf("%s: Unknown group source: \"%s\"", prog, us.Source)
	case errors.As(err, &nu):
		return fmt.Sprintf("%s: No %s upcall defined for group source \"%s\"", prog, nu.Upcall, nu.Source)
	case errors.As(err, &qf):
		return prog + ": Group error: " + qf.Error()
	case errors.As(err, &py) && py.Kind == "TypeError":
		return prog + ": " + py.Msg
	case errors.As(err, &py):
		return "ERROR: " + py.Msg
	}
	return prog + ": " + err.Error()
}
