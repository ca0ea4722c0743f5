package optparse

import (
	"fmt"
	"strings"
)

// ExitError is returned when Python's optparse would have called
// sys.exit(): after a usage error (Status 2) or after printing the help or
// the version (Status 0). Everything Python would print has already been
// written to the parser's Stdout or Stderr.
type ExitError struct {
	// Status is the process exit status Python would use.
	Status int
	// Message is the error message for a usage error, "" otherwise.
	Message string
}

// Error returns the usage error message, or "exit status N".
func (e *ExitError) Error() string {
	if e.Message != "" {
		return e.Message
	}
	return fmt.Sprintf("exit status %d", e.Status)
}

// OptionError reports an invalid option definition (optparse.OptionError
// and OptionConflictError). Parser.AddOption and Group.AddOption panic with
// it: it is a programming error.
type OptionError struct {
	// OptionID is str(option): its option strings joined by "/"; it may
	// be empty.
	OptionID string
	// Msg describes the problem.
	Msg string
}

// Error returns the message Python's OptionError gives.
func (e *OptionError) Error() string {
	if e.OptionID != "" {
		return "option " + e.OptionID + ": " + e.Msg
	}
	return e.Msg
}

// OptionValueError is the error a type [Checker] or a [Callback] returns
// for an invalid option value; Parse then reports its message as a usage
// error, like optparse does for OptionValueError.
type OptionValueError struct {
	Msg string
}

// Error returns the message.
func (e *OptionValueError) Error() string { return e.Msg }

// BadOptionError reports an unknown option ("no such option: -Z"). A
// [Callback] may return it too; Parse reports it as a usage error.
type BadOptionError struct {
	OptStr string
}

// Error returns "no such option: " followed by the option string.
func (e *BadOptionError) Error() string { return "no such option: " + e.OptStr }

// AmbiguousOptionError reports a long option abbreviation matching several
// long options ("ambiguous option: --a (--all, --autostep?)").
type AmbiguousOptionError struct {
	OptStr        string
	Possibilities []string
}

// Error returns the message optparse gives.
func (e *AmbiguousOptionError) Error() string {
	return "ambiguous option: " + e.OptStr + " (" + strings.Join(e.Possibilities, ", ") + "?)"
}

// usageError is an error optparse reports through OptionParser.error().
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }
