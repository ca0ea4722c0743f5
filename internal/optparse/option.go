package optparse

import (
	"slices"
	"strings"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

// Action is what an option does when it is seen on the command line; the
// values are optparse's action names.
type Action string

// The optparse actions.
const (
	// ActionStore stores the option's value (the default action).
	ActionStore Action = "store"
	// ActionStoreConst stores Option.Const.
	ActionStoreConst Action = "store_const"
	// ActionStoreTrue stores true.
	ActionStoreTrue Action = "store_true"
	// ActionStoreFalse stores false.
	ActionStoreFalse Action = "store_false"
	// ActionAppend appends the option's value to a list ([]any).
	ActionAppend Action = "append"
	// ActionAppendConst appends Option.Const to a list ([]any).
	ActionAppendConst Action = "append_const"
	// ActionCount increments an integer.
	ActionCount Action = "count"
	// ActionCallback calls Option.Callback.
	ActionCallback Action = "callback"
	// ActionHelp prints the help and exits with status 0.
	ActionHelp Action = "help"
	// ActionVersion prints the version and exits with status 0.
	ActionVersion Action = "version"
)

// The built-in option value types. Others can be added with
// Config.Types.
const (
	// TypeString keeps the value as a string.
	TypeString = "string"
	// TypeInt converts the value like optparse does: with Python's int()
	// and a radix chosen from a 0x, 0b or 0 prefix. Values are Go ints,
	// or *big.Int when they do not fit.
	TypeInt = "int"
	// TypeLong is an alias of TypeInt, as in optparse.
	TypeLong = "long"
	// TypeFloat converts the value with Python's float() to a float64.
	TypeFloat = "float"
	// TypeChoice accepts one of Option.Choices.
	TypeChoice = "choice"
)

// SuppressHelp, used as an Option's Help, hides the option from --help.
const SuppressHelp = "SUPPRESS" + "HELP"

// SuppressUsage, used as Config.Usage, disables the usage message.
const SuppressUsage = "SUPPRESS" + "USAGE"

// NoneType is the type of [None].
type NoneType struct{}

// None, used as an Option's Default, is an explicit Python None default
// (which overrides the default of an earlier option with the same Dest,
// unlike leaving Default nil). Values never contain None: they hold nil.
var None = NoneType{}

// Callback is the function an ActionCallback option calls, in order, when
// the option is seen: opt is the option, optStr the option string as seen
// on the command line (the full long option after abbreviation expansion),
// value the converted value (nil unless the option has a Type), and st the
// parsing state, which the callback may change (store values, consume
// st.Rargs, enable interspersed arguments on st.Parser...).
//
// A returned *OptionValueError or *BadOptionError is reported as a usage
// error; any other error stops Parse and is returned as is.
type Callback func(opt *Option, optStr string, value any, st *State) error

// Option describes one option, like the arguments of optparse's
// add_option(). The zero value of each field means the keyword argument was
// not given.
type Option struct {
	// Flags are the option strings: short ones ("-x") and long ones
	// ("--exclude"). At least one is required.
	Flags []string
	// Action defaults to ActionStore.
	Action Action
	// Type is the value type name; ActionStore and ActionAppend default
	// it to TypeChoice if Choices is set and to TypeString otherwise.
	Type string
	// Dest is the name under which the value is stored; it defaults to
	// the first long option string without its dashes (other dashes
	// becoming underscores), or to the letter of the first short one.
	Dest string
	// Default is the default value of Dest (nil: none given; use None for
	// an explicit Python None). String defaults are converted with the
	// option's type checker when parsing starts, as optparse does.
	Default any
	// Nargs is the number of arguments a valued option consumes
	// (default 1); with more than one, the value is a pyfmt.Tuple.
	Nargs int
	// Const is the value stored by ActionStoreConst and ActionAppendConst.
	Const any
	// Choices are the values a TypeChoice option accepts.
	Choices []string
	// Callback is called by ActionCallback.
	Callback Callback
	// Help is the help text ("%default" expands to the default value);
	// SuppressHelp hides the option.
	Help string
	// Metavar names the value in the help (default: Dest upper-cased).
	Metavar string

	shortOpts []string
	longOpts  []string
	container *container
}

// TakesValue reports whether the option consumes an argument.
func (o *Option) TakesValue() bool { return o.Type != "" }

// OptString returns the option's first long option string, or its first
// short one (optparse's get_opt_string()).
func (o *Option) OptString() string {
	if len(o.longOpts) > 0 {
		return o.longOpts[0]
	}
	return o.shortOpts[0]
}

// String returns the option strings joined by "/", as str(option) does.
func (o *Option) String() string {
	return strings.Join(append(append([]string(nil), o.shortOpts...), o.longOpts...), "/")
}

var storeActions = map[Action]bool{
	ActionStore: true, ActionStoreConst: true, ActionStoreTrue: true, ActionStoreFalse: true,
	ActionAppend: true, ActionAppendConst: true, ActionCount: true,
}

var typedActions = map[Action]bool{ActionStore: true, ActionAppend: true, ActionCallback: true}

var alwaysTypedActions = map[Action]bool{ActionStore: true, ActionAppend: true}

var constActions = map[Action]bool{ActionStoreConst: true, ActionAppendConst: true}

var knownActions = map[Action]bool{
	ActionStore: true, ActionStoreConst: true, ActionStoreTrue: true, ActionStoreFalse: true,
	ActionAppend: true, ActionAppendConst: true, ActionCount: true, ActionCallback: true,
	ActionHelp: true, ActionVersion: true,
}

// init validates and completes the option like optparse.Option.__init__
// does, given the set of known types.
func (o *Option) init(types map[string]Checker) *OptionError {
	o.Flags = slices.Clone(o.Flags)
	o.Choices = slices.Clone(o.Choices)
	var flags []string
	for _, f := range o.Flags {
		if f != "" {
			flags = append(flags, f)
		}
	}
	if len(flags) == 0 {
		return &OptionError{Msg: "at least one option string must be supplied"}
	}
	o.shortOpts, o.longOpts = nil, nil
	for _, opt := range flags {
		r := pyfmt.Decode(opt)
		switch {
		case len(r) < 2:
			return o.err("invalid option string " + pyfmt.ReprString(opt) +
				": must be at least two characters long")
		case len(r) == 2:
			if !(r[0] == '-' && r[1] != '-') {
				return o.err("invalid short option string " + pyfmt.ReprString(opt) +
					": must be of the form -x, (x any non-dash char)")
			}
			o.shortOpts = append(o.shortOpts, opt)
		default:
			if !(r[0] == '-' && r[1] == '-' && r[2] != '-') {
				return o.err("invalid long option string " + pyfmt.ReprString(opt) +
					": must start with --, followed by non-dash")
			}
			o.longOpts = append(o.longOpts, opt)
		}
	}

	// _check_action
	if o.Action == "" {
		o.Action = ActionStore
	} else if !knownActions[o.Action] {
		return o.err("invalid action: " + pyfmt.ReprString(string(o.Action)))
	}
	// _check_type
	if o.Type == "" {
		if alwaysTypedActions[o.Action] {
			if o.Choices != nil {
				o.Type = TypeChoice
			} else {
				o.Type = TypeString
			}
		}
	} else {
		if o.Type == "str" {
			o.Type = TypeString
		}
		if _, ok := types[o.Type]; !ok {
			return o.err("invalid option type: " + pyfmt.ReprString(o.Type))
		}
		if !typedActions[o.Action] {
			return o.err("must not supply a type for action " + pyfmt.ReprString(string(o.Action)))
		}
	}
	// _check_choice
	if o.Type == TypeChoice {
		if o.Choices == nil {
			return o.err("must supply a list of choices for type 'choice'")
		}
	} else if o.Choices != nil {
		t := "None"
		if o.Type != "" {
			t = pyfmt.ReprString(o.Type)
		}
		return o.err("must not supply choices for type " + t)
	}
	// _check_dest
	if o.Dest == "" && (storeActions[o.Action] || o.Type != "") {
		if len(o.longOpts) > 0 {
			o.Dest = strings.ReplaceAll(o.longOpts[0][2:], "-", "_")
		} else {
			o.Dest = string(pyfmt.Decode(o.shortOpts[0])[1:])
		}
	}
	// _check_const
	if !constActions[o.Action] && o.Const != nil {
		return o.err("'const' must not be supplied for action " + pyfmt.ReprString(string(o.Action)))
	}
	// _check_nargs
	if typedActions[o.Action] {
		if o.Nargs == 0 {
			o.Nargs = 1
		}
	} else if o.Nargs != 0 {
		return o.err("'nargs' must not be supplied for action " + pyfmt.ReprString(string(o.Action)))
	}
	// _check_callback
	if o.Action == ActionCallback {
		if o.Callback == nil {
			return o.err("callback not callable: None")
		}
	} else if o.Callback != nil {
		return o.err("callback supplied (<function>) for non-callback option")
	}
	return nil
}

func (o *Option) err(msg string) *OptionError {
	return &OptionError{OptionID: o.String(), Msg: msg}
}
