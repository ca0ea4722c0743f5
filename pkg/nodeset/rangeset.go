package nodeset

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

// A RangeSet is a set of indexes, as written inside the brackets of a
// nodeset: "1-10,15,20-30/2". It has ClusterShell 1.9 semantics: an index
// keeps its zero padding, so "1", "01" and "001" are three different
// members that may live side by side ("1,01-10").
//
// Members are stored as runs of consecutive values, grouped by the width of
// their written form, so that node[1-10000000] costs a few words, not ten
// million strings. The zero value is an empty set with autostep disabled.
// A RangeSet is not safe for concurrent mutation.
type RangeSet struct {
	classes  []rsClass   // sorted by width; width 0 holds negative members
	pending  []pendWidth // members added but not yet merged into classes
	autostep int         // 0: disabled; n >= 1: fold a-b/step from n members
}

// member is one index as ClusterShell stores it, a string: its value and the
// length of its written form (width 0 for negative values, which are never
// padded).
type member struct {
	width int
	value int64
}

// rsClass holds the members whose written form has the same width.
type rsClass struct {
	width int
	spans []span
}

// span is an inclusive run of consecutive values.
type span struct{ lo, hi int64 }

func memberOf(v int64, pad int) member {
	if v < 0 {
		return member{0, v}
	}
	return member{max(pad, numDigits(v)), v}
}

// paddedLimit returns the smallest value of width w written without padding.
func paddedLimit(w int) int64 {
	if w-1 > maxIndexDigits {
		return maxIndex + 1
	}
	return pow10(w - 1)
}

// widthLimit returns the largest value that fits width w.
func widthLimit(w int) int64 {
	if w >= maxIndexDigits {
		return maxIndex
	}
	return pow10(w) - 1
}

func (m member) String() string { return string(m.appendTo(nil)) }

func (m member) appendTo(b []byte) []byte {
	if m.value < 0 || m.width <= 1 {
		return strconv.AppendInt(b, m.value, 10)
	}
	return appendPadded(b, m.value, m.width)
}

// appendPadded appends v >= 0 with at least pad digits (Python's "%0*d").
func appendPadded(b []byte, v int64, pad int) []byte {
	if v < 0 {
		return fmt.Appendf(b, "%0*d", pad, v) // never on hot paths: negative indexes are not padded
	}
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	for n := len(tmp) - i; n < pad; n++ {
		b = append(b, '0')
	}
	return append(b, tmp[i:]...)
}

// RangeParseError reports a malformed range (ClusterShell's
// RangeSetParseError). Part is the offending piece of the input.
type RangeParseError struct {
	Part string
	Msg  string
}

func (e *RangeParseError) Error() string {
	if e.Part != "" {
		return fmt.Sprintf("%s : \"%s\"", e.Msg, e.Part)
	}
	return e.Msg
}

// ParseRangeSet parses a range set such as "1-10,15,20-30/2", "01-10" or
// "-5--2" (ClusterShell's RangeSet(pattern)).
func ParseRangeSet(pattern string) (*RangeSet, error) {
	rs := &RangeSet{}
	if err := rs.parse(pattern); err != nil {
		return nil, err
	}
	return rs, nil
}

// maxRangeLen mirrors ClusterShell's "range too large" assertion.
const maxRangeLen = 1_000_000_000

// maxSteppedMembers bounds a stepped range, whose members are stored one by
// one; ClusterShell would need gigabytes for such a range too.
const maxSteppedMembers = 1 << 20

func (rs *RangeSet) parse(pattern string) error {
	rest := pattern
	if len(rs.classes) == 0 && len(rs.pending) == 0 {
		var done bool
		if rest, done = rs.parseAscending(pattern); done {
			return nil
		}
	}
	for {
		sub, tail, more := strings.Cut(rest, ",")
		if err := rs.parseSub(sub); err != nil {
			return err
		}
		if !more {
			break
		}
		rest = tail
	}
	return nil
}

// parseSub adds one comma-separated part of a range set, following
// ClusterShell's RangeSet._parse (Python's strip and int included).
func (rs *RangeSet) parseSub(sub string) error {
	if start, stop, pad, ok := simpleSub(sub); ok {
		rs.addSpan(start, stop, pad)
		return nil
	}
	return rs.parsePython(sub)
}

// parsePython is parseSub without the fast path: Python's rules, always.
func (rs *RangeSet) parsePython(sub string) error {
	sub = pyfmt.Strip(sub)
	base, stepStr, hasStep := strings.Cut(sub, "/")
	step := int64(1)
	if hasStep {
		v, err := pyInt(stepStr)
		if err != nil {
			return &RangeParseError{sub, "cannot convert string to integer"}
		}
		step = v
	}
	beginSign, endSign := int64(1), int64(1)
	var begin, end string
	if !strings.Contains(base, "-") {
		if step != 1 {
			return &RangeParseError{sub, "invalid step usage"}
		}
		begin, end = base, base
	} else {
		parts := strings.Split(base, "-")
		for i := range parts {
			parts[i] = pyfmt.Strip(parts[i])
		}
		switch len(parts) {
		case 2:
			begin, end = parts[0], parts[1]
			if begin == "" {
				begin = end
				beginSign, endSign = -1, -1
			}
		case 3:
			begin, end = parts[1], parts[2]
			beginSign = -1
		case 4:
			begin, end = parts[1], parts[3]
			beginSign, endSign = -1, -1
		default:
			// Python raises a bare ValueError from tuple unpacking here.
			return &RangeParseError{sub, "too many values to unpack (expected 4)"}
		}
	}
	start, stop, pad, err := parseBounds(sub, begin, end)
	if err != nil {
		return err
	}
	if pad > 0 && beginSign < 0 {
		return &RangeParseError{sub, "padding not supported in negative ranges"}
	}
	if start*beginSign > stop*endSign || step < 1 {
		return &RangeParseError{sub, "invalid values in range"}
	}
	if err := rs.addRange(start*beginSign, stop*endSign+1, step, pad); err != nil {
		return &RangeParseError{sub, err.Error()}
	}
	return nil
}

// parseBounds converts the two bounds of a range and infers its padding
// exactly as ClusterShell's RangeSet._parse does: the padding comes from
// the first bound only, and any padded bound needs both of equal length.
func parseBounds(sub, begin, end string) (start, stop int64, pad int, err error) {
	convErr := func(e error) error {
		if e == errIndexTooLarge {
			if bigRangeInvalid(begin, end) {
				return &RangeParseError{sub, "invalid values in range"}
			}
			return &RangeParseError{sub, fmt.Sprintf("index too large (fleetsh supports at most %d digits)", maxIndexDigits)}
		}
		if sub == "" {
			return &RangeParseError{"", "empty range"}
		}
		return &RangeParseError{sub, "cannot convert string to integer"}
	}
	bv, e := pyInt(begin)
	if e != nil {
		return 0, 0, 0, convErr(e)
	}
	if bv != 0 {
		begins := strings.TrimLeft(begin, "0")
		if len(begin) > len(begins) {
			pad = pyLen(begin)
		}
		if start, e = pyInt(begins); e != nil {
			return 0, 0, 0, convErr(e)
		}
	} else if pyLen(begin) > 1 {
		pad = pyLen(begin)
	}
	ev, e := pyInt(end)
	if e != nil {
		return 0, 0, 0, convErr(e)
	}
	ends := end
	if ev != 0 {
		ends = strings.TrimLeft(end, "0")
	}
	endpad := 0
	if len(end) > len(ends) {
		endpad = pyLen(end)
	}
	if (pad > 0 || endpad > 0) && pyLen(begin) != pyLen(end) {
		return 0, 0, 0, &RangeParseError{sub, "padding length mismatch"}
	}
	if stop, e = pyInt(ends); e != nil {
		return 0, 0, 0, convErr(e)
	}
	return start, stop, pad, nil
}

// addRange adds start, start+step, ... < stop, each padded to pad digits.
func (rs *RangeSet) addRange(start, stop, step int64, pad int) error {
	if stop-start >= maxRangeLen {
		return fmt.Errorf("range too large")
	}
	if step == 1 {
		rs.addSpan(start, stop-1, pad)
		return nil
	}
	if (stop-start+step-1)/step > maxSteppedMembers {
		return fmt.Errorf("range too large (fleetsh limits stepped ranges to %d members)", maxSteppedMembers)
	}
	for v := start; v < stop; v += step {
		rs.push(memberOf(v, pad))
	}
	return nil
}

// addSpan adds lo..hi padded to pad, split by width.
func (rs *RangeSet) addSpan(lo, hi int64, pad int) {
	if lo < 0 {
		nhi := min(hi, -1)
		rs.insertSpan(0, lo, nhi)
		lo = 0
		if hi < 0 {
			return
		}
	}
	addByWidth(lo, hi, pad, func(w int, lo, hi int64) bool {
		rs.insertSpan(w, lo, hi)
		return true
	})
}

// Add adds index v written with at least pad digits (ClusterShell's
// RangeSet.add(v, pad)).
func (rs *RangeSet) Add(v int64, pad int) {
	rs.push(memberOf(v, pad))
}

func (rs *RangeSet) addMember(m member) { rs.push(m) }

// insertSpan merges lo..hi into the class of width w. Runs are usually
// appended in order, which makes this cheap; other cases go through
// pending.
func (rs *RangeSet) insertSpan(w int, lo, hi int64) {
	if len(rs.pending) == 0 {
		n := len(rs.classes)
		if n == 0 || rs.classes[n-1].width < w {
			rs.classes = append(rs.classes, rsClass{w, []span{{lo, hi}}})
			return
		}
		if c := &rs.classes[n-1]; c.width == w {
			last := &c.spans[len(c.spans)-1]
			if lo > last.hi+1 {
				c.spans = append(c.spans, span{lo, hi})
				return
			}
			if lo >= last.lo {
				last.hi = max(last.hi, hi)
				return
			}
		}
	}
	if hi-lo < 64 {
		for v := lo; v <= hi; v++ {
			rs.push(member{w, v})
		}
		return
	}
	other := &RangeSet{classes: []rsClass{{w, []span{{lo, hi}}}}}
	rs.normalize()
	rs.classes = mergeClasses(rs.classes, other.classes, opUnion)
}

// normalize merges pending members into the classes. It is called by
// every read, so the check stays small enough to be inlined.
func (rs *RangeSet) normalize() {
	if len(rs.pending) > 0 {
		rs.flush()
	}
}

// Autostep returns the autostep threshold, 0 when disabled.
func (rs *RangeSet) Autostep() int { return rs.autostep }

// SetAutostep sets the minimum number of equally spaced indexes folded as
// "a-b/step"; 0 disables it. As in ClusterShell, every n <= 1 means
// "always".
func (rs *RangeSet) SetAutostep(n int) { rs.autostep = normAutostep(n) }

func normAutostep(n int) int {
	if n == 0 {
		return 0
	}
	return max(n, 1)
}

// Len returns the number of indexes.
func (rs *RangeSet) Len() int {
	rs.normalize()
	n := 0
	for _, c := range rs.classes {
		for _, s := range c.spans {
			n += int(s.hi - s.lo + 1)
		}
	}
	return n
}

// Clone returns a deep copy.
func (rs *RangeSet) Clone() *RangeSet {
	rs.normalize()
	c := &RangeSet{autostep: rs.autostep, classes: make([]rsClass, len(rs.classes))}
	for i, cl := range rs.classes {
		c.classes[i] = rsClass{cl.width, slices.Clone(cl.spans)}
	}
	return c
}

// Equal reports whether both sets hold the same indexes.
func (rs *RangeSet) Equal(o *RangeSet) bool {
	rs.normalize()
	o.normalize()
	if len(rs.classes) != len(o.classes) {
		return false
	}
	for i := range rs.classes {
		if rs.classes[i].width != o.classes[i].width || !slices.Equal(rs.classes[i].spans, o.classes[i].spans) {
			return false
		}
	}
	return true
}
