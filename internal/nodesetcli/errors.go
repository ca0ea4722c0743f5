package nodesetcli

import (
	"errors"
	"fmt"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// ErrorLine formats a node set error (a parse, group or format error) as
// ClusterShell's handle_generic_error does for the program prog: nodeset
// here, clush (csub) and clubak in internal/csub. ok is false for any
// other error, which each program words its own way.
func ErrorLine(prog string, err error) (line string, ok bool) {
	var (
		pe *nodeset.ParseError
		re *nodeset.RangeParseError
		ee *nodeset.ExternalError
		ic *nodeset.IllegalCharError
		ce *nodeset.ConfigError
		us *nodeset.UnknownSourceError
		nu *nodeset.NoUpcallError
		qf *nodeset.QueryFailedError
		py *pyfmt.Error
	)
	switch {
	case errors.As(err, &pe), errors.As(err, &re):
		return prog + ": Parse error: " + err.Error(), true
	case errors.As(err, &ee):
		return prog + ": External error: " + ee.Error(), true
	case errors.As(err, &ic):
		return fmt.Sprintf("%s: Illegal group character: \"%s\"", prog, ic.Error()), true
	case errors.As(err, &ce) && ce.Kind == nodeset.SyntaxConfig:
		return prog + ": " + ce.Error(), true
	case errors.As(err, &ce) && ce.Kind == nodeset.ValueConfig:
		return "ERROR: " + ce.Error(), true
	case errors.As(err, &ce):
		return prog + ": Group resolver error: " + ce.Error(), true
	case errors.As(err, &us):
		return fmt.Sprintf("%s: Unknown group source: \"%s\"", prog, us.Source), true
	case errors.As(err, &nu):
		return fmt.Sprintf("%s: No %s upcall defined for group source \"%s\"", prog, nu.Upcall, nu.Source), true
	case errors.As(err, &qf):
		return prog + ": Group error: " + qf.Error(), true
	case errors.As(err, &py) && py.Kind == "TypeError":
		return prog + ": " + py.Msg, true
	case errors.As(err, &py):
		return "ERROR: " + py.Msg, true
	}
	return "", false
}
