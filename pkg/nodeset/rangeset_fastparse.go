package nodeset

import "strings"

// Range sets given on command lines are mostly what a fold printed:
// ascending "lo-hi" and "n" parts of ASCII digits. Reading those through
// Python's rules (strip, int with underscores and Unicode digits, signs)
// costs several passes per part; the fast path here reads them in one and
// hands anything else to parseSub, which applies the full rules and gives
// the errors. Both paths must agree on every input: FuzzRangeSetFastPath
// checks them against each other.

// simpleSub reads sub when it is "N" or "A-B" of 1 to maxIndexDigits ASCII
// digits each, with A <= B, consistent padding and a length ClusterShell
// accepts. ok is false for anything else, which parseSub then reads.
func simpleSub(sub string) (start, stop int64, pad int, ok bool) {
	dash := -1
	for i := 0; i < len(sub); i++ {
		c := sub[i]
		if c >= '0' && c <= '9' {
			continue
		}
		if c == '-' && dash < 0 && i > 0 {
			dash = i
			continue
		}
		return 0, 0, 0, false
	}
	begin, end := sub, sub
	if dash >= 0 {
		begin, end = sub[:dash], sub[dash+1:]
	}
	if begin == "" || end == "" || len(begin) > maxIndexDigits || len(end) > maxIndexDigits {
		return 0, 0, 0, false
	}
	start, stop = asciiDigits(begin), asciiDigits(end)
	// As parseBounds: the padding comes from the first bound ("00" pads,
	// "0" does not); the second bound only counts as padded when nonzero.
	if begin[0] == '0' && len(begin) > 1 {
		pad = len(begin)
	}
	endPadded := end[0] == '0' && stop != 0
	if (pad > 0 || endPadded) && len(begin) != len(end) {
		return 0, 0, 0, false // padding length mismatch
	}
	if start > stop || stop-start+1 >= maxRangeLen {
		return 0, 0, 0, false // invalid values, range too large
	}
	return start, stop, pad, true
}

// asciiDigits returns the value of s, 1 to maxIndexDigits ASCII digits.
func asciiDigits(s string) int64 {
	var v int64
	for i := 0; i < len(s); i++ {
		v = v*10 + int64(s[i]-'0')
	}
	return v
}

// parseAscending reads the leading parts of pattern that simpleSub accepts
// and that come in ascending order, into an empty rs, and returns the
// pattern left for parseSub (done: nothing is left). Their runs share one
// array sized from the number of parts, instead of each width class
// growing its own slice run by run.
func (rs *RangeSet) parseAscending(pattern string) (rest string, done bool) {
	// A part crossing widths ("5-10") makes a run per width: at most
	// maxIndexDigits more runs than parts.
	spans := make([]span, 0, strings.Count(pattern, ",")+1+maxIndexDigits)
	type bound struct{ width, first int } // a class and its first run
	var bounds []bound
	// add appends lo..hi of width w, or reports that it would not keep
	// the classes sorted (a smaller width, or a run before the last one).
	add := func(w int, lo, hi int64) bool {
		n := len(bounds)
		if n == 0 || w > bounds[n-1].width {
			bounds = append(bounds, bound{w, len(spans)})
			spans = append(spans, span{lo, hi})
			return true
		}
		if w < bounds[n-1].width {
			return false
		}
		last := &spans[len(spans)-1]
		switch {
		case lo > last.hi+1:
			spans = append(spans, span{lo, hi})
		case lo >= last.lo:
			last.hi = max(last.hi, hi)
		default:
			return false
		}
		return true
	}
	rest = pattern
	for {
		sub, tail, more := strings.Cut(rest, ",")
		start, stop, pad, ok := simpleSub(sub)
		if !ok || !addByWidth(start, stop, pad, add) {
			break
		}
		if !more {
			rest, done = "", true
			break
		}
		rest = tail
	}
	if len(bounds) == 0 {
		return rest, done
	}
	rs.classes = make([]rsClass, len(bounds))
	for i, b := range bounds {
		end := len(spans)
		if i+1 < len(bounds) {
			end = bounds[i+1].first
		}
		// Capped, so that growing one class never writes into the next.
		rs.classes[i] = rsClass{b.width, spans[b.first:end:end]}
	}
	return rest, done
}

// addByWidth cuts lo..hi (lo >= 0), padded to pad digits, into runs of one
// written width, in ascending order, and calls add for each; it stops
// when add refuses and reports whether every run was added. Widths only
// grow along the run, so once add takes the first piece it takes them all.
func addByWidth(lo, hi int64, pad int, add func(w int, lo, hi int64) bool) bool {
	for lo <= hi {
		w := memberOf(lo, pad).width
		top := min(hi, widthLimit(w))
		if !add(w, lo, top) {
			return false
		}
		if top == hi {
			break
		}
		lo = top + 1
	}
	return true
}
