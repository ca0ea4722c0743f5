package csub

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
	"github.com/fleetsh/fleetsh/internal/pyshlex"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// csub reads clush.conf as ClusterShell's ClushConfig (CLI/Config.py)
// does, from the same files, so that one configuration serves both: the
// [Main] keys, [mode:NAME] sections (in clush.conf or in confdir's *.conf
// files) and the same errors. Two deliberate differences, both about
// modes (-m): a value given on the command line (-f, -l, -o, -t, -u,
// --color, -S, -O) wins over the active mode's, where clush 1.9.1 lets the
// mode's win (it stores command line values in [Main], which a mode
// section overrides); and a mode's fanout, color and node_count apply,
// where clush reads them before it activates the mode and ignores them.

const mainSection = "Main"

// mainDefaults are ClushConfig.MAIN_DEFAULTS (fanout, connect_timeout and
// command_timeout are ClusterShell's task defaults, as "%d"/"%f" format
// them).
var mainDefaults = [][2]string{
	{"fanout", "64"}, {"connect_timeout", "10.000000"}, {"command_timeout", "0.000000"},
	{"history_size", "100"}, {"color", ""}, {"verbosity", "1"}, {"node_count", "yes"},
	{"maxrc", "no"}, {"fd_max", "8192"}, {"command_prefix", ""}, {"password_prompt", "no"},
}

// colorChoices are THREE_CHOICES, the values of --color and color.
var colorChoices = []string{"", "never", "always", "auto"}

// configError is ClushConfigError: printed as "ERROR: <msg>", exit 1.
type configError struct {
	section, option string
	msg             string
}

func (e *configError) Error() string {
	s := ""
	if e.section != "" && e.option != "" {
		s = "(Config " + e.section + "." + e.option + "): "
	}
	return s + e.msg
}

// pyError is a Python exception clush reports as "clush: <msg>" (a
// ValueError or TypeError that no handler wraps), exit 1.
type pyError struct{ msg string }

func (e *pyError) Error() string { return e.msg }

// clushConfig is ClushConfig: the files, the command line overrides and
// the active mode.
type clushConfig struct {
	ini    *pyfmt.ConfigParser
	parsed []string
	mode   string
	// cmdline are the keys the command line set: they win over the mode.
	cmdline map[string]bool
}

// clushConfPaths are ClusterShell's config_paths("clush.conf"): the
// places groups.conf is looked for, with the other file name.
func clushConfPaths(env *environ) []string {
	var paths []string
	for _, p := range nodeset.DefaultConfigPaths(env.lookup) {
		paths = append(paths, strings.TrimSuffix(p, "groups.conf")+"clush.conf")
	}
	return paths
}

// loadConfig reads clush.conf (conf, when --conf is given, else the
// default paths), then confdir's files, then applies the command line as
// ClushConfig.__init__ does.
func loadConfig(s *settings, env *environ) (*clushConfig, error) {
	c := &clushConfig{ini: pyfmt.NewConfigParser(pyfmt.ConfigOptions{}), cmdline: map[string]bool{}}
	c.ini.AddSection(mainSection)
	for _, kv := range mainDefaults {
		_ = c.ini.Set(mainSection, kv[0], kv[1])
	}
	files := clushConfPaths(env)
	if s.conf != "" {
		files = []string{s.conf}
	}
	var err error
	if c.parsed, err = c.ini.Read(files...); err != nil {
		return nil, err
	}
	if len(c.parsed) > 0 {
		if err := c.readConfdir(filepath.Dir(c.parsed[len(c.parsed)-1])); err != nil {
			return nil, err
		}
	}
	set := func(k, v string) error {
		c.cmdline[strings.ToLower(k)] = true // ConfigParser's optionxform
		if err := c.ini.Set(mainSection, k, v); err != nil {
			return &pyError{err.Error()} // clush's uncaught ValueError
		}
		return nil
	}
	for _, o := range []struct {
		on     bool
		key, v string
	}{
		{s.quiet, "verbosity", "0"}, {s.verbose, "verbosity", "2"}, {s.debugOpt, "verbosity", "3"},
		{s.fanoutOpt != 0, "fanout", fmt.Sprint(s.fanoutOpt)}, {s.user != "", "ssh_user", s.user},
		{s.sshOptions != "", "ssh_options", s.sshOptions},
		{s.connectTimeoutOpt != 0, "connect_timeout", pyfmt.FloatRepr(s.connectTimeoutOpt)},
		{s.commandTimeoutOpt != 0, "command_timeout", pyfmt.FloatRepr(s.commandTimeoutOpt)},
		{s.whencolor != "", "color", s.whencolor}, {s.maxrcOpt, "maxrc", "True"},
	} {
		if o.on {
			if err := set(o.key, o.v); err != nil {
				return nil, err
			}
		}
	}
	for _, kv := range s.confOpts {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || set(k, v) != nil {
			return nil, &configError{mainSection, kv, "invalid -O/--option value"}
		}
	}
	return c, nil
}

// cfgdirRe is string.Template's pattern ($$, $name, ${name}, a lone $),
// compiled on first use: compiling a regexp at start-up costs every run
// of csub most of a millisecond in page faults.
var cfgdirRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)\$(?:(\$)|([_a-z][_a-z0-9]*)|\{([_a-z][_a-z0-9]*)\}|)`)
})

// readConfdir reads the *.conf files of [Main] confdir's directories
// ($CFGDIR is the directory of the last file read), each once.
func (c *clushConfig) readConfdir(cfgdir string) error {
	value, err := c.ini.Get(mainSection, "confdir")
	var nse *pyfmt.NoSectionError
	var noe *pyfmt.NoOptionError
	if errors.As(err, &nse) || errors.As(err, &noe) {
		return nil
	}
	if err != nil {
		return err
	}
	dirs, err := pyshlex.Split(value)
	if err != nil {
		return &pyError{err.Error()}
	}
	loaded := map[string]bool{}
	for _, dir := range dirs {
		re := cfgdirRe()
		dir = re.ReplaceAllStringFunc(dir, func(m string) string {
			switch sub := re.FindStringSubmatch(m); {
			case sub[1] != "":
				return "$"
			case sub[2] == "CFGDIR" || sub[3] == "CFGDIR":
				return cfgdir
			}
			return m
		})
		dir = filepath.Clean(dir)
		if loaded[dir] {
			continue
		}
		loaded[dir] = true
		if fi, err := os.Stat(dir); err != nil {
			continue
		} else if !fi.IsDir() {
			return &configError{msg: "Defined confdir " + dir + " is not a directory"}
		}
		names, _ := filepath.Glob(filepath.Join(dir, "*.conf"))
		for _, n := range names {
			if strings.HasPrefix(filepath.Base(n), ".") {
				continue // Python's glob skips hidden files
			}
			p, err := c.ini.Read(n)
			if err != nil {
				return err
			}
			c.parsed = append(c.parsed, p...)
		}
	}
	return nil
}

// modes lists the run modes, the [mode:NAME] sections.
func (c *clushConfig) modes() []string {
	var out []string
	for _, s := range c.ini.Sections() {
		if name, ok := strings.CutPrefix(s, "mode:"); ok {
			out = append(out, name)
		}
	}
	return out
}

// setMode is ClushConfig.set_mode.
func (c *clushConfig) setMode(mode string) error {
	if !slices.Contains(c.modes(), mode) {
		return &configError{msg: fmt.Sprintf("invalid mode \"%s\" (available: %s)", mode, strings.Join(c.modes(), " "))}
	}
	c.mode = mode
	return nil
}

// raw returns key from the active mode, unless the command line set it,
// then from [Main]; fromMode tells where it came from. ok is false when
// neither has it.
func (c *clushConfig) raw(key string) (v string, fromMode, ok bool, err error) {
	if c.mode != "" && !c.cmdline[key] {
		v, err := c.ini.Get("mode:"+c.mode, key)
		var noe *pyfmt.NoOptionError
		var nse *pyfmt.NoSectionError
		if err == nil || !errors.As(err, &noe) && !errors.As(err, &nse) {
			return v, true, err == nil, err
		}
	}
	v, err = c.ini.Get(mainSection, key)
	var noe *pyfmt.NoOptionError
	if errors.As(err, &noe) {
		return "", false, false, nil
	}
	return v, false, err == nil, err
}

// typed converts key's value with conv, reporting errors as clush does:
// wrapped with the key for [Main] (_getx), bare from a mode section.
func typed[T any](c *clushConfig, key string, mainOnly bool, conv func(string) (T, error)) (T, error) {
	var zero T
	var v string
	var fromMode, ok bool
	var err error
	if mainOnly {
		v, err = c.ini.Get(mainSection, key)
		ok = err == nil
	} else {
		v, fromMode, ok, err = c.raw(key)
	}
	if err == nil && !ok {
		err = &pyfmt.NoOptionError{Option: key, Section: mainSection}
	}
	if err == nil {
		var out T
		if out, err = conv(v); err == nil {
			return out, nil
		}
		if fromMode {
			return zero, &pyError{err.Error()}
		}
	}
	var pe *pyfmt.ConfigError
	if errors.As(err, &pe) {
		return zero, err // interpolation errors are configparser's own
	}
	return zero, &configError{mainSection, key, err.Error()}
}

func (c *clushConfig) getInt(key string, mainOnly bool) (int, error) {
	return typed(c, key, mainOnly, func(v string) (int, error) {
		n, err := pyfmt.ParseInt(v, 10)
		if err != nil {
			return 0, err
		}
		if !n.IsInt64() || n.Int64() > 1<<31 || n.Int64() < -1<<31 {
			return 0, fmt.Errorf("%s is out of range", v)
		}
		return int(n.Int64()), nil
	})
}

func (c *clushConfig) getFloat(key string) (float64, error) {
	return typed(c, key, false, pyfmt.ParseFloat)
}

func (c *clushConfig) getBool(key string) (bool, error) {
	return typed(c, key, false, func(v string) (bool, error) {
		switch strings.ToLower(v) {
		case "1", "yes", "true", "on":
			return true, nil
		case "0", "no", "false", "off":
			return false, nil
		}
		return false, errors.New("Not a boolean: " + v) //nolint:staticcheck // Python's message
	})
}

// optional is _get_mode_optional: "" when unset.
func (c *clushConfig) optional(key string) (string, error) {
	v, _, _, err := c.raw(key)
	return v, err
}

// verbosity is ClushConfig.verbosity: an unreadable value is 0.
func (c *clushConfig) verbosity() int {
	v, err := c.getInt("verbosity", true)
	if err != nil {
		return verbQuiet
	}
	return v
}

// color is ClushConfig.color: one of colorChoices.
func (c *clushConfig) color() (string, error) {
	v, err := c.optional("color")
	if err != nil {
		return "", err
	}
	if !slices.Contains(colorChoices, v) {
		sect := mainSection
		if c.mode != "" {
			sect = c.mode
		}
		return "", &configError{sect, "color", "choose from ['', 'never', 'always', 'auto']"}
	}
	return v, nil
}

// infoKeys are the clush.conf keys clush hands to its task as info keys,
// which the workers read.
var infoKeys = []string{"ssh_user", "ssh_path", "ssh_options", "scp_path", "scp_options", "rsh_path", "rcp_path", "rsh_options"}

// clushKeys are the other clush.conf keys: csub itself uses them. Any
// other -O key is a task info key for the agents' engines.
var clushKeys = []string{"fanout", "connect_timeout", "command_timeout", "history_size", "color", "verbosity",
	"node_count", "maxrc", "fd_max", "command_prefix", "password_prompt", "confdir"}

// info returns the task info keys of the job: those of infoKeys that are
// set, and the -O keys clush.conf does not know (ssh_config,
// ssh_known_hosts, USER_* ...).
func (c *clushConfig) info(s *settings) (map[string]string, error) {
	info := map[string]string{}
	for _, k := range infoKeys {
		v, err := c.optional(k)
		if err != nil {
			return nil, err
		}
		if v != "" {
			info[k] = v
		}
	}
	for _, kv := range s.confOpts {
		// Keys are kept as typed (USER_*), and compared as clush.conf
		// compares them, in lower case.
		k, v, _ := strings.Cut(kv, "=")
		if lk := strings.ToLower(k); !slices.Contains(infoKeys, lk) && !slices.Contains(clushKeys, lk) {
			info[k] = v
		}
	}
	return info, nil
}

// parsedRepr is the Python repr of the list of files read (-d).
func (c *clushConfig) parsedRepr() string {
	return pyListRepr(c.parsed)
}

// pyListRepr is repr() of a Python list of str.
func pyListRepr(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = pyfmt.ReprString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
