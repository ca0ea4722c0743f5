// Package optparse is a Go emulation of Python's optparse module (as
// shipped with CPython 3.11), complete enough to reproduce the command
// line handling of ClusterShell's nodeset and clush byte for byte: option
// parsing, error messages, exit statuses and --help output.
//
// A [Parser] is configured with a [Config] (usage, program name, version,
// description, custom value types), then options are added with
// [Parser.AddOption], or [Group.AddOption] for an option group created by
// [Parser.AddGroup]. Options are described by [Option] values whose fields
// mirror optparse's keyword arguments (action, type, dest, default, nargs,
// const, choices, callback, help, metavar).
//
// [Parser.Parse] parses a command line (without the program name) and
// returns the parsed [Values] and the remaining positional arguments.
// Whenever Python's optparse would print something and exit (a usage error,
// --help, --version), Parse writes exactly the same bytes to the parser's
// standard error or standard output and returns an *[ExitError] holding
// the exit status (2 for errors, 0 for help and version); the caller is
// expected to exit with it.
//
// Differences with Python's optparse: the "complex" type is not provided;
// list defaults are copied for every parse instead of being shared and
// mutated; Go strings are decoded like Python decodes sys.argv (see
// package pyfmt), so lengths and abbreviations count code points.
package optparse
