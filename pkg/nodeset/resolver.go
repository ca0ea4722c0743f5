package nodeset

// GroupResolver resolves node groups (@group, @source:group) from one or
// more group sources, with ClusterShell's GroupResolver semantics. A source
// name of "" always means the resolver's default source.
//
// Implementations must be safe for use by one goroutine at a time; a NodeSet
// never calls a resolver concurrently.
type GroupResolver interface {
	// Sources returns the names of all group sources, the default first.
	Sources() []string
	// DefaultSource returns the name of the default source ("" if none).
	DefaultSource() string
	// GroupNodes returns the node strings (each a nodeset expression) of
	// group in source. An unknown group yields no strings and no error.
	GroupNodes(source, group string) ([]string, error)
	// AllNodes returns the node strings of every node of source. It returns
	// a *NoUpcallError when the source cannot list all nodes by itself.
	AllNodes(source string) ([]string, error)
	// GroupList returns the group names of source (each may be a
	// nodeset-like pattern such as "rack[1-4]").
	GroupList(source string) ([]string, error)
	// HasNodeGroups reports whether source can tell the groups of a node
	// directly (a reverse upcall).
	HasNodeGroups(source string) bool
	// NodeGroups returns the groups node belongs to in source.
	NodeGroups(source, node string) ([]string, error)
}

// UnknownSourceError reports a group source name that no configuration
// defines (ClusterShell's GroupResolverSourceError).
type UnknownSourceError struct {
	Source string // "<default>" when no default source exists
}

func (e *UnknownSourceError) Error() string { return e.Source }

// NoUpcallError reports that a group source has no way to answer a query
// (ClusterShell's GroupSourceNoUpcall): Upcall is "map", "all", "list" or
// "reverse".
type NoUpcallError struct {
	Source string
	Upcall string
}

func (e *NoUpcallError) Error() string { return e.Upcall }

// QueryFailedError reports an external group command that failed
// (ClusterShell's GroupSourceQueryFailed). Its message is the command line,
// as ClusterShell prints it.
type QueryFailedError struct {
	Source  string
	Command string
	Err     error // exit status or start error
}

func (e *QueryFailedError) Error() string { return e.Command }

// Unwrap returns the underlying process error.
func (e *QueryFailedError) Unwrap() error { return e.Err }

// ConfigError reports an invalid group configuration (groups.conf, a
// confdir .conf file or an autodir YAML file).
type ConfigError struct {
	Msg  string
	Kind ConfigErrorKind
}

// ConfigErrorKind tells which of ClusterShell's exceptions an invalid
// configuration raises, because its CLIs print each differently.
type ConfigErrorKind int

// The kinds of configuration errors.
const (
	// ResolverConfig is GroupResolverConfigError ("Group resolver
	// error: ...").
	ResolverConfig ConfigErrorKind = iota
	// SyntaxConfig is a configparser error (the message alone).
	SyntaxConfig
	// ValueConfig is a ValueError ("ERROR: ...").
	ValueConfig
)

func (e *ConfigError) Error() string { return e.Msg }

// IllegalCharError reports a group name listed by a source that holds a
// character reserved by the nodeset syntax.
type IllegalCharError struct {
	Chars string // the offending characters, space separated
}

func (e *IllegalCharError) Error() string { return e.Chars }

// IllegalGroupChars are the characters a group name may not contain.
const IllegalGroupChars = "@,!&^*"

// sourceName is how ClusterShell names a source in errors.
func sourceName(s string) string {
	if s == "" {
		return "<default>"
	}
	return s
}
