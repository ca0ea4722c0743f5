package nodeset

import (
	"io"
	"sync"
)

// LazyResolver is a GroupResolver that reads its groups.conf files on
// first use, as ClusterShell's tools do: a broken group configuration
// only matters to command lines that use groups. Safe for concurrent use.
type LazyResolver struct {
	// Paths are the groups.conf files, as for LoadResolver.
	Paths []string
	// Debug, when set before first use, receives the group sources'
	// debug messages (nodeset -d, clush -d).
	Debug io.Writer

	once sync.Once
	r    *Resolver
	err  error
}

// NewLazyResolver returns a LazyResolver of paths.
func NewLazyResolver(paths ...string) *LazyResolver { return &LazyResolver{Paths: paths} }

// Load reads the configuration (once) and returns the resolver.
func (l *LazyResolver) Load() (*Resolver, error) {
	l.once.Do(func() {
		l.r, l.err = LoadResolver(l.Paths...)
		if l.err == nil && l.Debug != nil {
			l.r.SetDebugOutput(l.Debug)
		}
	})
	return l.r, l.err
}

// SetDefaultSource loads the configuration and sets its default source;
// an unknown source is an error (ClusterShell's -s).
func (l *LazyResolver) SetDefaultSource(name string) error {
	r, err := l.Load()
	if err != nil {
		return err
	}
	return r.SetDefaultSource(name)
}

// Sources implements GroupResolver (none when the configuration is bad).
func (l *LazyResolver) Sources() []string {
	if r, err := l.Load(); err == nil {
		return r.Sources()
	}
	return nil
}

// DefaultSource implements GroupResolver.
func (l *LazyResolver) DefaultSource() string {
	if r, err := l.Load(); err == nil {
		return r.DefaultSource()
	}
	return ""
}

// GroupNodes implements GroupResolver.
func (l *LazyResolver) GroupNodes(source, group string) ([]string, error) {
	r, err := l.Load()
	if err != nil {
		return nil, err
	}
	return r.GroupNodes(source, group)
}

// AllNodes implements GroupResolver.
func (l *LazyResolver) AllNodes(source string) ([]string, error) {
	r, err := l.Load()
	if err != nil {
		return nil, err
	}
	return r.AllNodes(source)
}

// GroupList implements GroupResolver.
func (l *LazyResolver) GroupList(source string) ([]string, error) {
	r, err := l.Load()
	if err != nil {
		return nil, err
	}
	return r.GroupList(source)
}

// HasNodeGroups implements GroupResolver.
func (l *LazyResolver) HasNodeGroups(source string) bool {
	r, err := l.Load()
	return err == nil && r.HasNodeGroups(source)
}

// NodeGroups implements GroupResolver.
func (l *LazyResolver) NodeGroups(source, node string) ([]string, error) {
	r, err := l.Load()
	if err != nil {
		return nil, err
	}
	return r.NodeGroups(source, node)
}

var _ GroupResolver = (*LazyResolver)(nil)
