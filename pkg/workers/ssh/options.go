package ssh

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/workers/exec"
)

// logLevel is OpenSSH's LogLevel: which of its diagnostics are printed.
type logLevel int

const (
	logQuiet logLevel = iota
	logFatal
	logError
	logInfo
	logVerbose
	logDebug
)

var logLevels = map[string]logLevel{
	"quiet": logQuiet, "fatal": logFatal, "error": logError, "info": logInfo,
	"verbose": logVerbose, "debug": logDebug, "debug1": logDebug, "debug2": logDebug, "debug3": logDebug,
}

// options are the settings of one connection. Each comes from the first
// source that sets it, in OpenSSH's order: the command line (ssh_options),
// then the info keys and driver fields (which act like options given by
// the program), then the config files; IdentityFile accumulates.
type options struct {
	set map[string]bool // keywords already set: first value wins

	HostName              string
	Port                  int
	User                  string
	IdentityFiles         []string
	ProxyJump             string // "" when none
	ProxyCommand          string // "" when none
	ConnectTimeout        time.Duration
	StrictHostKeyChecking string // yes, no, ask or accept-new
	UserKnownHostsFiles   []string
	GlobalKnownHostsFiles []string
	HashKnownHosts        bool
	HostKeyAlias          string
	IdentitiesOnly        bool
	IdentityAgent         string
	LogLevel              logLevel
	// KexAlgorithms, Ciphers and MACs are what the connection offers;
	// nil offers x/crypto's defaults.
	KexAlgorithms, Ciphers, MACs []string
}

func newOptions() *options { return &options{set: make(map[string]bool), LogLevel: logInfo} }

// once reports whether kw is not set yet, and marks it set.
func (o *options) once(kw string) bool {
	if o.set[kw] {
		return false
	}
	o.set[kw] = true
	return true
}

// cmdlineKeys are the -o keywords ssh_options may hold: those the driver
// implements, plus a few that only restate what it always does.
var cmdlineKeys = []string{
	"HostName", "Port", "User", "IdentityFile", "ProxyJump", "ProxyCommand", "ConnectTimeout",
	"StrictHostKeyChecking", "UserKnownHostsFile", "GlobalKnownHostsFile", "HashKnownHosts",
	"HostKeyAlias", "IdentitiesOnly", "IdentityAgent", "LogLevel", "KexAlgorithms", "Ciphers", "MACs",
	"BatchMode", "ForwardAgent=no", "ForwardX11=no", "RequestTTY=no",
}

func parseYesNo(kw, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "yes", "true":
		return true, nil
	case "no", "false":
		return false, nil
	}
	return false, fmt.Errorf("unsupported %s value %q", kw, v)
}

// parseTime is OpenSSH's convtime: seconds, or a sum of numbers with
// s, m, h, d or w units ("1m30s").
func parseTime(v string) (time.Duration, error) {
	if strings.EqualFold(v, "none") {
		return 0, nil
	}
	var total time.Duration
	rest := strings.ToLower(v)
	if rest == "" {
		return 0, errors.New("empty time")
	}
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("invalid time value %q", v)
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil {
			return 0, fmt.Errorf("invalid time value %q", v)
		}
		unit := time.Second
		rest = rest[i:]
		if rest != "" {
			switch rest[0] {
			case 's':
			case 'm':
				unit = time.Minute
			case 'h':
				unit = time.Hour
			case 'd':
				unit = 24 * time.Hour
			case 'w':
				unit = 7 * 24 * time.Hour
			default:
				return 0, fmt.Errorf("invalid time value %q", v)
			}
			rest = rest[1:]
		}
		total += time.Duration(n) * unit
	}
	return total, nil
}

// apply applies one keyword (lower case) with its arguments; raw is the
// argument text as written, which ProxyCommand takes whole. From the
// command line (ssh_options' -o), keywords the driver does not implement
// are errors; from a config file they are ignored, since OpenSSH knows
// them and the same file must keep working with ssh.
func (o *options) apply(kw string, args []string, raw string, cmdline bool) error {
	if len(args) == 0 {
		if !cmdline && !slices.Contains(knownKeys, kw) {
			return nil
		}
		return fmt.Errorf("%s: missing argument", kw)
	}
	v := args[0]
	if field, ok := stringOptions[kw]; ok {
		if o.once(kw) {
			*field(o) = v
		}
		return nil
	}
	switch kw {
	case "port":
		p, err := strconv.Atoi(v)
		if err != nil || p <= 0 || p > 65535 {
			return fmt.Errorf("Bad port '%s'", v) //nolint:staticcheck // OpenSSH's message
		}
		if o.once(kw) {
			o.Port = p
		}
	case "identityfile":
		if !slices.Contains(o.IdentityFiles, v) {
			o.IdentityFiles = append(o.IdentityFiles, v)
		}
	case "proxyjump":
		// ProxyJump and ProxyCommand exclude each other: the first one
		// read wins, "none" included.
		if o.once("proxy") && !strings.EqualFold(v, "none") {
			o.ProxyJump = v
		}
	case "proxycommand":
		if raw == "" {
			raw = strings.Join(args, " ")
		}
		if o.once("proxy") && !strings.EqualFold(raw, "none") {
			o.ProxyCommand = raw
		}
	case "connecttimeout":
		d, err := parseTime(v)
		if err != nil {
			return fmt.Errorf("ConnectTimeout: %w", err)
		}
		if o.once(kw) {
			o.ConnectTimeout = d
		}
	case "stricthostkeychecking":
		var s string
		switch strings.ToLower(v) {
		case "yes", "true":
			s = "yes"
		case "no", "false", "off":
			s = "no"
		case "ask":
			s = "ask"
		case "accept-new":
			s = "accept-new"
		default:
			return fmt.Errorf("unsupported StrictHostKeyChecking value %q", v)
		}
		if o.once(kw) {
			o.StrictHostKeyChecking = s
		}
	case "userknownhostsfile":
		if o.once(kw) {
			o.UserKnownHostsFiles = slices.Clone(args)
		}
	case "globalknownhostsfile":
		if o.once(kw) {
			o.GlobalKnownHostsFiles = slices.Clone(args)
		}
	case "hashknownhosts", "identitiesonly":
		b, err := parseYesNo(kw, v)
		if err != nil {
			return err
		}
		if o.once(kw) {
			if kw == "hashknownhosts" {
				o.HashKnownHosts = b
			} else {
				o.IdentitiesOnly = b
			}
		}
	case "loglevel":
		l, ok := logLevels[strings.ToLower(v)]
		if !ok {
			return fmt.Errorf("unsupported LogLevel %q", v)
		}
		if o.once(kw) {
			o.LogLevel = l
		}
	case "kexalgorithms", "ciphers", "macs":
		list, err := parseAlgorithms(kw, v)
		if err != nil {
			return err
		}
		if o.once(kw) {
			switch kw {
			case "kexalgorithms":
				o.KexAlgorithms = list
			case "ciphers":
				o.Ciphers = list
			default:
				o.MACs = list
			}
		}
	case "batchmode":
		// Always in batch mode: nothing is ever prompted for.
	case "forwardagent", "forwardx11", "requesttty":
		if cmdline && !strings.EqualFold(v, "no") {
			return errUnsupported
		}
	default:
		if cmdline {
			return errUnsupported
		}
	}
	return nil
}

// stringOptions are the keywords whose value apply takes as it is, each
// with the field it sets.
var stringOptions = map[string]func(*options) *string{
	"hostname":      func(o *options) *string { return &o.HostName },
	"user":          func(o *options) *string { return &o.User },
	"hostkeyalias":  func(o *options) *string { return &o.HostKeyAlias },
	"identityagent": func(o *options) *string { return &o.IdentityAgent },
}

// knownKeys are the keywords apply implements (lower case).
var knownKeys = []string{
	"hostname", "port", "user", "identityfile", "proxyjump", "proxycommand", "connecttimeout",
	"stricthostkeychecking", "userknownhostsfile", "globalknownhostsfile", "hashknownhosts",
	"hostkeyalias", "identitiesonly", "identityagent", "loglevel", "kexalgorithms", "ciphers", "macs",
}

var errUnsupported = errors.New("unsupported option")

// applyKV applies a command-line keyword and value, the value split into
// arguments as a config line would be (quotes hold blanks).
func applyKV(o *options, kw, v string) error {
	words, raw, err := splitConfigLine("x " + v)
	if err != nil {
		return fmt.Errorf("%s: %w", kw, err)
	}
	return o.apply(kw, words[1:], raw, true)
}

// cmdLine is what ssh_options (or scp_options) says.
type cmdLine struct {
	config    string     // -F file
	hasConfig bool       // -F given
	opts      [][]string // keyword (lower case), then raw value, in order
	forceSCP  bool       // scp -O: use the scp protocol
	forceSFTP bool       // scp -s: use SFTP only
	preserve  bool       // scp -p
}

// unsupportedOption is the error for an option the native driver does not
// implement: it names the option and points to the openssh worker, which
// passes options to ssh itself.
func unsupportedOption(key, opt string, scp bool) error {
	flags := "-F, -i, -J, -l, -o, -p, -q, -T, -x, -a"
	if scp {
		flags = "-F, -i, -J, -o, -P, -q, -r, -p, -O, -s"
	}
	return &unsupportedError{fmt.Sprintf("%s: unsupported option %q: the native ssh worker understands %s and -o with %s; use the openssh worker for other options",
		key, opt, flags, strings.Join(cmdlineKeys, ", "))}
}

// unsupportedError is an option OpenSSH has and the driver does not: it
// matches ErrUnsupportedOption.
type unsupportedError struct{ msg string }

func (e *unsupportedError) Error() string        { return e.msg }
func (e *unsupportedError) Is(target error) bool { return target == ErrUnsupportedOption }

// parseCmdLine reads ssh_options words (scp_options words with scp) the
// way ssh's getopt would. key names the info key in errors.
func parseCmdLine(words []string, key string, scp bool) (*cmdLine, error) {
	cl := &cmdLine{}
	withArg := "FiJlop"
	noArg := "qTxa"
	if scp {
		withArg, noArg = "FiJoP", "qrpOs"
	}
	addKV := func(opt, kv string) error {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			k, v, _ = strings.Cut(strings.TrimSpace(kv), " ")
		}
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if k == "" || v == "" {
			return fmt.Errorf("%s: bad option %q (want -o Key=Value)", key, opt)
		}
		cl.opts = append(cl.opts, []string{k, v})
		return nil
	}
	for i := 0; i < len(words); i++ {
		w := words[i]
		if len(w) < 2 || w[0] != '-' || w == "--" {
			return nil, fmt.Errorf("%s: unexpected argument %q (only options are allowed)", key, w)
		}
		for j := 1; j < len(w); j++ {
			c := w[j]
			if strings.IndexByte(noArg, c) >= 0 {
				switch c {
				case 'q':
					cl.opts = append(cl.opts, []string{"loglevel", "QUIET"})
				case 'p': // scp: preserve
					cl.preserve = true
				case 'O':
					cl.forceSCP = true
				case 's':
					cl.forceSFTP = true
				}
				continue
			}
			if strings.IndexByte(withArg, c) < 0 {
				return nil, unsupportedOption(key, "-"+string(c), scp)
			}
			arg := w[j+1:]
			if arg == "" {
				if i+1 >= len(words) {
					return nil, fmt.Errorf("%s: option -%c needs an argument", key, c)
				}
				i++
				arg = words[i]
			}
			opt := "-" + string(c) + " " + arg
			switch c {
			case 'F':
				cl.config, cl.hasConfig = arg, true
			case 'i':
				cl.opts = append(cl.opts, []string{"identityfile", arg})
			case 'J':
				cl.opts = append(cl.opts, []string{"proxyjump", arg})
			case 'l':
				cl.opts = append(cl.opts, []string{"user", arg})
			case 'p', 'P':
				cl.opts = append(cl.opts, []string{"port", arg})
			case 'o':
				if err := addKV(opt, arg); err != nil {
					return nil, err
				}
			}
			if c != 'F' {
				// Check the value now, to name the option in the error.
				kv := cl.opts[len(cl.opts)-1]
				if err := applyKV(newOptions(), kv[0], kv[1]); err != nil {
					if errors.Is(err, errUnsupported) {
						return nil, unsupportedOption(key, opt, scp)
					}
					return nil, fmt.Errorf("%s: %s: %w", key, opt, err)
				}
			}
			break
		}
	}
	return cl, nil
}

// target is a resolved host: where to connect and how.
type target struct {
	*options
	Host string // the name as given (node name, jump host)
}

// addr is host:port for dialing.
func (t *target) addr() string {
	return joinHostPort(t.HostName, t.Port)
}

func joinHostPort(host string, port int) string {
	if strings.IndexByte(host, ':') >= 0 {
		return "[" + host + "]:" + strconv.Itoa(port)
	}
	return host + ":" + strconv.Itoa(port)
}

// resolver resolves the options of the hosts of one job.
type resolver struct {
	d          *Driver
	job        *engine.Job
	cl         *cmdLine
	configPath string // "" = default files, "none" = none
	configSet  bool
	localUser  string
	// defaultUser is Driver.User: the remote user when nothing else
	// names one.
	defaultUser string
	// overrides are the info keys and driver fields, applied after the
	// command line and before the config files, to every hop.
	overrides [][]string
}

// newResolver reads the job's info keys. For a copy, scp_user and
// scp_options come first and ssh_user and ssh_options are the fallback, as
// in ClusterShell; scp_options are read with scp's flags (-P port), while
// ssh_options keep ssh's even for a copy, since they were written for ssh.
func (d *Driver) newResolver(job *engine.Job) (*resolver, error) {
	r := &resolver{d: d, job: job, localUser: localUser()}
	optKey, userKey, scp := "ssh_options", "ssh_user", false
	if job.Copy != nil {
		if exec.InfoString(job.Info, "scp_options") != "" {
			optKey, scp = "scp_options", true
		}
		if exec.InfoString(job.Info, "scp_user") != "" {
			userKey = "scp_user"
		}
	}
	words, err := exec.SplitInfoArgs(job.Info, optKey, true)
	if err != nil {
		return nil, err
	}
	if r.cl, err = parseCmdLine(words, optKey, scp); err != nil {
		return nil, err
	}
	switch {
	case r.cl.hasConfig:
		r.configPath, r.configSet = r.cl.config, true
	case exec.InfoString(job.Info, "ssh_config") != "":
		r.configPath, r.configSet = exec.ExpandUser(exec.InfoString(job.Info, "ssh_config")), true
	case d.Config != "":
		r.configPath, r.configSet = d.Config, true
	}
	if u := exec.InfoString(job.Info, userKey); u != "" {
		r.overrides = append(r.overrides, []string{"user", u})
	}
	if v := exec.InfoString(job.Info, "ssh_known_hosts"); v != "" {
		r.overrides = append(r.overrides, []string{"userknownhostsfile", v})
	}
	if v := infoStrict(job.Info); v != "" {
		r.overrides = append(r.overrides, []string{"stricthostkeychecking", v})
	}
	if d.KnownHosts != "" {
		r.overrides = append(r.overrides, []string{"userknownhostsfile", d.KnownHosts})
	}
	if d.StrictHostKeyChecking != "" {
		r.overrides = append(r.overrides, []string{"stricthostkeychecking", d.StrictHostKeyChecking})
	}
	// The driver's default user is weaker than the config's User.
	r.defaultUser = d.User
	return r, nil
}

// infoStrict reads ssh_strict_host_key_checking: a string, or a bool
// (true is "yes", false "no").
func infoStrict(info func(string) (any, bool)) string {
	if info == nil {
		return ""
	}
	v, ok := info("ssh_strict_host_key_checking")
	if !ok || v == nil {
		return ""
	}
	if b, ok := v.(bool); ok {
		if b {
			return "yes"
		}
		return "no"
	}
	return exec.InfoString(info, "ssh_strict_host_key_checking")
}

func localUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	for _, k := range []string{"USER", "LOGNAME"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return "root"
}

// resolve computes the options of host. With first, the command line
// (ssh_options) applies; jump hosts get only the user and port of their
// ProxyJump spec, as OpenSSH's "ssh -W" for a hop gets only those.
func (r *resolver) resolve(host string, spec *jumpSpec) (*target, error) {
	o := newOptions()
	if spec == nil {
		for _, kv := range r.cl.opts {
			if err := applyKV(o, kv[0], kv[1]); err != nil {
				return nil, fmt.Errorf("ssh_options: %w", err)
			}
		}
	} else {
		if spec.user != "" {
			o.apply("user", []string{spec.user}, "", true) //nolint:errcheck // cannot fail
		}
		if spec.port != 0 {
			o.apply("port", []string{strconv.Itoa(spec.port)}, "", true) //nolint:errcheck // cannot fail
		}
	}
	for _, kv := range r.overrides {
		if err := applyKV(o, kv[0], kv[1]); err != nil {
			return nil, fmt.Errorf("%s: %w", kv[0], err)
		}
	}
	if r.job.ConnectTimeout > 0 && o.once("connecttimeout") {
		o.ConnectTimeout = r.job.ConnectTimeout
	}
	if err := r.readConfigs(host, o); err != nil {
		return nil, err
	}
	return r.finish(host, o)
}

// readConfigs applies the config files to o, with OpenSSH's final pass
// when a "Match final" asked for it.
func (r *resolver) readConfigs(host string, o *options) error {
	ev := &evaluator{d: r.d, host: host, localUser: r.localUser, o: o, debug: r.job.Debug}
	for pass := 0; pass < 2; pass++ {
		if err := r.evalConfigs(ev); err != nil {
			return err
		}
		if !ev.wantFinal || ev.final {
			return nil
		}
		ev.final = true
	}
	return nil
}

func (r *resolver) evalConfigs(ev *evaluator) error {
	if r.configSet {
		if strings.EqualFold(r.configPath, "none") {
			return nil
		}
		path := r.d.expandTilde(r.configPath)
		cf, err := r.d.loadConfig(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("Can't open user config file %s: No such file or directory", path) //nolint:staticcheck // OpenSSH's message
			}
			return err
		}
		return ev.evalFile(cf, true, 0)
	}
	if err := ev.evalPath(filepath.Join(r.d.home(), ".ssh", "config"), true, 0); err != nil {
		return err
	}
	return ev.evalPath(systemConfig, false, 0)
}

// systemConfig is OpenSSH's system-wide client configuration, read after
// the user's unless a config file is named (-F, ssh_config, Driver.Config).
const systemConfig = "/etc/ssh/ssh_config"

// finish fills in defaults and expands tokens and "~".
func (r *resolver) finish(host string, o *options) (*target, error) {
	t := &target{options: o, Host: host}
	if o.HostName == "" {
		o.HostName = host
	} else {
		o.HostName = expandHostName(o.HostName, host)
	}
	// OpenSSH lowercases the name it connects to (not the one it matched
	// config blocks with).
	o.HostName = strings.ToLower(o.HostName)
	if o.Port == 0 {
		o.Port = 22
	}
	if o.User == "" {
		o.User = r.defaultUser
		if o.User == "" {
			o.User = r.localUser
		}
	}
	if o.StrictHostKeyChecking == "" {
		o.StrictHostKeyChecking = "ask"
	}
	home := r.d.home()
	if !o.set["userknownhostsfile"] {
		o.UserKnownHostsFiles = []string{"~/.ssh/known_hosts", "~/.ssh/known_hosts2"}
	}
	if !o.set["globalknownhostsfile"] {
		o.GlobalKnownHostsFiles = []string{"/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"}
	}
	if len(o.IdentityFiles) == 0 {
		o.IdentityFiles = []string{"~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa"}
		o.set["defaultidentities"] = true
	}
	// The tokens are made when a value holds a '%': most configs have
	// none, and %l costs a system call.
	var tokenMap map[byte]string
	tokens := func() map[byte]string {
		if tokenMap == nil {
			l := r.d.shortHostname()
			tokenMap = map[byte]string{
				'%': "%", 'd': home, 'h': o.HostName, 'n': host, 'p': strconv.Itoa(o.Port),
				'r': o.User, 'u': r.localUser, 'l': l, 'L': l, 'i': strconv.Itoa(os.Getuid()),
				'k': knownHostsName(o, host),
			}
		}
		return tokenMap
	}
	var err error
	expandAll := func(kw string, list []string) []string {
		out := make([]string, 0, len(list))
		for _, p := range list {
			if strings.EqualFold(p, "none") && len(list) == 1 {
				return nil
			}
			var e string
			e, err = percentExpand(p, tokens)
			if err != nil {
				err = fmt.Errorf("%s %s: %w", kw, p, err)
				return nil
			}
			out = append(out, r.d.expandTilde(os.Expand(e, envOrKeep)))
		}
		return out
	}
	o.IdentityFiles = expandAll("IdentityFile", o.IdentityFiles)
	if err == nil {
		o.UserKnownHostsFiles = expandAll("UserKnownHostsFile", o.UserKnownHostsFiles)
	}
	if err == nil {
		o.GlobalKnownHostsFiles = expandAll("GlobalKnownHostsFile", o.GlobalKnownHostsFiles)
	}
	if err == nil && o.IdentityAgent != "" && !strings.EqualFold(o.IdentityAgent, "none") && o.IdentityAgent != "SSH_AUTH_SOCK" {
		var v string
		if strings.HasPrefix(o.IdentityAgent, "$") {
			v = os.Getenv(strings.Trim(o.IdentityAgent[1:], "{}"))
		} else if v, err = percentExpand(o.IdentityAgent, tokens); err == nil {
			v = r.d.expandTilde(v)
		}
		o.IdentityAgent = v
		if v == "" {
			o.IdentityAgent = "none"
		}
	}
	if err == nil && o.ProxyCommand != "" {
		o.ProxyCommand, err = percentExpand(o.ProxyCommand, tokens)
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// knownHostsName is the name OpenSSH looks host keys up by (%k).
func knownHostsName(o *options, host string) string {
	if o.HostKeyAlias != "" {
		return o.HostKeyAlias
	}
	if o.HostName != "" {
		return o.HostName
	}
	return host
}

func envOrKeep(k string) string {
	if v, ok := os.LookupEnv(k); ok {
		return v
	}
	return "${" + k + "}"
}

func shortHostname() string {
	h, _ := os.Hostname()
	if i := strings.IndexByte(h, '.'); i >= 0 {
		return h[:i]
	}
	return h
}

// percentExpand expands OpenSSH's %-tokens, which tokens makes when s
// holds one; an unknown token is an error, as in OpenSSH.
func percentExpand(s string, makeTokens func() map[byte]string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	tokens := makeTokens()
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 >= len(s) {
			return "", errors.New("invalid format: trailing %")
		}
		v, ok := tokens[s[i+1]]
		if !ok {
			return "", fmt.Errorf("unknown key %%%c", s[i+1])
		}
		b.WriteString(v)
		i++
	}
	return b.String(), nil
}

// jumpSpec is one hop of a ProxyJump list: [user@]host[:port] or
// ssh://[user@]host[:port].
type jumpSpec struct {
	user, host string
	port       int
}

func parseJumps(v string) ([]jumpSpec, error) {
	var hops []jumpSpec
	for part := range strings.SplitSeq(v, ",") {
		part = strings.TrimSpace(part)
		part = strings.TrimPrefix(part, "ssh://")
		if part == "" {
			return nil, fmt.Errorf("invalid ProxyJump %q", v)
		}
		var s jumpSpec
		if i := strings.LastIndexByte(part, '@'); i >= 0 {
			s.user, part = part[:i], part[i+1:]
		}
		host, port := part, ""
		if strings.HasPrefix(part, "[") {
			end := strings.IndexByte(part, ']')
			if end < 0 {
				return nil, fmt.Errorf("invalid ProxyJump %q", v)
			}
			host, port = part[1:end], strings.TrimPrefix(part[end+1:], ":")
		} else if i := strings.IndexByte(part, ':'); i >= 0 {
			host, port = part[:i], part[i+1:]
		}
		if host == "" {
			return nil, fmt.Errorf("invalid ProxyJump %q", v)
		}
		if port != "" {
			p, err := strconv.Atoi(port)
			if err != nil || p <= 0 || p > 65535 {
				return nil, fmt.Errorf("invalid ProxyJump %q: bad port %q", v, port)
			}
			s.port = p
		}
		s.host = host
		hops = append(hops, s)
	}
	return hops, nil
}

// maxHops bounds a ProxyJump chain, which a config could make circular.
const maxHops = 8

// chain resolves node and the jump hosts before it: the hops in dialing
// order, node last. The first hop's own ProxyJump (from its config) is
// followed, as OpenSSH's "ssh -W" for that hop would; later hops are
// reached through the previous ones whatever their config says.
func (r *resolver) chain(node string) ([]*target, error) {
	t, err := r.resolve(node, nil)
	if err != nil {
		return nil, err
	}
	hops := []*target{t}
	for hops[0].ProxyJump != "" {
		specs, err := parseJumps(hops[0].ProxyJump)
		if err != nil {
			return nil, err
		}
		if len(hops)+len(specs) > maxHops {
			return nil, fmt.Errorf("ProxyJump chain longer than %d hops (a loop?)", maxHops)
		}
		prev := make([]*target, 0, len(specs))
		for i := range specs {
			h, err := r.resolve(specs[i].host, &specs[i])
			if err != nil {
				return nil, fmt.Errorf("jump host %s: %w", specs[i].host, err)
			}
			if i > 0 {
				h.ProxyJump, h.ProxyCommand = "", ""
			}
			prev = append(prev, h)
		}
		hops = append(prev, hops...)
	}
	return hops, nil
}
