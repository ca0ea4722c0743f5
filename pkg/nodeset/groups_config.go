package nodeset

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"sync"
	"time"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
	"github.com/fleetsh/fleetsh/internal/pyshlex"
)

// Resolver is a GroupResolver configured from groups.conf files, with the
// semantics of ClusterShell's GroupResolverConfig: upcall sources from the
// main file and from the *.conf files of [Main] confdir, file sources from
// the *.yaml files of [Main] autodir, and a default source.
//
// Unlike ClusterShell, which parses its configuration lazily on first use,
// LoadResolver reads everything at once so that configuration errors
// surface where the program loads them. A Resolver is safe for concurrent
// use; external commands run one at a time.
type Resolver struct {
	mu      sync.Mutex
	sources map[string]groupSource
	order   []string // insertion order, as Python's dict keeps it
	def     string
	hasDef  bool // the default may be named "" (section "[a,]" defines one)
	files   []string
	env     *gcEnv
}

var _ GroupResolver = (*Resolver)(nil)

// groupSource is one namespace of groups: ClusterShell's GroupSource
// interface. map, all and reverse answer raw text, list answers items that
// may each hold several whitespace-separated names; the Resolver then
// splits them exactly like GroupResolver._list_nodes/_list_groups.
type groupSource interface {
	resolvMap(group string) (string, error)
	resolvAll() (string, error)
	resolvList() ([]string, error)
	hasReverse() bool
	resolvReverse(node string) (string, error)
	clearCache()
}

// gcEnv holds what sources need from their Resolver: a clock (replaceable
// in tests) and where upcall commands write their stderr.
type gcEnv struct {
	now    func() time.Time
	stderr io.Writer
	debug  io.Writer // receives ClusterShell's debug log lines when set
}

// seconds returns the time as Python's time.time() does, so cache expiry
// compares float seconds exactly like ClusterShell (a NaN cache_time never
// expires, a negative one always has).
func (e *gcEnv) seconds() float64 {
	t := time.Now()
	if e.now != nil {
		t = e.now()
	}
	return float64(t.UnixNano()) / 1e9
}

func (e *gcEnv) errWriter() io.Writer {
	if e.stderr != nil {
		return e.stderr
	}
	return os.Stderr
}

// mainSection is the groups.conf section that configures the resolver
// instead of defining a source.
const mainSection = "Main"

// defaultCacheTime is ClusterShell's _DEFAULT_CACHE_TIME, in seconds.
const defaultCacheTime = 3600.0

// DefaultConfigPaths returns the groups.conf paths ClusterShell reads, in
// increasing priority (Defaults.config_paths("groups.conf")):
// /etc/clustershell, ~/.local/etc/clustershell (pip --user),
// /usr/etc/clustershell (sys.prefix of Debian's python3),
// $XDG_CONFIG_HOME/clustershell (default ~/.config/clustershell) and, when
// the variable is set, $CLUSTERSHELL_CFGDIR.
//
// lookupEnv reads the environment (nil means os.LookupEnv). It returns
// whether a variable is set because ClusterShell distinguishes set-but-empty
// from unset for XDG_CONFIG_HOME and CLUSTERSHELL_CFGDIR.
func DefaultConfigPaths(lookupEnv func(string) (string, bool)) []string {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	const name = "groups.conf"
	paths := []string{
		gcJoin("/etc/clustershell", name),
		gcExpandUser("~/.local/etc/clustershell/"+name, lookupEnv),
		gcJoin("/usr", "etc/clustershell", name),
	}
	xdg, ok := lookupEnv("XDG_CONFIG_HOME")
	if !ok {
		xdg = gcExpandUser("~/.config", lookupEnv)
	}
	paths = append(paths, gcJoin(xdg, "clustershell", name))
	if dir, ok := lookupEnv("CLUSTERSHELL_CFGDIR"); ok {
		paths = append(paths, gcJoin(dir, name))
	}
	return paths
}

// gcExpandUser is os.path.expanduser for a "~/..." path: $HOME when set
// (even empty), else the password database, else the path unchanged.
func gcExpandUser(p string, lookupEnv func(string) (string, bool)) string {
	home, ok := lookupEnv("HOME")
	if !ok {
		u, err := user.Current()
		if err != nil {
			return p
		}
		home = u.HomeDir
	}
	home = strings.TrimRight(home, "/")
	if out := home + p[1:]; out != "" {
		return out
	}
	return "/"
}

// LoadDefaultResolver loads the groups.conf files of DefaultConfigPaths
// from the process environment, as ClusterShell's tools do when no
// --groupsconf is given.
func LoadDefaultResolver() (*Resolver, error) {
	return LoadResolver(DefaultConfigPaths(nil)...)
}

// LoadResolver reads groups.conf files the way ClusterShell's
// GroupResolverConfig does. Files that cannot be read are skipped; options
// of later files override those of earlier ones; $CFGDIR is the directory
// of the last file actually read. With no readable file the Resolver has no
// source at all. Any syntax or semantic error in the configuration, the
// confdir *.conf files or the autodir *.yaml files is a *ConfigError.
func LoadResolver(paths ...string) (*Resolver, error) {
	r := &Resolver{sources: map[string]groupSource{}, env: &gcEnv{}}
	cfg := pyfmt.NewConfigParser(pyfmt.ConfigOptions{})
	parsed, err := cfg.Read(paths...)
	if err != nil {
		return nil, iniError(err)
	}
	r.files = parsed
	if len(parsed) == 0 {
		return r, nil
	}
	if err := r.parseConfig(cfg, gcDirname(parsed[len(parsed)-1])); err != nil {
		return nil, err
	}
	return r, nil
}

// isMissingINIValue reports the errors ClusterShell ignores when it reads
// optional [Main] settings.
func isMissingINIValue(err error) bool {
	var ns *pyfmt.NoSectionError
	var no *pyfmt.NoOptionError
	return errors.As(err, &ns) || errors.As(err, &no)
}

// iniError turns a configparser syntax or interpolation error into the
// *ConfigError ClusterShell's CLIs print as it is.
func iniError(err error) error {
	var ce *pyfmt.ConfigError
	if errors.As(err, &ce) {
		return &ConfigError{Kind: SyntaxConfig, Msg: ce.Error()}
	}
	return err
}

// parseConfig is GroupResolverConfig._parse_config. The order matters for
// both Sources() and name collisions: confdir sources, then autodir
// sources, then the main file's own sections.
func (r *Resolver) parseConfig(cfg *pyfmt.ConfigParser, cfgDir string) error {
	confOpt := "confdir"
	if cfg.HasOption(mainSection, "groupsdir") {
		confOpt = "groupsdir"
	}
	err := r.forEachDir(cfg, confOpt, "confdir", cfgDir, func(dir string) error {
		for _, f := range gcGlobDir(dir, ".conf") {
			sub := pyfmt.NewConfigParser(pyfmt.ConfigOptions{})
			// An unreadable file is skipped like by ConfigParser.read.
			if _, err := sub.Read(f); err != nil {
				return iniError(err)
			}
			if err := r.sourcesFromCfg(sub, dir); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}

	err = r.forEachDir(cfg, "autodir", "autodir", cfgDir, func(dir string) error {
		for _, f := range gcGlobDir(dir, ".yaml") {
			loader, err := loadYAMLGroups(f, r.env)
			if err != nil {
				var ce *ConfigError
				if errors.As(err, &ce) {
					return err
				}
				// ClusterShell ignores YAML files it cannot open.
				continue
			}
			for _, name := range loader.order {
				if err := r.addSource(name, &fileSource{name: name, loader: loader}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}

	if err := r.sourcesFromCfg(cfg, cfgDir); err != nil {
		return err
	}

	def, err := cfg.Get(mainSection, "default")
	switch {
	case err == nil:
		if _, ok := r.sources[def]; ok {
			r.def, r.hasDef = def, true
		} else if def != "" {
			return &ConfigError{Msg: fmt.Sprintf("Default group source not found: \"%s\"", def)}
		}
	case !isMissingINIValue(err):
		return iniError(err)
	}
	// Without a (non-empty) default, the first source added is it.
	if (!r.hasDef || r.def == "") && len(r.order) > 0 {
		r.def, r.hasDef = r.order[0], true
	}
	return nil
}

// forEachDir walks the directory list of [Main] option opt (a shell-quoted
// list where $CFGDIR stands for cfgDir), skipping duplicates and missing
// directories; what names the option in errors.
func (r *Resolver) forEachDir(cfg *pyfmt.ConfigParser, opt, what, cfgDir string, fn func(dir string) error) error {
	val, err := cfg.Get(mainSection, opt)
	if err != nil {
		if isMissingINIValue(err) {
			return nil
		}
		return iniError(err)
	}
	dirs, err := pyshlex.Split(val)
	if err != nil {
		return &ConfigError{Kind: ValueConfig, Msg: fmt.Sprintf("[%s] %s: %v", mainSection, opt, err)}
	}
	seen := map[string]bool{}
	for _, d := range dirs {
		d = gcNormpath(gcTemplate(d, map[string]string{"CFGDIR": cfgDir}))
		if seen[d] {
			continue
		}
		seen[d] = true
		fi, err := os.Stat(d)
		if err != nil {
			continue
		}
		if !fi.IsDir() {
			return &ConfigError{Msg: fmt.Sprintf("Defined %s %s is not a directory", what, d)}
		}
		if err := fn(d); err != nil {
			return err
		}
	}
	return nil
}

// gcGlobDir is glob.glob(dir + "/*" + ext), sorted: dot files are not
// matched, as with any shell glob. An unreadable directory yields nothing.
func gcGlobDir(dir, ext string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries { // ReadDir sorts by name
		n := e.Name()
		if !strings.HasPrefix(n, ".") && strings.HasSuffix(n, ext) {
			out = append(out, dir+"/"+n)
		}
	}
	return out
}

// sourcesFromCfg is GroupResolverConfig._sources_from_cfg: every section
// but [Main] defines upcall sources, "[a,b]" defining a and b with the same
// commands. Commands are read raw so that '%' needs no escaping.
func (r *Resolver) sourcesFromCfg(cfg *pyfmt.ConfigParser, cfgDir string) error {
	for _, section := range cfg.Sections() {
		for _, name := range strings.Split(section, ",") {
			if name == mainSection {
				continue
			}
			src := &upcallSource{
				name:      name,
				upcalls:   map[string]string{},
				cfgdir:    cfgDir,
				cacheTime: defaultCacheTime,
				env:       r.env,
			}
			m, err := cfg.GetRaw(section, "map")
			if err != nil {
				return &ConfigError{Msg: err.Error()}
			}
			src.upcalls["map"] = m
			for _, up := range []string{"all", "list", "reverse"} {
				if cfg.HasOption(section, up) {
					v, _ := cfg.GetRaw(section, up)
					src.upcalls[up] = v
				}
			}
			if cfg.HasOption(section, "cache_time") {
				v, _ := cfg.GetRaw(section, "cache_time")
				ct, err := pyfmt.ParseFloat(v)
				if err != nil {
					return &ConfigError{Msg: err.Error()}
				}
				src.cacheTime = ct
			}
			src.clearCache()
			if err := r.addSource(name, src); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *Resolver) addSource(name string, src groupSource) error {
	if _, dup := r.sources[name]; dup {
		return &ConfigError{Kind: ValueConfig, Msg: fmt.Sprintf("GroupSource '%s': name collision", name)}
	}
	r.sources[name] = src
	r.order = append(r.order, name)
	return nil
}

// ConfigFiles returns the groups.conf files that were actually read, in
// order; the last one's directory is $CFGDIR.
func (r *Resolver) ConfigFiles() []string {
	return append([]string(nil), r.files...)
}

// SetDebugOutput makes the resolver log each upcall command and its output
// to w, in the form ClusterShell logs them with -d
// ("DEBUG:ClusterShell.NodeUtils:EXEC '...'"); nil turns it off.
func (r *Resolver) SetDebugOutput(w io.Writer) { r.setEnv(func(e *gcEnv) { e.debug = w }) }

// SetUpcallStderr sets where upcall commands write their standard error;
// by default (or with nil) it is the process's stderr, as in ClusterShell.
func (r *Resolver) SetUpcallStderr(w io.Writer) { r.setEnv(func(e *gcEnv) { e.stderr = w }) }

// setEnv changes the upcalls' environment under the lock.
func (r *Resolver) setEnv(set func(*gcEnv)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.env == nil { // zero Resolver
		r.env = &gcEnv{}
	}
	set(r.env)
}

// ClearCache forgets every cached upcall result, whatever its age.
func (r *Resolver) ClearCache() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.sources {
		s.clearCache()
	}
}

// Sources returns the source names in configuration order with the
// default moved first, like GroupResolver.sources(), which the CLI's
// --list-sources prints.
func (r *Resolver) Sources() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.order))
	if r.hasDef {
		out = append(out, r.def)
	}
	for _, n := range r.order {
		if !r.hasDef || n != r.def {
			out = append(out, n)
		}
	}
	return out
}

// DefaultSource returns the name of the default source, "" if there is no
// source at all.
func (r *Resolver) DefaultSource() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.def
}

// SetDefaultSource makes name the default source, as the CLI's -s option
// does; it returns a *UnknownSourceError if no source has that name.
func (r *Resolver) SetDefaultSource(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.sources[name]; !ok {
		return &UnknownSourceError{Source: name}
	}
	r.def, r.hasDef = name, true
	return nil
}

// source is GroupResolver._source: "" is the default source.
func (r *Resolver) source(name string) (groupSource, error) {
	if name == "" {
		if !r.hasDef {
			return nil, &UnknownSourceError{Source: sourceName(name)}
		}
		name = r.def
	}
	s, ok := r.sources[name]
	if !ok {
		return nil, &UnknownSourceError{Source: sourceName(name)}
	}
	return s, nil
}

// query calls fn with source, under the lock that keeps external
// commands one at a time.
func (r *Resolver) query(source string, fn func(groupSource) ([]string, error)) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := r.source(source)
	if err != nil {
		return nil, err
	}
	return fn(s)
}

// nodeFields splits an upcall's output on white space, as ClusterShell
// does before parsing it as nodesets.
func nodeFields(raw string, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	return strings.FieldsFunc(raw, pyfmt.IsSpace), nil
}

// GroupNodes returns the nodeset strings of group in source: the map
// upcall's output (or YAML value) split on whitespace. An unknown group
// gives no strings.
func (r *Resolver) GroupNodes(source, group string) ([]string, error) {
	return r.query(source, func(s groupSource) ([]string, error) { return nodeFields(s.resolvMap(group)) })
}

// AllNodes returns the nodeset strings of all nodes of source: the all
// upcall, or a YAML source's "all" group. Without one it returns a
// *NoUpcallError, and callers fall back to the union of all groups.
func (r *Resolver) AllNodes(source string) ([]string, error) {
	return r.query(source, func(s groupSource) ([]string, error) { return nodeFields(s.resolvAll()) })
}

// GroupList returns the group names of source (list upcall or YAML keys).
// A name holding a character of IllegalGroupChars is an *IllegalCharError.
func (r *Resolver) GroupList(source string) ([]string, error) {
	return r.query(source, func(s groupSource) ([]string, error) {
		items, err := s.resolvList()
		if err != nil {
			return nil, err
		}
		return gcGroupNames(items)
	})
}

// HasNodeGroups reports whether source has a reverse upcall; an unknown
// source has none.
func (r *Resolver) HasNodeGroups(source string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := r.source(source)
	return err == nil && s.hasReverse()
}

// NodeGroups returns the groups of node in source from its reverse upcall.
func (r *Resolver) NodeGroups(source, node string) ([]string, error) {
	return r.query(source, func(s groupSource) ([]string, error) {
		raw, err := s.resolvReverse(node)
		if err != nil {
			return nil, err
		}
		return gcGroupNames([]string{raw})
	})
}

// gcGroupNames is GroupResolver._list_groups: names are split on
// whitespace and checked against IllegalGroupChars, because such a name
// could never be written back as @group.
func gcGroupNames(items []string) ([]string, error) {
	out := []string{}
	for _, item := range items {
		for name := range pyfmt.Fields(item) {
			if !strings.ContainsAny(name, IllegalGroupChars) {
				out = append(out, name)
				continue
			}
			var bad []string
			for _, c := range IllegalGroupChars {
				if strings.ContainsRune(name, c) {
					bad = append(bad, string(c))
				}
			}
			return nil, &IllegalCharError{Chars: strings.Join(bad, " ")}
		}
	}
	return out, nil
}
