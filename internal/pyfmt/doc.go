// Package pyfmt reproduces, byte for byte, the pieces of CPython 3.11
// string semantics and standard library that ClusterShell's tools and
// configuration files rely on. It is fleetsh's one Python-compatibility
// package (with internal/pyshlex for shlex and internal/optparse for
// optparse): code elsewhere calls it instead of re-implementing a rule.
//
//   - [IsSpace], [Strip], [LStrip], [RStrip], [Fields], [Splitlines] and
//     [DecimalValue]: str.isspace(), strip(), split(), splitlines() and
//     the decimal digits int() accepts;
//   - [ReprString] and [ReprBytes]: repr() of a str and of a bytes;
//   - [ConfigParser]: configparser.ConfigParser as ClusterShell builds it
//     for groups.conf, clush.conf and topology.conf, with the settings in
//     which those differ as [ConfigOptions];
//   - [Format]: the printf-style "format % arg" operator for a single,
//     non-tuple argument (nodeset's -O/--output-format);
//   - [UnescapeLiteral]: evaluation of s as the body of a triple-quoted
//     string literal, i.e. Python escape processing (nodeset's
//     -S/--separator);
//   - [Repr], [ASCII] and [Str]: repr(), ascii() and str() of the Go values
//     that stand for Python objects;
//   - [ParseInt] and [ParseFloat]: the int(s, base) and float(s) builtins;
//   - [Decode] and [Encode]: the "surrogateescape" UTF-8 codec Python uses
//     for command line arguments and standard output;
//   - [DecodeUTF8]: bytes.decode()'s strict UTF-8 check and its
//     UnicodeDecodeError (clubak's input keys).
//
// # Strings
//
// A Python str is a sequence of code points while a Go string is a sequence
// of bytes. This package treats a Go string as UTF-8 decoded the way Python
// decodes sys.argv: every byte that is not part of a valid UTF-8 sequence
// stands for the lone surrogate U+DC80..U+DCFF ("surrogateescape"). Lengths,
// widths, precisions and indexes are therefore counted in code points, with
// each invalid byte counting as one, exactly as Python counts them. When a
// result contains a surrogate outside U+DC80..U+DCFF (only possible through
// "%c" or a \uD800-style escape), it is encoded with the generalized UTF-8
// ("WTF-8") three byte form; use the []rune variants to observe such
// surrogates exactly.
//
// # Python values
//
// Arguments and results are plain Go values standing for Python objects:
// nil is None, bool is bool, every Go integer type and *big.Int is int,
// float32/float64 are float, string is str, []any and []string are list,
// [Tuple] is tuple.
// Other Python objects (such as a ClusterShell NodeSet) may be passed as an
// [Object], optionally a [Mapping].
//
// # Errors
//
// Errors are *[Error] values carrying the Python exception class name and
// the exact message CPython 3.11 produces.
package pyfmt
