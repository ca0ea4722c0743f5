package nodesetcli

import (
	"io"
	"sync"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// lazyResolver loads groups.conf on first use, as ClusterShell does: a
// broken group configuration only matters to commands that use groups.
type lazyResolver struct {
	paths []string
	debug io.Writer

	once sync.Once
	r    *nodeset.Resolver
	err  error
}

func newLazyResolver(paths []string) *lazyResolver { return &lazyResolver{paths: paths} }

func (l *lazyResolver) load() (*nodeset.Resolver, error) {
	l.once.Do(func() {
		l.r, l.err = nodeset.LoadResolver(l.paths...)
		if l.err == nil && l.debug != nil {
			l.r.SetDebugOutput(l.debug)
		}
	})
	return l.r, l.err
}

func (l *lazyResolver) sources() ([]string, error) {
	r, err := l.load()
	if err != nil {
		return nil, err
	}
	return r.Sources(), nil
}

// SetDefaultSource implements nodeset's -s.
func (l *lazyResolver) SetDefaultSource(name string) error {
	r, err := l.load()
	if err != nil {
		return err
	}
	return r.SetDefaultSource(name)
}

// Sources implements nodeset.GroupResolver.
func (l *lazyResolver) Sources() []string {
	s, _ := l.sources()
	return s
}

// DefaultSource implements nodeset.GroupResolver.
func (l *lazyResolver) DefaultSource() string {
	r, err := l.load()
	if err != nil {
		return ""
	}
	return r.DefaultSource()
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
