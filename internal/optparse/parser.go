package optparse

import (
	"errors"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

// Config holds the arguments of optparse.OptionParser(); the zero value of
// each field means the keyword argument was not given.
type Config struct {
	// Usage is the usage text; "%prog" expands to the program name and a
	// leading "usage: " (any case) is dropped. Empty means
	// "%prog [options]"; SuppressUsage means no usage at all.
	Usage string
	// Prog is the program name; empty means the base name of os.Args[0].
	Prog string
	// Version is the version text ("%prog" expands); when set, a
	// --version option is added.
	Version string
	// Description is a paragraph printed, wrapped, after the usage.
	Description string
	// Epilog is a paragraph printed, wrapped, after the options.
	Epilog string
	// NoHelpOption disables the -h/--help option (add_help_option=False).
	NoHelpOption bool
	// ConflictResolve selects the "resolve" conflict handler: a new
	// option takes over option strings of earlier ones instead of making
	// AddOption panic.
	ConflictResolve bool
	// Types registers custom option types, like adding entries to an
	// Option subclass' TYPES and TYPE_CHECKER.
	Types map[string]Checker
	// Formatter formats the help; nil means NewHelpFormatter(0).
	Formatter *HelpFormatter
	// Stdout receives the help and version; nil means os.Stdout.
	Stdout io.Writer
	// Stderr receives usage errors; nil means os.Stderr.
	Stderr io.Writer
}

// container holds what optparse's OptionContainer holds.
type container struct {
	parser      *Parser
	options     []*Option
	description string
}

// Parser is an optparse.OptionParser. It is not safe for concurrent use.
type Parser struct {
	container

	usage           string
	hasUsage        bool
	prog            string
	version         string
	epilog          string
	conflictResolve bool
	interspersed    bool
	formatter       *HelpFormatter
	stdout, stderr  io.Writer

	types    map[string]Checker
	groups   []*Group
	short    map[string]*Option
	long     map[string]*Option
	defaults map[string]any
	defOrder []string
}

// Group is an optparse.OptionGroup: options listed under their own
// heading in the help.
type Group struct {
	container
	// Title is the group heading.
	Title string
}

// New returns a parser configured by cfg, with its --version and
// -h/--help options added as optparse does.
func New(cfg Config) *Parser {
	p := &Parser{
		prog:            cfg.Prog,
		version:         cfg.Version,
		epilog:          cfg.Epilog,
		conflictResolve: cfg.ConflictResolve,
		interspersed:    true,
		formatter:       cfg.Formatter,
		stdout:          cfg.Stdout,
		stderr:          cfg.Stderr,
		types:           builtinTypes(),
		short:           make(map[string]*Option),
		long:            make(map[string]*Option),
		defaults:        make(map[string]any),
	}
	p.parser = p
	p.description = cfg.Description
	if p.prog == "" && len(os.Args) > 0 {
		p.prog = Basename(os.Args[0])
	}
	if p.formatter == nil {
		p.formatter = NewHelpFormatter(0)
	}
	if p.stdout == nil {
		p.stdout = os.Stdout
	}
	if p.stderr == nil {
		p.stderr = os.Stderr
	}
	for name, c := range cfg.Types {
		p.types[name] = c
	}
	p.SetUsage(cfg.Usage)
	if p.version != "" {
		p.AddOption(Option{Flags: []string{"--version"}, Action: ActionVersion,
			Help: "show program's version number and exit"})
	}
	if !cfg.NoHelpOption {
		p.AddOption(Option{Flags: []string{"-h", "--help"}, Action: ActionHelp,
			Help: "show this help message and exit"})
	}
	return p
}

// Basename returns the last element of a slash-separated path like
// Python's os.path.basename (so "dir/" gives "").
func Basename(path string) string {
	return path[strings.LastIndexByte(path, '/')+1:]
}

// SetUsage sets the usage text, as Config.Usage.
func (p *Parser) SetUsage(usage string) {
	switch {
	case usage == "":
		p.usage, p.hasUsage = "%prog [options]", true
	case usage == SuppressUsage:
		p.usage, p.hasUsage = "", false
	case strings.HasPrefix(strings.ToLower(usage), "usage: "):
		p.usage = runesString(pyfmt.Decode(usage)[7:])
		p.hasUsage = p.usage != ""
	default:
		p.usage, p.hasUsage = usage, true
	}
}

// EnableInterspersedArgs lets options follow positional arguments (the
// default); a Callback may call it to take effect immediately.
func (p *Parser) EnableInterspersedArgs() { p.interspersed = true }

// DisableInterspersedArgs makes parsing stop at the first positional
// argument, leaving it and everything after it as arguments.
func (p *Parser) DisableInterspersedArgs() { p.interspersed = false }

func (p *Parser) setDefault(dest string, value any) {
	if _, ok := p.defaults[dest]; !ok {
		p.defOrder = append(p.defOrder, dest)
	}
	if _, isNone := value.(NoneType); isNone {
		value = nil
	}
	p.defaults[dest] = value
}

// AddGroup adds an option group titled title, with an optional
// description, and returns it (add_option_group).
func (p *Parser) AddGroup(title, description string) *Group {
	g := &Group{container: container{parser: p, description: description}, Title: title}
	p.groups = append(p.groups, g)
	return g
}

// AddOption adds an option to the parser and returns it, completed (Type,
// Dest and Nargs defaults). It panics with an *OptionError if the option
// definition is invalid or conflicts with an existing option.
func (p *Parser) AddOption(o Option) *Option { return p.container.add(o) }

// AddOption adds an option to the group; see Parser.AddOption.
func (g *Group) AddOption(o Option) *Option { return g.container.add(o) }

func (c *container) add(o Option) *Option {
	p := c.parser
	opt := &o
	if err := opt.init(p.types); err != nil {
		panic(err)
	}
	// _check_conflict
	var conflicts []string
	var owners []*Option
	for _, s := range opt.shortOpts {
		if other, ok := p.short[s]; ok {
			conflicts, owners = append(conflicts, s), append(owners, other)
		}
	}
	for _, s := range opt.longOpts {
		if other, ok := p.long[s]; ok {
			conflicts, owners = append(conflicts, s), append(owners, other)
		}
	}
	if len(conflicts) > 0 {
		if !p.conflictResolve {
			panic(opt.err("conflicting option string(s): " + strings.Join(conflicts, ", ")))
		}
		for i, s := range conflicts {
			other := owners[i]
			if strings.HasPrefix(s, "--") {
				other.longOpts = remove(other.longOpts, s)
				delete(p.long, s)
			} else {
				other.shortOpts = remove(other.shortOpts, s)
				delete(p.short, s)
			}
			if len(other.shortOpts) == 0 && len(other.longOpts) == 0 {
				oc := other.container
				for j, x := range oc.options {
					if x == other {
						oc.options = append(oc.options[:j:j], oc.options[j+1:]...)
						break
					}
				}
			}
		}
	}
	c.options = append(c.options, opt)
	opt.container = c
	for _, s := range opt.shortOpts {
		p.short[s] = opt
	}
	for _, s := range opt.longOpts {
		p.long[s] = opt
	}
	if opt.Dest != "" {
		if opt.Default != nil {
			p.setDefault(opt.Dest, opt.Default)
		} else if _, ok := p.defaults[opt.Dest]; !ok {
			p.setDefault(opt.Dest, nil)
		}
	}
	return opt
}

func remove(list []string, s string) []string {
	for i, x := range list {
		if x == s {
			return append(list[:i:i], list[i+1:]...)
		}
	}
	return list
}

// allOptions returns the parser's options followed by its groups' ones.
func (p *Parser) allOptions() []*Option {
	all := append([]*Option(nil), p.options...)
	for _, g := range p.groups {
		all = append(all, g.options...)
	}
	return all
}

// DefaultValues returns the Values parsing starts with
// (get_default_values): the defaults, string ones being converted by
// their option's type checker. An error from a checker is returned as is
// (Python would raise it as an uncaught exception).
func (p *Parser) DefaultValues() (*Values, error) {
	defaults := make(map[string]any, len(p.defaults))
	for k, v := range p.defaults {
		defaults[k] = copyValue(v)
	}
	for _, o := range p.allOptions() {
		if o.Dest == "" {
			continue
		}
		if s, ok := defaults[o.Dest].(string); ok {
			v, err := o.checkValue(p, o.OptString(), s)
			if err != nil {
				return nil, err
			}
			defaults[o.Dest] = v
		}
	}
	v := &Values{m: make(map[string]any)}
	for _, k := range p.defOrder {
		v.Set(k, defaults[k])
	}
	return v, nil
}

// State is the parsing state handed to callbacks (optparse keeps it in
// the parser's rargs, largs and values attributes).
type State struct {
	// Parser is the parser at work.
	Parser *Parser
	// Values are the values parsed so far.
	Values *Values
	// Rargs are the arguments still to be parsed.
	Rargs []string
	// Largs are the positional arguments set aside so far (always empty
	// while interspersed arguments are disabled).
	Largs []string
}

// Parse parses args (the command line without the program name) and
// returns the option values and the remaining positional arguments.
//
// On a usage error it writes the usage and "prog: error: msg" to the
// parser's Stderr and returns an *ExitError with Status 2; after printing
// the help or the version it returns an *ExitError with Status 0. Other
// errors (from a Callback or a Checker not returning *OptionValueError, or
// from default values) are returned as they are, nothing being printed.
func (p *Parser) Parse(args []string) (*Values, []string, error) {
	values, err := p.DefaultValues()
	if err != nil {
		return nil, nil, err
	}
	return p.ParseValues(args, values)
}

// ParseValues is Parse starting from the given values instead of the
// defaults (parse_args(args, values)).
func (p *Parser) ParseValues(args []string, values *Values) (*Values, []string, error) {
	st := &State{Parser: p, Values: values, Rargs: append([]string(nil), args...), Largs: []string{}}
	if err := p.processArgs(st); err != nil {
		var ue *usageError
		var ve *OptionValueError
		var be *BadOptionError
		var ae *AmbiguousOptionError
		var ee *ExitError
		switch {
		case errors.As(err, &ee):
			return nil, nil, ee
		case errors.As(err, &ue), errors.As(err, &ve), errors.As(err, &be), errors.As(err, &ae):
			return nil, nil, p.Error(err.Error())
		}
		return nil, nil, err
	}
	return values, append(st.Largs, st.Rargs...), nil
}

func (p *Parser) processArgs(st *State) error {
	for len(st.Rargs) > 0 {
		arg := st.Rargs[0]
		var err error
		switch {
		case arg == "--":
			st.Rargs = st.Rargs[1:]
			return nil
		case strings.HasPrefix(arg, "--"):
			err = p.processLongOpt(st)
		case strings.HasPrefix(arg, "-") && len(arg) > 1:
			err = p.processShortOpts(st)
		case p.interspersed:
			st.Largs = append(st.Largs, arg)
			st.Rargs = st.Rargs[1:]
		default:
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// MatchLongOpt returns the long option string that s is an unambiguous
// prefix of (or equal to), like optparse's _match_abbrev.
func (p *Parser) MatchLongOpt(s string) (string, error) {
	if _, ok := p.long[s]; ok {
		return s, nil
	}
	sr := pyfmt.Decode(s)
	var possibilities []string
	for word := range p.long {
		wr := pyfmt.Decode(word)
		if len(wr) >= len(sr) && sameRunes(wr[:len(sr)], sr) {
			possibilities = append(possibilities, word)
		}
	}
	switch len(possibilities) {
	case 1:
		return possibilities[0], nil
	case 0:
		return "", &BadOptionError{OptStr: s}
	}
	sort.Slice(possibilities, func(i, j int) bool {
		return lessRunes(pyfmt.Decode(possibilities[i]), pyfmt.Decode(possibilities[j]))
	})
	return "", &AmbiguousOptionError{OptStr: s, Possibilities: possibilities}
}

func sameRunes(a, b []rune) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func lessRunes(a, b []rune) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}

func requiresArgs(opt string, nargs int) error {
	if nargs == 1 {
		return &usageError{opt + " option requires 1 argument"}
	}
	return &usageError{opt + " option requires " + strconv.Itoa(nargs) + " arguments"}
}

func (p *Parser) processLongOpt(st *State) error {
	arg := st.Rargs[0]
	st.Rargs = st.Rargs[1:]
	opt := arg
	explicit := false
	if i := strings.IndexByte(arg, '='); i >= 0 {
		opt = arg[:i]
		st.Rargs = append([]string{arg[i+1:]}, st.Rargs...)
		explicit = true
	}
	opt, err := p.MatchLongOpt(opt)
	if err != nil {
		return err
	}
	option := p.long[opt]
	var value any
	if option.TakesValue() {
		if len(st.Rargs) < option.Nargs {
			return requiresArgs(opt, option.Nargs)
		}
		value = takeArgs(st, option.Nargs)
	} else if explicit {
		return &usageError{opt + " option does not take a value"}
	}
	return p.process(option, opt, value, st)
}

// takeArgs pops nargs arguments: a string for 1, a pyfmt.Tuple otherwise.
func takeArgs(st *State, nargs int) any {
	if nargs == 1 {
		v := st.Rargs[0]
		st.Rargs = st.Rargs[1:]
		return v
	}
	t := make(pyfmt.Tuple, nargs)
	for i := range t {
		t[i] = st.Rargs[i]
	}
	st.Rargs = st.Rargs[nargs:]
	return t
}

func (p *Parser) processShortOpts(st *State) error {
	arg := pyfmt.Decode(st.Rargs[0])
	st.Rargs = st.Rargs[1:]
	i := 1
	for _, ch := range arg[1:] {
		opt := "-" + runesString([]rune{ch})
		option := p.short[opt]
		i++
		if option == nil {
			return &BadOptionError{OptStr: opt}
		}
		var value any
		stop := false
		if option.TakesValue() {
			if i < len(arg) {
				st.Rargs = append([]string{runesString(arg[i:])}, st.Rargs...)
				stop = true
			}
			if len(st.Rargs) < option.Nargs {
				return requiresArgs(opt, option.Nargs)
			}
			value = takeArgs(st, option.Nargs)
		}
		if err := p.process(option, opt, value, st); err != nil {
			return err
		}
		if stop {
			break
		}
	}
	return nil
}

// runesString encodes code points obtained from pyfmt.Decode back to the
// original bytes.
func runesString(r []rune) string {
	s, err := pyfmt.Encode(r)
	if err != nil {
		return string(r)
	}
	return s
}

// checkValue converts a raw string value with the option's type checker.
func (o *Option) checkValue(p *Parser, optStr, value string) (any, error) {
	c := p.types[o.Type]
	if c == nil {
		return value, nil
	}
	return c(o, optStr, value)
}

// convertValue converts a raw value: a string, or a pyfmt.Tuple of them
// when Nargs > 1 (Option.convert_value).
func (o *Option) convertValue(p *Parser, optStr string, raw any) (any, error) {
	switch v := raw.(type) {
	case nil:
		return nil, nil
	case string:
		return o.checkValue(p, optStr, v)
	case pyfmt.Tuple:
		out := make(pyfmt.Tuple, len(v))
		for i, x := range v {
			c, err := o.checkValue(p, optStr, x.(string))
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	}
	return raw, nil
}

// process converts the raw value and takes the option's action
// (Option.process and Option.take_action).
func (p *Parser) process(o *Option, optStr string, raw any, st *State) error {
	value, err := o.convertValue(p, optStr, raw)
	if err != nil {
		return err
	}
	values := st.Values
	switch o.Action {
	case ActionStore:
		values.Set(o.Dest, value)
	case ActionStoreConst:
		values.Set(o.Dest, noneToNil(o.Const))
	case ActionStoreTrue:
		values.Set(o.Dest, true)
	case ActionStoreFalse:
		values.Set(o.Dest, false)
	case ActionAppend, ActionAppendConst:
		if o.Action == ActionAppendConst {
			value = noneToNil(o.Const)
		}
		switch l := values.EnsureValue(o.Dest, []any{}).(type) {
		case []any:
			values.Set(o.Dest, append(l, value))
		case []string:
			nl := make([]any, 0, len(l)+1)
			for _, s := range l {
				nl = append(nl, s)
			}
			values.Set(o.Dest, append(nl, value))
		default:
			return &pyfmt.Error{Kind: "AttributeError",
				Msg: "'" + pyfmt.TypeName(l) + "' object has no attribute 'append'"}
		}
	case ActionCount:
		n, err := addOne(values.EnsureValue(o.Dest, 0))
		if err != nil {
			return err
		}
		values.Set(o.Dest, n)
	case ActionCallback:
		return o.Callback(o, optStr, value, st)
	case ActionHelp:
		p.PrintHelp(p.stdout)
		return &ExitError{Status: 0}
	case ActionVersion:
		p.PrintVersion(p.stdout)
		return &ExitError{Status: 0}
	}
	return nil
}

func noneToNil(v any) any {
	if _, ok := v.(NoneType); ok {
		return nil
	}
	return v
}

// addOne computes x + 1 for the count action.
func addOne(x any) (any, error) {
	switch t := x.(type) {
	case int:
		if t == int(^uint(0)>>1) {
			return nil, &pyfmt.Error{Kind: "OverflowError", Msg: "count overflow"}
		}
		return t + 1, nil
	case bool:
		if t {
			return 2, nil
		}
		return 1, nil
	case float64:
		return t + 1, nil
	}
	return nil, &pyfmt.Error{Kind: "TypeError",
		Msg: "unsupported operand type(s) for +: '" + pyfmt.TypeName(x) + "' and 'int'"}
}

// Error reports a usage error like optparse's OptionParser.error(): it
// writes the usage and "prog: error: msg" to the parser's Stderr and
// returns an *ExitError with Status 2, with which the caller should exit.
func (p *Parser) Error(msg string) error {
	var b strings.Builder
	if p.hasUsage {
		b.WriteString(p.Usage())
		b.WriteString("\n")
	}
	b.WriteString(p.prog + ": error: " + msg + "\n")
	io.WriteString(p.stderr, pyfmt.BackslashReplace(b.String()))
	return &ExitError{Status: 2, Message: msg}
}

// expandProg replaces "%prog" with the program name.
func (p *Parser) expandProg(s string) string { return strings.ReplaceAll(s, "%prog", p.prog) }

// Usage returns the formatted usage, "Usage: ...\n", or "" when usage is
// suppressed (get_usage).
func (p *Parser) Usage() string {
	if !p.hasUsage {
		return ""
	}
	return p.formatter.formatUsage(p.expandProg(p.usage))
}

// Version returns the version text with "%prog" expanded, or "".
func (p *Parser) Version() string { return p.expandProg(p.version) }

// PrintVersion writes the version and a newline to w, if there is a
// version.
func (p *Parser) PrintVersion(w io.Writer) {
	if p.version != "" {
		io.WriteString(w, p.Version()+"\n")
	}
}

// PrintHelp writes the full help to w.
func (p *Parser) PrintHelp(w io.Writer) { io.WriteString(w, p.FormatHelp()) }
