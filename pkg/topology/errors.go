package topology

import (
	"errors"
	"strconv"
	"strings"
)

// Kinds of topology errors. Every error returned by this package is an
// *Error that matches one of them with errors.Is, except a file that cannot
// be read (that error wraps the I/O error instead, fs.ErrNotExist for
// example).
var (
	// ErrSyntax: the file is not a valid ClusterShell topology.conf (INI
	// syntax, missing [routes] section, bad nodeset expression, unreadable
	// file).
	ErrSyntax = errors.New("invalid topology file")
	// ErrOverlap: a route's source and destination share nodes.
	ErrOverlap = errors.New("source and destination overlap")
	// ErrLoop: routes lead from a node back to itself.
	ErrLoop = errors.New("routing loop")
	// ErrConvergentPath: a node would be reached by two different gateway
	// groups, or a source is a superset of a known destination (or a
	// destination a subset of a known source).
	ErrConvergentPath = errors.New("convergent path")
	// ErrInvalidRoot: the root given to Topology.Router is in the source
	// of no route.
	ErrInvalidRoot = errors.New("invalid root node")
)

// An Error is a topology error: the file, the line (0 when the error is
// about the whole file), a message naming the culprit, the kind (one of the
// Err* variables) and the underlying error, if any (a nodeset parse error,
// an I/O error).
type Error struct {
	File string // as given to Parse or Load
	Line int    // 1-based; 0: the whole file
	Msg  string // what is wrong, naming the culprit
	Kind error  // ErrSyntax, ErrOverlap, ...; nil for an I/O error
	Err  error  // the underlying error, or nil
}

// Error formats the error as "file:line: message: underlying error".
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the kind and the underlying error, so that errors.Is and
// errors.As see both.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}
