package csub

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// targetNodes computes the node set to run on as clush's main() does: the
// union of -w, plus the groups of -g, minus the union of -x and the
// groups of -X. Groups resolve here, with the user's groups.conf: the job
// carries only the resulting folded set, so the fleet needs no groups.
// A set left empty is clush's usage error "No node to run on.".
func targetNodes(s *settings, env *environ, d *display, usageError func(string) error) (*nodeset.NodeSet, error) {
	p := &nodeset.Parser{Resolver: newLazyResolver(nodeset.DefaultConfigPaths(env.lookup))}
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
	base, exclude := nodeset.New(), nodeset.New()
	for _, ns := range wlist {
		base.Update(ns)
	}
	for _, ns := range xlist {
		exclude.Update(ns)
	}
	// -g rack[1-2] means @rack1 and @rack2: the value is a set of group
	// names, parsed without groups.
	for _, g := range []struct {
		vals []string
		into *nodeset.NodeSet
	}{{s.groups, base}, {s.exgroups, exclude}} {
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
			g.into.Update(ns)
		}
	}
	base.DifferenceUpdate(exclude)
	if base.Len() < 1 {
		return nil, usageError("No node to run on.")
	}
	return base, nil
}

// errorLine formats an error as ClusterShell's handle_generic_error does
// (the same mapping as the nodeset command's, with csub's name).
func errorLine(err error) string {
	const prog = progName
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
	switch {
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

// lazyResolver loads groups.conf on first use, as ClusterShell does: a
// broken group configuration only matters to command lines that use
// groups.
type lazyResolver struct {
	paths []string
	once  sync.Once
	r     *nodeset.Resolver
	err   error
}

func newLazyResolver(paths []string) *lazyResolver { return &lazyResolver{paths: paths} }

func (l *lazyResolver) load() (*nodeset.Resolver, error) {
	l.once.Do(func() { l.r, l.err = nodeset.LoadResolver(l.paths...) })
	return l.r, l.err
}

// Sources implements nodeset.GroupResolver.
func (l *lazyResolver) Sources() []string {
	if r, err := l.load(); err == nil {
		return r.Sources()
	}
	return nil
}

// DefaultSource implements nodeset.GroupResolver.
func (l *lazyResolver) DefaultSource() string {
	if r, err := l.load(); err == nil {
		return r.DefaultSource()
	}
	return ""
}

// GroupNodes implements nodeset.GroupResolver.
func (l *lazyResolver) GroupNodes(source, group string) ([]string, error) {
	r, err := l.load()
	if err != nil {
		return nil, err
	}
	return r.GroupNodes(source, group)
}

// AllNodes implements nodeset.GroupResolver.
func (l *lazyResolver) AllNodes(source string) ([]string, error) {
	r, err := l.load()
	if err != nil {
		return nil, err
	}
	return r.AllNodes(source)
}

// GroupList implements nodeset.GroupResolver.
func (l *lazyResolver) GroupList(source string) ([]string, error) {
	r, err := l.load()
	if err != nil {
		return nil, err
	}
	return r.GroupList(source)
}

// HasNodeGroups implements nodeset.GroupResolver.
func (l *lazyResolver) HasNodeGroups(source string) bool {
	r, err := l.load()
	return err == nil && r.HasNodeGroups(source)
}

// NodeGroups implements nodeset.GroupResolver.
func (l *lazyResolver) NodeGroups(source, node string) ([]string, error) {
	r, err := l.load()
	if err != nil {
		return nil, err
	}
	return r.NodeGroups(source, node)
}
