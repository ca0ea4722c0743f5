package nodeset

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

// StaticResolver is an in-memory GroupResolver for programs and tests that
// define groups in code rather than in groups.conf. Each source maps group
// names to nodeset strings and behaves like a ClusterShell YAML source:
// a value may hold several whitespace-separated nodesets, the group "all"
// (if any) answers AllNodes, and there is no reverse lookup, so callers
// find a node's groups by scanning GroupList.
//
// A StaticResolver never changes after NewStaticResolver except for its
// default source, and is safe for concurrent use as long as
// SetDefaultSource is not called concurrently with queries.
type StaticResolver struct {
	sources map[string]map[string]string
	order   []string
	def     string
}

var _ GroupResolver = (*StaticResolver)(nil)

// NewStaticResolver builds a resolver from sources (source name → group
// name → nodes); the maps are copied and a source may not be named "". Sources and groups are listed in
// sorted name order, since Go maps have none. defaultSource names the
// default source; "" picks the first name in sorted order. It returns an
// *UnknownSourceError when defaultSource is not in sources.
func NewStaticResolver(sources map[string]map[string]string, defaultSource string) (*StaticResolver, error) {
	r := &StaticResolver{sources: map[string]map[string]string{}}
	for name, groups := range sources {
		if name == "" {
			// "" means the default source in every query.
			return nil, fmt.Errorf("static group resolver: empty source name")
		}
		r.sources[name] = maps.Clone(groups)
		if r.sources[name] == nil {
			r.sources[name] = map[string]string{}
		}
	}
	r.order = slices.Sorted(maps.Keys(r.sources))
	switch {
	case defaultSource != "":
		if err := r.SetDefaultSource(defaultSource); err != nil {
			return nil, fmt.Errorf("static group resolver: %w", err)
		}
	case len(r.order) > 0:
		r.def = r.order[0]
	}
	return r, nil
}

// SetDefaultSource changes the default source; it returns a
// *UnknownSourceError if no source has that name.
func (r *StaticResolver) SetDefaultSource(name string) error {
	if _, ok := r.sources[name]; !ok {
		return &UnknownSourceError{Source: name}
	}
	r.def = name
	return nil
}

// Sources returns the source names, the default first, the others sorted.
func (r *StaticResolver) Sources() []string {
	out := []string{}
	if r.def != "" {
		out = append(out, r.def)
	}
	for _, n := range r.order {
		if n != r.def {
			out = append(out, n)
		}
	}
	return out
}

// DefaultSource returns the default source name, "" when there is none.
func (r *StaticResolver) DefaultSource() string { return r.def }

func (r *StaticResolver) source(name string) (map[string]string, string, error) {
	if name == "" {
		name = r.def
		if name == "" {
			return nil, "", &UnknownSourceError{Source: sourceName("")}
		}
	}
	g, ok := r.sources[name]
	if !ok {
		return nil, "", &UnknownSourceError{Source: name}
	}
	return g, name, nil
}

// GroupNodes returns the nodeset strings of group; an unknown group has
// none.
func (r *StaticResolver) GroupNodes(source, group string) ([]string, error) {
	g, _, err := r.source(source)
	if err != nil {
		return nil, err
	}
	return strings.FieldsFunc(g[group], pyfmt.IsSpace), nil
}

// AllNodes returns the nodes of the group "all", or a *NoUpcallError when
// the source has no such group.
func (r *StaticResolver) AllNodes(source string) ([]string, error) {
	g, name, err := r.source(source)
	if err != nil {
		return nil, err
	}
	all, ok := g["all"]
	if !ok {
		return nil, &NoUpcallError{Source: name, Upcall: "all"}
	}
	return strings.FieldsFunc(all, pyfmt.IsSpace), nil
}

// GroupList returns the sorted group names of source; a name holding one
// of IllegalGroupChars is an *IllegalCharError, as with Resolver.
func (r *StaticResolver) GroupList(source string) ([]string, error) {
	g, _, err := r.source(source)
	if err != nil {
		return nil, err
	}
	return gcGroupNames(slices.Sorted(maps.Keys(g)))
}

// HasNodeGroups is always false: static sources have no reverse lookup.
func (r *StaticResolver) HasNodeGroups(string) bool { return false }

// NodeGroups returns a *NoUpcallError for a known source.
func (r *StaticResolver) NodeGroups(source, _ string) ([]string, error) {
	_, name, err := r.source(source)
	if err != nil {
		return nil, err
	}
	return nil, &NoUpcallError{Source: name, Upcall: "reverse"}
}
