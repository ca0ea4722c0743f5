package nodeset

import (
	"errors"
	"strings"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

// groupString resolves one expanded group reference ("@rack1",
// "@src:rack1", "@*", "@src:*", "@@src") into the node expression it stands
// for and the source that expression must be read in (ClusterShell's
// parse_group_string).
func (p *Parser) groupString(nodegroup, namespace string) (string, string, error) {
	grpstr := nodegroup[1:]
	group := grpstr
	if ns, g, ok := strings.Cut(grpstr, ":"); ok {
		namespace, group = ns, g
	}
	var list []string
	var err error
	switch {
	case group == "*":
		list, err = p.allNodes(namespace)
	case strings.HasPrefix(group, "@"):
		list, err = p.groupList(grpstr[1:])
	default:
		list, err = p.Resolver.GroupNodes(namespace, group)
	}
	if err != nil {
		return "", "", err
	}
	return strings.Join(list, ","), namespace, nil
}

// groupList returns the expanded group names of a source (ClusterShell's
// ParsingEngine.grouplist): the names a source lists may themselves be
// patterns such as "rack[1-4]".
func (p *Parser) groupList(namespace string) ([]string, error) {
	raw, err := p.Resolver.GroupList(namespace)
	if err != nil {
		return nil, err
	}
	set := &NodeSet{}
	set.init()
	noAuto := &Parser{}
	for _, g := range raw {
		toks, err := noAuto.scanString(escapePercent(pyfmt.Strip(g)))
		if err != nil {
			return nil, err
		}
		for _, t := range toks {
			applyOp(set, t.op, single(t.pat, t.patternSet(0)))
		}
	}
	return set.Nodes(), nil
}

// GroupList returns the expanded names of the groups of a source ("" for
// the default source), sorted as ClusterShell lists them.
func (p *Parser) GroupList(source string) ([]string, error) {
	if p.Resolver == nil {
		return nil, &ExternalError{Msg: "No node group resolver"}
	}
	return p.groupList(source)
}

// allNodes is ClusterShell's ParsingEngine.all_nodes: the source's own
// "all" list, else the union of all its groups.
func (p *Parser) allNodes(namespace string) ([]string, error) {
	all, err := p.Resolver.AllNodes(namespace)
	var nu *NoUpcallError
	var qf *QueryFailedError
	switch {
	case err == nil:
		return all, nil
	case errors.As(err, &nu):
		out, err := p.groupsNodes(namespace)
		if errors.As(err, &nu) {
			return nil, &ExternalError{Msg: "Not enough working methods (all or map + list) to get all nodes", Err: err}
		}
		return out, err
	case errors.As(err, &qf):
		return nil, &ExternalError{Msg: "Failed to get all nodes: " + qf.Error(), Err: err}
	}
	return nil, err
}

// groupsNodes returns the nodes of every group of namespace, group after
// group: the nodes of a source without an "all" upcall.
func (p *Parser) groupsNodes(namespace string) ([]string, error) {
	groups, err := p.groupList(namespace)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, g := range groups {
		nodes, err := p.Resolver.GroupNodes(namespace, g)
		if err != nil {
			return nil, err
		}
		out = append(out, nodes...)
	}
	return out, nil
}

// All returns every node of a source (ClusterShell's NodeSet.fromall).
func (p *Parser) All(source string) (*NodeSet, error) {
	if p.Resolver == nil {
		return nil, &ExternalError{Msg: "Group resolver is not defined"}
	}
	list, err := p.allNodes(source)
	if err != nil {
		return nil, err
	}
	return p.ParseList(list)
}

// allNodeNames returns the names of all nodes of a source, for wildcard
// matching; wildcards inside that list are taken literally.
func (p *Parser) allNodeNames(namespace string) (map[string]bool, error) {
	list, err := p.allNodes(namespace)
	if err != nil {
		return nil, err
	}
	all := &NodeSet{}
	for _, s := range list {
		sub, err := p.parseString(s, namespace, false)
		if err != nil {
			return nil, err
		}
		all.Update(sub)
	}
	names := make(map[string]bool, all.Len())
	for n := range all.All() {
		names[n] = true
	}
	return names, nil
}

// matchWildcards returns the nodes of all that match any name of masks,
// with "*" and "?" as in fnmatch.
func (p *Parser) matchWildcards(masks *NodeSet, all map[string]bool) (*NodeSet, error) {
	left := make(map[string]bool, len(all))
	for n := range all {
		left[n] = true
	}
	out := &NodeSet{}
	for mask := range masks.All() {
		for n := range left {
			if !globMatch(mask, n) {
				continue
			}
			delete(left, n)
			one, err := parseSingle(n, p.Autostep)
			if err != nil {
				return nil, err
			}
			out.Update(one)
		}
	}
	return out, nil
}

// globMatch is fnmatch for the patterns a nodeset can carry: "*" matches
// any run, "?" one character, everything else itself.
func globMatch(pat, s string) bool {
	pr, sr := []rune(pat), []rune(s)
	px, sx := 0, 0
	nextPx, nextSx := -1, -1
	for px < len(pr) || sx < len(sr) {
		if px < len(pr) {
			switch c := pr[px]; c {
			case '*':
				nextPx, nextSx = px, sx+1
				px++
				continue
			case '?':
				if sx < len(sr) {
					px++
					sx++
					continue
				}
			default:
				if sx < len(sr) && sr[sx] == c {
					px++
					sx++
					continue
				}
			}
		}
		if nextPx >= 0 && nextSx <= len(sr) {
			px, sx = nextPx, nextSx
			continue
		}
		return false
	}
	return true
}
