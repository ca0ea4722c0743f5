package nodeset

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

// ParseError reports a malformed nodeset expression (ClusterShell's
// NodeSetParseError). Part names the offending piece of the input.
type ParseError struct {
	Part string
	Msg  string
	Err  error // the range error behind a "bad range", if any
}

func (e *ParseError) Error() string {
	if e.Part != "" {
		return fmt.Sprintf("%s: \"%s\"", e.Msg, e.Part)
	}
	return e.Msg
}

// Unwrap returns the underlying range or group error.
func (e *ParseError) Unwrap() error { return e.Err }

func badRange(err error) error {
	var re *RangeParseError
	if errors.As(err, &re) {
		return &ParseError{Part: re.Error(), Msg: "bad range", Err: re}
	}
	return err
}

// ExternalError reports a failure of the group sources while resolving
// nodes (ClusterShell's NodeSetExternalError).
type ExternalError struct {
	Msg string
	Err error
}

func (e *ExternalError) Error() string { return e.Msg }

// Unwrap returns the underlying group source error.
func (e *ExternalError) Unwrap() error { return e.Err }

// A Parser turns nodeset expressions into NodeSets. The zero value parses
// without node groups: "@name" is then an ordinary node name, as with
// ClusterShell's RESOLVER_NOGROUP.
type Parser struct {
	// Resolver resolves @group references and wildcards; nil disables both.
	Resolver GroupResolver
	// Autostep is given to the range sets built while parsing (0: none).
	Autostep int
}

// Parse parses s without node groups.
func Parse(s string) (*NodeSet, error) { return (&Parser{}).Parse(s) }

// MustParse is Parse for expressions known to be valid; it panics on error.
func MustParse(s string) *NodeSet {
	ns, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return ns
}

// Parse parses one nodeset expression: names, ranges, @groups and the
// operators ",", "!", "&" and "^", applied left to right.
func (p *Parser) Parse(s string) (*NodeSet, error) {
	ns, err := p.parseString(s, "", true)
	if err != nil {
		var qf *QueryFailedError
		var ext *ExternalError
		if !errors.As(err, &ext) && errors.As(err, &qf) {
			return nil, &ParseError{Part: s, Msg: qf.Error(), Err: err}
		}
		return nil, err
	}
	ns.autostep = 0
	return ns, nil
}

// Update parses s and adds its nodes to ns with the parser's autostep, as
// ClusterShell's NodeSet.update(str) does.
func (p *Parser) Update(ns *NodeSet, s string) error {
	o, err := p.Parse(s)
	if err != nil {
		return err
	}
	ns.Update(o)
	return nil
}

// ParseList parses each string and returns their union (ClusterShell's
// NodeSet.fromlist).
func (p *Parser) ParseList(list []string) (*NodeSet, error) {
	ns := &NodeSet{autostep: normAutostep(p.Autostep)}
	for _, s := range list {
		if err := p.Update(ns, s); err != nil {
			return nil, err
		}
	}
	return ns, nil
}

type scanned struct {
	op   byte // ',', '!', '&' or '^'
	pat  string
	sets []*RangeSet
}

func (s scanned) patternSet(autostep int) *patternSet {
	switch len(s.sets) {
	case 0:
		return &patternSet{}
	case 1:
		return &patternSet{rs: s.sets[0]}
	}
	return &patternSet{nd: newND([][]*RangeSet{s.sets}, autostep)}
}

func applyOp(ns *NodeSet, op byte, o *NodeSet) {
	switch op {
	case ',':
		ns.Update(o)
	case '!':
		ns.DifferenceUpdate(o)
	case '&':
		ns.IntersectionUpdate(o)
	case '^':
		ns.SymmetricDifferenceUpdate(o)
	}
}

func single(pat string, ps *patternSet) *NodeSet {
	return &NodeSet{pats: map[string]*patternSet{pat: ps}}
}

// parseString is ClusterShell's ParsingEngine.parse_string.
func (p *Parser) parseString(nsstr, namespace string, wildcards bool) (*NodeSet, error) {
	ns := &NodeSet{}
	ns.init()
	toks, err := p.scanString(escapePercent(pyfmt.Strip(nsstr)))
	if err != nil {
		return nil, err
	}
	var allNodes map[string]bool
	for _, t := range toks {
		ps := t.patternSet(p.Autostep)
		switch {
		case p.Resolver != nil && t.pat[0] == '@':
			grp := &NodeSet{}
			var ferr error
			single(t.pat, ps).walk(func(pat *pattern, idx []member) bool {
				name := string(pat.appendNode(nil, idx))
				ext, extNS, err := p.groupString(name, namespace)
				if err != nil {
					ferr = err
					return false
				}
				if ext != "" {
					sub, err := p.parseString(ext, extNS, wildcards)
					if err != nil {
						ferr = err
						return false
					}
					grp.Update(sub)
				}
				return true
			})
			if ferr != nil {
				return nil, ferr
			}
			applyOp(ns, t.op, grp)
		case p.Resolver != nil && wildcards && strings.ContainsAny(t.pat, "*?"):
			if allNodes == nil {
				all, err := p.allNodeNames(namespace)
				if err != nil {
					return nil, err
				}
				allNodes = all
			}
			wc, err := p.matchWildcards(single(t.pat, ps), allNodes)
			if err != nil {
				return nil, err
			}
			applyOp(ns, t.op, wc)
		case t.op == ',' && ps.nd == nil:
			// ps was built for this operand alone: keep it rather than
			// copy it (a multi-dimensional one is copied below, which
			// folds it).
			ns.add(t.pat, ps, false)
		default:
			applyOp(ns, t.op, single(t.pat, ps))
		}
	}
	return ns, nil
}

// scanString is ClusterShell's ParsingEngine._scan_string: it cuts the
// expression at operators, reads brackets, and returns one pattern and its
// range sets per operand.
func (p *Parser) scanString(nsstr string) ([]scanned, error) {
	var out []scanned
	nextOp := byte(',')
	rest, more := nsstr, nsstr != ""
	for more && rest != "" {
		nsstr := pyfmt.LStrip(rest)
		op := nextOp
		opIdx, opc := nextOperator(nsstr)
		nextOp = opc
		var sets []*RangeSet
		var newpat string
		if bracketBeforeOp(nsstr, opIdx) {
			var pat strings.Builder
			sfx := nsstr
			for bracketBeforeOp(sfx, opIdx) {
				pfx, after, _ := strings.Cut(sfx, "[")
				rng, after2, ok := strings.Cut(after, "]")
				if !ok {
					return nil, &ParseError{Part: nsstr, Msg: "missing bracket"}
				}
				sfx = after2
				if strings.Contains(pfx, "]") {
					return nil, &ParseError{Part: pfx, Msg: "illegal closing bracket"}
				}
				if len(sfx) > 0 {
					braEnd := strings.IndexByte(sfx, ']')
					braStart := strings.IndexByte(sfx, '[')
					if braStart == -1 {
						braStart = braEnd + 1
					}
					if braEnd >= 0 && braEnd < braStart {
						return nil, &ParseError{Part: sfx, Msg: "illegal closing bracket"}
					}
				}
				pfxLen, sfxLen := len(pfx), len(sfx)
				var err error
				if sfxLen > 0 {
					if sfx, rng, err = amendTrailingDigits(sfx, rng); err != nil {
						return nil, err
					}
				}
				if pfxLen > 0 {
					if pfx, rng, err = amendLeadingDigits(pfx, rng); err != nil {
						return nil, err
					}
					if pfx != "" {
						ppat, psets, err := scanSingle(pfx, p.Autostep)
						if err != nil {
							return nil, err
						}
						pfx = ppat
						sets = append(sets, psets...)
					}
				}
				opIdx, nextOp = nextOperator(sfx)
				if len(sfx) > 0 && sfx[0] == '[' {
					return nil, &ParseError{Part: sfx, Msg: "illegal reopening bracket"}
				}
				pat.WriteString(pfx)
				pat.WriteString("%s")
				rs := &RangeSet{autostep: normAutostep(p.Autostep)}
				if err := rs.parse(rng); err != nil {
					return nil, badRange(err)
				}
				sets = append(sets, rs)
			}
			opIdx, nextOp = nextOperator(sfx)
			if opIdx < 0 {
				more = false
			} else {
				sfx, rest = sfx[:opIdx], sfx[opIdx+1:]
				if rest == "" {
					return nil, &ParseError{Msg: fmt.Sprintf("missing nodeset operand with '%c' operator", nextOp)}
				}
			}
			sfx = pyfmt.RStrip(sfx)
			if sfx != "" {
				spat, ssets, err := scanSingle(sfx, p.Autostep)
				if err != nil {
					return nil, err
				}
				pat.WriteString(spat)
				sets = append(sets, ssets...)
			}
			newpat = pat.String()
		} else {
			var node string
			if opIdx < 0 {
				node, more = nsstr, false
			} else {
				node, rest = nsstr[:opIdx], nsstr[opIdx+1:]
				if node == "" || rest == "" {
					part := node
					if part == "" {
						part = rest
					}
					return nil, &ParseError{Part: part, Msg: fmt.Sprintf("missing nodeset operand with '%c' operator", nextOp)}
				}
			}
			if strings.Contains(node, "]") {
				return nil, &ParseError{Part: node, Msg: "illegal closing bracket"}
			}
			var err error
			newpat, sets, err = scanSingle(pyfmt.RStrip(node), p.Autostep)
			if err != nil {
				return nil, err
			}
		}
		out = append(out, scanned{op: op, pat: newpat, sets: sets})
	}
	return out, nil
}

// bracketBeforeOp reports whether s opens a bracket before its first
// operator at opIdx (-1: none). Only the text before the operator is
// searched, so that long lists of plain names parse in linear time.
func bracketBeforeOp(s string, opIdx int) bool {
	if opIdx >= 0 {
		s = s[:opIdx]
	}
	return strings.IndexByte(s, '[') >= 0
}

// nextOperator returns the index and byte of the first operator in s.
func nextOperator(s string) (int, byte) {
	i := strings.IndexAny(s, ",!&^")
	if i < 0 {
		return -1, 0
	}
	return i, s[i]
}

// scanSingle is ClusterShell's _scan_string_single: a name without
// brackets, each run of digits becoming a one-index range set.
func scanSingle(s string, autostep int) (string, []*RangeSet, error) {
	if s == "" {
		return "", nil, &ParseError{Msg: "parse error"}
	}
	var pat strings.Builder
	var sets []*RangeSet
	i := 0
	for i < len(s) {
		j := i
		for j < len(s) && digitLen(s[j:]) == 0 {
			j++
		}
		pat.WriteString(s[i:j])
		k := j
		for k < len(s) {
			n := digitLen(s[k:])
			if n == 0 {
				break
			}
			k += n
		}
		if k > j {
			m, err := indexMember(s[j:k])
			if err != nil {
				return "", nil, err
			}
			pat.WriteString("%s")
			rs := &RangeSet{autostep: normAutostep(autostep)}
			rs.classes = []rsClass{{m.width, []span{{m.value, m.value}}}}
			sets = append(sets, rs)
		}
		i = k
	}
	return pat.String(), sets, nil
}

// digitLen returns the byte length of the decimal digit s starts with
// (ASCII or other Unicode digits, as Python's \d), or 0.
func digitLen(s string) int {
	if c := s[0]; c < utf8.RuneSelf {
		if isDigit(c) {
			return 1
		}
		return 0
	}
	r, n := utf8.DecodeRuneInString(s)
	if pyfmt.DecimalValue(r) >= 0 {
		return n
	}
	return 0
}

// ParseNode parses one node name taken literally: no operators, brackets
// or groups (ClusterShell's parse_string_single), as nodeset does for names
// made by -O.
func (p *Parser) ParseNode(name string) (*NodeSet, error) {
	return parseSingle(name, p.Autostep)
}

// indexMember reads the digits of an index found in a node name, with
// its padding (ClusterShell's _scan_string_single).
func indexMember(idx string) (member, error) {
	stripped := strings.TrimLeft(idx, "0")
	pad := 0
	if len(stripped) < len(idx) && pyLen(idx) > 1 {
		pad = pyLen(idx)
	}
	if pyLen(stripped) > maxIndexDigits {
		if aboveGoogol(stripped) {
			return member{}, badRange(&RangeParseError{idx, "invalid rangeset index"})
		}
		return member{}, badRange(&RangeParseError{idx, fmt.Sprintf("index too large (fleetsh supports at most %d digits)", maxIndexDigits)})
	}
	var v int64
	for _, r := range stripped {
		v = v*10 + int64(pyfmt.DecimalValue(r))
	}
	return memberOf(v, pad), nil
}

// parseSingle parses one node name without operators or groups.
func parseSingle(node string, autostep int) (*NodeSet, error) {
	pat, sets, err := scanSingle(escapePercent(pyfmt.Strip(node)), autostep)
	if err != nil {
		return nil, err
	}
	return single(pat, scanned{pat: pat, sets: sets}.patternSet(autostep)), nil
}

// amendLeadingDigits moves the digits that end the prefix of a bracket into
// the range: "node1[0-2]" is "node[10-12]".
func amendLeadingDigits(outer, inner string) (string, string, error) {
	strip := strings.TrimRight(outer, "0123456789")
	if len(strip) == len(outer) {
		return outer, inner, nil
	}
	digits := outer[len(strip):]
	rs, err := ParseRangeSet(inner)
	if err != nil {
		return "", "", badRange(err)
	}
	var elems []string
	subs, err := rs.Contiguous()
	if err != nil {
		return "", "", err
	}
	for _, sub := range subs {
		bounds := strings.Split(sub.String(), "-")
		for i := range bounds {
			bounds[i] = digits + bounds[i]
		}
		elems = append(elems, strings.Join(bounds, "-"))
	}
	return strip, strings.Join(elems, ","), nil
}

// amendTrailingDigits moves the digits that follow a bracket into the
// range: "node[1-2]0" is "node[10-20/10]".
func amendTrailingDigits(outer, inner string) (string, string, error) {
	strip := strings.TrimLeft(outer, "0123456789")
	if len(strip) == len(outer) {
		return outer, inner, nil
	}
	if strings.Contains(inner, "/") {
		return "", "", &ParseError{Part: outer, Msg: "illegal trailing digits after range with steps"}
	}
	digits := outer[:len(outer)-len(strip)]
	elems := strings.Split(inner, ",")
	for i, elem := range elems {
		bounds := strings.Split(elem, "-")
		for j := range bounds {
			bounds[j] += digits
		}
		e := strings.Join(bounds, "-")
		if strings.Contains(e, "-") {
			e += "/1" + strings.Repeat("0", len(digits))
		}
		elems[i] = e
	}
	return strip, strings.Join(elems, ","), nil
}
