package optparse_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/fleetsh/fleetsh/internal/optparse"
)

// This example declares a few of nodeset's options the way
// ClusterShell's OptionParser does, with its custom "safestring" type,
// then parses a command line. A CLI would exit with ExitError.Status
// after a usage error, --help or --version.
func Example() {
	p := optparse.New(optparse.Config{
		Prog:    "nodeset", // default: basename of os.Args[0]
		Usage:   "%prog [COMMAND] [OPTIONS] [ns1 [-ixX] ns2|...]",
		Version: "%prog 1.9.1",
		Types:   map[string]optparse.Checker{"safestring": checkSafestring},
		Stderr:  os.Stdout, // for the example output only
	})
	p.DisableInterspersedArgs()
	p.AddOption(optparse.Option{Flags: []string{"-s", "--groupsource"}, Action: optparse.ActionStore,
		Type: "safestring", Dest: "groupsource", Help: "optional groups.conf(5) group source to use"})
	cmds := p.AddGroup("Commands", "")
	cmds.AddOption(optparse.Option{Flags: []string{"-f", "--fold"}, Action: optparse.ActionStoreTrue,
		Dest: "fold", Default: false, Help: "fold nodeset(s) (or separate nodes) into one nodeset"})
	cmds.AddOption(optparse.Option{Flags: []string{"-l", "--list"}, Action: optparse.ActionCount,
		Dest: "list", Default: false, Help: "list node groups from one source (see -s GROUPSOURCE)"})
	ops := p.AddGroup("Operations", "")
	ops.AddOption(optparse.Option{Flags: []string{"-x", "--exclude"}, Action: optparse.ActionAppend,
		Dest: "sub_nodes", Default: []any{}, Type: "string", Help: "exclude specified nodeset"})
	opts := p.AddGroup("Options", "")
	opts.AddOption(optparse.Option{Flags: []string{"-S", "--separator"}, Action: optparse.ActionStore,
		Dest: "separator", Default: " ", Help: "separator string to use when expanding nodesets (default: ' ')"})
	opts.AddOption(optparse.Option{Flags: []string{"--pick"}, Action: optparse.ActionStore, Dest: "pick",
		Metavar: "N", Type: "int", Help: "pick N node(s) at random in nodeset"})

	values, args, err := p.Parse([]string{"-fS:", "--ex=n2", "--pick", "0x10", "n[1-4]", "-x", "n3"})
	if err != nil {
		var exit *optparse.ExitError
		if errors.As(err, &exit) {
			os.Exit(exit.Status)
		}
		panic(err)
	}
	fmt.Println(values.Bool("fold"), values.Int("list"), values.Strings("sub_nodes"),
		values.String("separator"), values.Int("pick"), values.IsNone("groupsource"), args)

	// nodeset's own errors go through Parser.Error.
	err = p.Error("No command specified.")
	fmt.Println(err.(*optparse.ExitError).Status)

	// Output:
	// true 0 [n2] : 16 true [n[1-4] -x n3]
	// Usage: nodeset [COMMAND] [OPTIONS] [ns1 [-ixX] ns2|...]
	//
	// nodeset: error: No command specified.
	// 2
}
