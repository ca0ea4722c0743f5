// Package clispec describes a command line — its options, subcommands,
// environment variables, files and exit statuses — as data, so that one
// generator (internal/mangen) renders the man pages and shell completion
// of fleetsh's five commands from the very declarations they parse with
// (internal/optparse for csub, nodeset and clubak; package flag for
// coordinator and agent).
//
// Each command prints its Spec as JSON when its only argument is Flag
// (hidden from --help: it is for the generator, not for users).
package clispec

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/fleetsh/fleetsh/internal/optparse"
)

// Flag is the hidden argument that makes a command print its Spec.
const Flag = "--help-spec"

// Spec is a command's command line.
type Spec struct {
	// Name is the program name; Summary its one-line purpose (man's NAME).
	Name, Summary string
	// Synopsis lists the ways to run the command, one per line, without
	// the program name.
	Synopsis []string
	// Description is a list of paragraphs.
	Description []string
	// Groups are the options, by group (the first may be untitled).
	Groups []Group
	// Subcommands are the command's verbs (csub jobs, coordinator site).
	Subcommands []Subcommand `json:",omitempty"`
	// Env lists the environment variables the command reads.
	Env []Item `json:",omitempty"`
	// Files lists the files the command reads or writes by default.
	Files []Item `json:",omitempty"`
	// Exit lists the exit statuses.
	Exit []Item `json:",omitempty"`
	// SeeAlso names related pages, as "nodeset(1)".
	SeeAlso []string `json:",omitempty"`
	// Operands says what completes the arguments that are not options:
	// CompleteCommand, CompleteNodes or "" (nothing).
	Operands string `json:",omitempty"`
}

// Group is a titled list of options.
type Group struct {
	Title   string
	Options []Option
}

// Option is one option.
type Option struct {
	// Flags are its option strings, short ones first.
	Flags []string
	// Value names its value ("" when it takes none).
	Value string `json:",omitempty"`
	// Help says what it does.
	Help string
	// Choices are the values it accepts, when they are a fixed list
	// (completion offers them).
	Choices []string `json:",omitempty"`
	// Complete says what completes its value when Choices does not (one
	// of the Complete* constants, "" for nothing).
	Complete string `json:",omitempty"`
}

// What completes an option's value.
const (
	// CompleteFile completes file names.
	CompleteFile = "file"
	// CompleteDir completes directory names.
	CompleteDir = "dir"
	// CompleteNodes completes node sets: "@" and group names from
	// `nodeset -L`.
	CompleteNodes = "nodes"
	// CompleteGroups completes group names from `nodeset -l`.
	CompleteGroups = "groups"
	// CompleteSources completes group sources from `nodeset --groupsources`.
	CompleteSources = "sources"
	// CompleteCommand completes, as the first operand, a subcommand or a
	// command name, then file names.
	CompleteCommand = "command"
)

// Subcommand is one verb of a command.
type Subcommand struct {
	// Name is the verb ("jobs", "site add-user").
	Name string
	// Synopsis is how to run it, without the program name.
	Synopsis string
	// Help says what it does.
	Help string
	// Options are its own options, if it has any beyond the command's.
	Options []Option `json:",omitempty"`
}

// Item is a named entry of a list: an environment variable, a file, an
// exit status.
type Item struct {
	Name, Help string
}

// Serve prints the Spec spec builds to w and reports true when args is
// exactly Flag; otherwise it does nothing and reports false.
func Serve(args []string, w io.Writer, spec func() Spec) bool {
	if len(args) != 1 || args[0] != Flag {
		return false
	}
	b, err := json.MarshalIndent(spec(), "", "  ")
	if err != nil {
		panic(fmt.Sprintf("clispec: %v", err)) // plain data: cannot fail
	}
	_, _ = w.Write(append(b, '\n'))
	return true
}

// Decode reads a Spec printed by Serve.
func Decode(data []byte) (Spec, error) {
	var s Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return Spec{}, fmt.Errorf("clispec: %w", err)
	}
	return s, nil
}

// FromOptparse returns p's options by group, as --help lists them;
// complete maps an option string ("-w") to what completes its value.
func FromOptparse(p *optparse.Parser, complete map[string]string) []Group {
	var groups []Group
	for _, e := range p.HelpEntries() {
		if len(groups) == 0 || groups[len(groups)-1].Title != e.Group {
			groups = append(groups, Group{Title: e.Group})
		}
		o := Option{Flags: append(e.Short, e.Long...), Value: e.Metavar, Help: e.Help, Choices: e.Choices}
		for _, f := range o.Flags {
			if c, ok := complete[f]; ok && o.Value != "" {
				o.Complete = c
			}
		}
		g := &groups[len(groups)-1]
		g.Options = append(g.Options, o)
	}
	return groups
}

// FromFlagSet returns fs's flags in its order (by name), with "--" as the
// fleet daemons document them; the value is named as -h names it (the
// back-quoted word of the usage, else the type). complete maps a flag
// name ("config") to what completes its value.
func FromFlagSet(fs *flag.FlagSet, complete map[string]string) []Option {
	var opts []Option
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		o := Option{Flags: []string{"--" + f.Name}, Help: usage, Complete: complete[f.Name]}
		if !isBool(f) {
			if name == "" {
				name = "value"
			}
			o.Value = name
			if f.DefValue != "" && !isZero(f) {
				o.Help += " (default " + quoteDefault(f) + ")"
			}
		} else if f.DefValue == "true" {
			o.Help += " (default true; --" + f.Name + "=false turns it off)"
		}
		opts = append(opts, o)
	})
	return opts
}

// isBool tells a flag that takes no value (flag's boolFlag).
func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// isZero tells whether f's default is its type's zero value, which -h
// leaves out (as flag.isZeroValue).
func isZero(f *flag.Flag) bool {
	t := reflect.TypeOf(f.Value)
	var z reflect.Value
	if t.Kind() == reflect.Pointer {
		z = reflect.New(t.Elem())
	} else {
		z = reflect.Zero(t)
	}
	v, ok := z.Interface().(flag.Value)
	return ok && f.DefValue == v.String()
}

// quoteDefault writes a string flag's default quoted, as -h does.
func quoteDefault(f *flag.Flag) string {
	if strings.HasSuffix(reflect.TypeOf(f.Value).String(), "stringValue") {
		return fmt.Sprintf("%q", f.DefValue)
	}
	return f.DefValue
}

// GroupsFiles are the files of node groups, which csub, nodeset and
// clubak read as ClusterShell does (pkg/nodeset.DefaultConfigPaths).
func GroupsFiles() []Item {
	return []Item{
		{Name: "/etc/clustershell/groups.conf", Help: "node groups sources (also ~/.local/etc/clustershell/, $XDG_CONFIG_HOME/clustershell/, $CLUSTERSHELL_CFGDIR/)"},
		{Name: "/etc/clustershell/groups.d/*.conf, groups.conf.d/*.yaml", Help: "more group sources and YAML groups, as groups.conf's confdir and autodir name them"},
	}
}
