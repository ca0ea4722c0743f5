package pyfmt

// Error is a Python exception: Kind is the exception class name (such as
// "TypeError", "ValueError", "OverflowError", "SyntaxError",
// "UnicodeEncodeError") and Msg is str(exception), byte-identical to what
// CPython 3.11 reports.
type Error struct {
	Kind string
	Msg  string
}

// Error returns the message, as str(exception) does in Python.
func (e *Error) Error() string { return e.Msg }

// Exception kinds used by this package besides Python's own class names.
const (
	// KindUnsupported marks inputs that Python would accept (or reject in a
	// way that depends on a full interpreter) but that this package does not
	// emulate, such as operators in UnescapeLiteral.
	KindUnsupported = "Unsupported"
)

func typeError(msg string) *Error     { return &Error{Kind: "TypeError", Msg: msg} }
func valueError(msg string) *Error    { return &Error{Kind: "ValueError", Msg: msg} }
func overflowError(msg string) *Error { return &Error{Kind: "OverflowError", Msg: msg} }
