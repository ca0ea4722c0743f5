package pyfmt

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Conversion flags, as in CPython's pycore_format.h.
const (
	flagLJust = 1 << iota
	flagSign
	flagBlank
	flagAlt
	flagZero
)

const (
	pySsizeMax = math.MaxInt64
	cIntMax    = math.MaxInt32
	cLongMax   = math.MaxInt64
	// maxField bounds widths and precisions: CPython would try to build
	// strings that large (and usually fail with MemoryError); we refuse
	// instead of exhausting memory.
	maxField = 1 << 26
)

// Format returns format % arg, Python's printf-style string formatting:
// the way nodeset applies its -O/--output-format to a node name (str) or
// to a node count (int).
//
// arg may be any Go value standing for a Python object (see the package
// documentation); a [Tuple] supplies several arguments and a [Mapping]
// enables the "%(key)s" form. Every conversion
// (%s %r %a %c %d %i %u %o %x %X %e %E %f %F %g %G %%), flag (#0- +),
// width, precision, "*", length modifier (h l L) and error is handled as in
// CPython 3.11. Errors are *[Error] values with Python's exception class
// and message, such as a TypeError "not all arguments converted during
// string formatting" or a ValueError "unsupported format character 'z'
// (0x7a) at index 1".
func Format(format string, arg any) (string, error) {
	if format == "%s" {
		if s, ok := arg.(string); ok {
			return s, nil
		}
	}
	r, err := FormatRunes(Decode(format), arg)
	if err != nil {
		return "", err
	}
	return encodeLossy(r), nil
}

// FormatRunes is Format operating on code points; unlike Format it can
// return any surrogate a "%c" conversion produces unchanged.
func FormatRunes(format []rune, arg any) ([]rune, error) {
	f := formatter{
		fmt:    format,
		args:   arg,
		arglen: -1,
		argidx: -2,
		out:    make([]rune, 0, len(format)+16),
	}
	if t, ok := arg.(Tuple); ok {
		f.arglen, f.argidx = len(t), 0
	} else if m, ok := arg.(Mapping); ok {
		f.dict = m
	}
	f.cnt = len(format)
	for {
		f.cnt--
		if f.cnt < 0 {
			break
		}
		if f.fmt[f.pos] != '%' {
			start := f.pos
			f.pos++
			for f.cnt >= 0 && f.read() != '%' {
				f.pos++
				f.cnt--
			}
			if f.cnt < 0 {
				f.pos--
			}
			f.out = append(f.out, f.fmt[start:f.pos]...)
		} else {
			f.pos++
			if err := f.formatArg(); err != nil {
				return nil, err
			}
		}
	}
	if f.argidx < f.arglen && f.dict == nil {
		return nil, typeError("not all arguments converted during string formatting")
	}
	return f.out, nil
}

// formatter mirrors CPython's struct unicode_formatter_t; pos and cnt
// follow fmtpos and fmtcnt exactly so that error positions match.
type formatter struct {
	fmt    []rune
	pos    int
	cnt    int
	args   any
	arglen int
	argidx int
	dict   Mapping
	out    []rune
}

// spec mirrors struct unicode_format_arg_t.
type spec struct {
	ch    rune
	flags int
	width int
	prec  int
	sign  bool
}

// read returns the code point at pos, or 0 past the end (CPython strings
// are NUL terminated).
func (f *formatter) read() rune {
	if f.pos < len(f.fmt) {
		return f.fmt[f.pos]
	}
	return 0
}

func (f *formatter) nextArg() (any, error) {
	if f.argidx < f.arglen {
		f.argidx++
		if f.arglen < 0 {
			return f.args, nil
		}
		return f.args.(Tuple)[f.argidx-1], nil
	}
	return nil, typeError("not enough arguments for format string")
}

func (f *formatter) formatArg() error {
	a := spec{ch: f.read(), width: -1, prec: -1}
	if a.ch == '%' {
		f.pos++
		f.cnt--
		f.out = append(f.out, '%')
		return nil
	}
	if err := f.parseSpec(&a); err != nil {
		return err
	}
	str, done, err := f.convert(&a)
	if err != nil {
		return err
	}
	if !done {
		if err := f.output(&a, str); err != nil {
			return err
		}
	}
	if f.dict != nil && f.argidx < f.arglen {
		return typeError("not all arguments converted during string formatting")
	}
	return nil
}

func (f *formatter) parseSpec(a *spec) error {
	if a.ch == '(' {
		if f.dict == nil {
			return typeError("format requires a mapping")
		}
		f.pos++
		f.cnt--
		keystart := f.pos
		pcount := 1
		for pcount > 0 {
			f.cnt--
			if f.cnt < 0 {
				break
			}
			a.ch = f.read()
			if a.ch == ')' {
				pcount--
			} else if a.ch == '(' {
				pcount++
			}
			f.pos++
		}
		keylen := f.pos - keystart - 1
		if f.cnt < 0 || pcount > 0 {
			return valueError("incomplete format key")
		}
		item, err := f.dict.PyGetItem(encodeLossy(f.fmt[keystart : keystart+keylen]))
		if err != nil {
			return err
		}
		f.args = item
		f.arglen = -1
		f.argidx = -2
	}

	for f.next(a) {
		switch a.ch {
		case '-':
			a.flags |= flagLJust
			continue
		case '+':
			a.flags |= flagSign
			continue
		case ' ':
			a.flags |= flagBlank
			continue
		case '#':
			a.flags |= flagAlt
			continue
		case '0':
			a.flags |= flagZero
			continue
		}
		break
	}

	w, star, ok, err := f.field(a, "width", cSsize)
	if err != nil {
		return err
	}
	if ok {
		if star && w < 0 {
			a.flags |= flagLJust
			w = -w
		}
		a.width = clampInt(w)
	}

	if a.ch == '.' {
		a.prec = 0
		f.next(a)
		p, _, ok, err := f.field(a, "precision", cInt)
		if err != nil {
			return err
		}
		if ok {
			a.prec = max(int(p), 0)
		}
	}

	if f.cnt >= 0 && (a.ch == 'h' || a.ch == 'l' || a.ch == 'L') {
		f.next(a)
	}
	if f.cnt < 0 {
		return valueError("incomplete format")
	}
	return nil
}

// next moves to the next format character, CPython's
// "if (--ctx->fmtcnt >= 0) arg->ch = FORMAT_READ(ctx), ctx->fmtpos++":
// it reports false, a.ch unchanged, when the format is used up.
func (f *formatter) next(a *spec) bool {
	f.cnt--
	if f.cnt < 0 {
		return false
	}
	a.ch = f.read()
	f.pos++
	return true
}

// cType is the C integer type CPython converts a width or precision to.
type cType struct {
	name     string
	min, max int64
}

var (
	cSsize = cType{"ssize_t", math.MinInt64, pySsizeMax} // a width
	cInt   = cType{"int", math.MinInt32, cIntMax}        // a precision
)

// field reads a width or precision (what) that starts at a.ch, leaving
// a.ch on the character after it: '*' takes the next argument, which must
// be an int that fits t (star is then true); digits are a number of at
// most t.max. ok is false when a.ch starts neither.
func (f *formatter) field(a *spec, what string, t cType) (n int64, star, ok bool, err error) {
	switch {
	case a.ch == '*':
		v, err := f.nextArg()
		if err != nil {
			return 0, false, false, err
		}
		b, isInt := toBig(v)
		if !isInt {
			return 0, false, false, typeError("* wants int")
		}
		if !b.IsInt64() || b.Int64() < t.min || b.Int64() > t.max {
			return 0, false, false, overflowError("Python int too large to convert to C " + t.name)
		}
		f.next(a)
		return b.Int64(), true, true, nil
	case a.ch >= '0' && a.ch <= '9':
		n = int64(a.ch - '0')
		for f.next(a) && a.ch >= '0' && a.ch <= '9' {
			d := int64(a.ch - '0')
			if n > (t.max-d)/10 {
				return 0, false, false, valueError(what + " too big")
			}
			n = n*10 + d
		}
		return n, false, true, nil
	}
	return 0, false, false, nil
}

func digitLimitError() *Error {
	return valueError("Exceeds the limit (4300 digits) for integer string conversion; " +
		"use sys.set_int_max_str_digits() to increase the limit")
}

// tooManyDigits reports whether str(n) would exceed CPython's default
// limit on the number of decimal digits of an int.
func tooManyDigits(n *big.Int) bool {
	// 14280 bits are at least 4299 digits: only then count them.
	if n.BitLen() < 14280 {
		return false
	}
	return len(new(big.Int).Abs(n).Text(10)) > maxStrDigits
}

func clampInt(v int64) int {
	if v > math.MaxInt {
		return math.MaxInt
	}
	return int(v)
}

// convert implements unicode_format_arg_format: it returns the converted
// argument, or done=true when it was written to the output directly.
func (f *formatter) convert(a *spec) (str []rune, done bool, err error) {
	v, err := f.nextArg()
	if err != nil {
		return nil, false, err
	}
	switch a.ch {
	case 's', 'r', 'a':
		if n, ok := toBig(v); ok && tooManyDigits(n) {
			return nil, false, digitLimitError()
		}
	}
	switch a.ch {
	case 's':
		if s, ok := v.(string); ok {
			return Decode(s), false, nil
		}
		return Decode(Str(v)), false, nil
	case 'r':
		if s, ok := v.(string); ok {
			return Decode(ReprString(s)), false, nil
		}
		return Decode(Repr(v)), false, nil
	case 'a':
		return Decode(ASCII(v)), false, nil
	case 'i', 'd', 'u', 'o', 'x', 'X':
		s, err := formatLong(v, a)
		if err != nil {
			return nil, false, err
		}
		a.sign = true
		return []rune(s), false, nil
	case 'e', 'E', 'f', 'F', 'g', 'G':
		x, err := asDouble(v)
		if err != nil {
			return nil, false, err
		}
		prec := a.prec
		if prec < 0 {
			prec = 6
		}
		if prec > maxField {
			return nil, false, memoryError()
		}
		s := formatDouble(x, a.ch, prec, a.flags&flagAlt != 0)
		if a.width == -1 && a.prec == -1 && a.flags&(flagSign|flagBlank) == 0 {
			f.out = append(f.out, []rune(s)...)
			return nil, true, nil
		}
		a.sign = true
		return []rune(s), false, nil
	case 'c':
		c, err := formatChar(v)
		if err != nil {
			return nil, false, err
		}
		return []rune{c}, false, nil
	}
	ch := '?'
	if a.ch >= 31 && a.ch <= 126 {
		ch = a.ch
	}
	return nil, false, valueError("unsupported format character '" + string(ch) + "' (0x" +
		strconv.FormatInt(int64(a.ch), 16) + ") at index " + strconv.Itoa(f.pos-1))
}

// formatLong implements mainformatlong and _PyUnicode_FormatLong.
func formatLong(v any, a *spec) (string, error) {
	typ := a.ch
	n, ok := toBig(v)
	if !ok {
		x, isFloat := toFloat(v)
		if !isFloat {
			return "", wrongType(typ, v)
		}
		if typ == 'o' || typ == 'x' || typ == 'X' {
			return "", wrongType(typ, v)
		}
		switch {
		case math.IsNaN(x):
			return "", valueError("cannot convert float NaN to integer")
		case math.IsInf(x, 0):
			return "", overflowError("cannot convert float infinity to integer")
		}
		n, _ = big.NewFloat(x).Int(nil)
	}
	if a.prec > cIntMax-3 {
		return "", overflowError("precision too large")
	}
	if typ != 'o' && typ != 'x' && typ != 'X' && tooManyDigits(n) {
		return "", digitLimitError()
	}
	if a.prec > maxField {
		return "", memoryError()
	}
	neg := n.Sign() < 0
	var digits, prefix string
	switch typ {
	case 'o':
		digits, prefix = new(big.Int).Abs(n).Text(8), "0o"
	case 'x', 'X':
		digits, prefix = new(big.Int).Abs(n).Text(16), "0x"
	default:
		digits = new(big.Int).Abs(n).Text(10)
	}
	if a.flags&flagAlt == 0 {
		prefix = ""
	}
	if a.prec > len(digits) {
		digits = strings.Repeat("0", a.prec-len(digits)) + digits
	}
	s := prefix + digits
	if neg {
		s = "-" + s
	}
	if typ == 'X' {
		s = strings.ToUpper(s)
	}
	return s, nil
}

func wrongType(typ rune, v any) error {
	if typ == 'o' || typ == 'x' || typ == 'X' {
		return typeError("%" + string(typ) + " format: an integer is required, not " + TypeName(v))
	}
	return typeError("%" + string(typ) + " format: a real number is required, not " + TypeName(v))
}

// asDouble implements PyFloat_AsDouble.
func asDouble(v any) (float64, error) {
	if x, ok := toFloat(v); ok {
		return x, nil
	}
	if n, ok := toBig(v); ok {
		x, _ := new(big.Float).SetInt(n).Float64()
		if math.IsInf(x, 0) {
			return 0, overflowError("int too large to convert to float")
		}
		return x, nil
	}
	return 0, typeError("must be real number, not " + TypeName(v))
}

// formatChar implements formatchar.
func formatChar(v any) (rune, error) {
	if s, ok := v.(string); ok {
		r := Decode(s)
		if len(r) == 1 {
			return r[0], nil
		}
		return 0, typeError("%c requires int or char")
	}
	n, ok := toBig(v)
	if !ok {
		return 0, typeError("%c requires int or char")
	}
	if !n.IsInt64() || n.Int64() < 0 || n.Int64() > 0x10FFFF {
		return 0, overflowError("%c arg not in range(0x110000)")
	}
	return rune(n.Int64()), nil
}

// memoryError is what we return instead of building huge strings.
func memoryError() *Error { return &Error{Kind: "MemoryError", Msg: ""} }

// output implements unicode_format_arg_output (padding, sign and prefix).
func (f *formatter) output(a *spec, str []rune) error {
	fill := ' '
	if a.sign && a.flags&flagZero != 0 {
		fill = '0'
	}
	length := len(str)
	if (a.width == -1 || a.width <= length) && (a.prec == -1 || a.prec >= length) &&
		a.flags&(flagSign|flagBlank) == 0 {
		f.out = append(f.out, str...)
		return nil
	}
	if a.width > maxField {
		return memoryError()
	}
	if a.ch == 's' || a.ch == 'r' || a.ch == 'a' {
		if a.prec >= 0 && length > a.prec {
			length = a.prec
		}
	}
	pindex := 0
	var signchar rune
	if a.sign {
		ch := rune(0)
		if len(str) > 0 {
			ch = str[0]
		}
		switch {
		case ch == '-' || ch == '+':
			signchar = ch
			length--
			pindex++
		case a.flags&flagSign != 0:
			signchar = '+'
		case a.flags&flagBlank != 0:
			signchar = ' '
		default:
			a.sign = false
		}
	}
	if a.width < length {
		a.width = length
	}
	if a.sign {
		if fill != ' ' {
			f.out = append(f.out, signchar)
		}
		if a.width > length {
			a.width--
		}
	}
	alt := a.flags&flagAlt != 0 && (a.ch == 'x' || a.ch == 'X' || a.ch == 'o')
	if alt {
		if fill != ' ' {
			f.out = append(f.out, '0', a.ch)
			pindex += 2
		}
		a.width -= 2
		if a.width < 0 {
			a.width = 0
		}
		length -= 2
	}
	if a.width > length && a.flags&flagLJust == 0 {
		for i := 0; i < a.width-length; i++ {
			f.out = append(f.out, fill)
		}
		a.width = length
	}
	if fill == ' ' {
		if a.sign {
			f.out = append(f.out, signchar)
		}
		if alt {
			f.out = append(f.out, '0', a.ch)
			pindex += 2
		}
	}
	if length > 0 {
		f.out = append(f.out, str[pindex:pindex+length]...)
	}
	if a.width > length {
		for i := 0; i < a.width-length; i++ {
			f.out = append(f.out, ' ')
		}
	}
	return nil
}

// formatDouble implements PyOS_double_to_string for the 'e', 'f' and 'g'
// conversions (and their upper case variants), prec >= 0.
func formatDouble(x float64, code rune, prec int, alt bool) string {
	upper := code == 'E' || code == 'F' || code == 'G'
	lower := code | 0x20
	var body string
	neg := math.Signbit(x)
	switch {
	case math.IsNaN(x):
		body, neg = "nan", false
	case math.IsInf(x, 0):
		body = "inf"
	default:
		ax := math.Abs(x)
		switch lower {
		case 'e':
			body = strconv.FormatFloat(ax, 'e', prec, 64)
			if alt && prec == 0 {
				body = body[:1] + "." + body[1:]
			}
		case 'f':
			body = strconv.FormatFloat(ax, 'f', prec, 64)
			if alt && prec == 0 {
				body += "."
			}
		case 'g':
			body = formatG(ax, prec, alt)
		}
	}
	if upper {
		body = strings.ToUpper(body)
	}
	if neg {
		return "-" + body
	}
	return body
}

// formatG implements the 'g' conversion for a finite ax >= 0.
func formatG(ax float64, prec int, alt bool) string {
	if prec == 0 {
		prec = 1
	}
	es := strconv.FormatFloat(ax, 'e', prec-1, 64)
	mant, ex, _ := strings.Cut(es, "e")
	exp, _ := strconv.Atoi(ex)
	if exp < -4 || exp >= prec {
		if !alt {
			mant = trimFraction(mant)
		} else if !strings.Contains(mant, ".") {
			mant += "."
		}
		return mant + "e" + expString(exp)
	}
	s := strconv.FormatFloat(ax, 'f', prec-1-exp, 64)
	if !alt {
		return trimFraction(s)
	}
	if !strings.Contains(s, ".") {
		s += "."
	}
	return s
}

// trimFraction removes trailing zeros of a fractional part, and the
// decimal point if nothing is left after it.
func trimFraction(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
