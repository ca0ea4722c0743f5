package integration

// Case generator for TestNodesetDiff.
//
// The generator does not need to know what nodeset will print: the
// reference decides. Its job is to reach the corners where a
// re-implementation tends to drift: zero padding (and 1/01/001 living side
// by side), steps and autostep thresholds, nD names whose dimensions fold
// differently, left-to-right operator evaluation, options placed before and
// after the first non-option argument (after it they are node names), stdin
// parsing (comments, blank lines, a missing final newline), output shaping,
// RangeSet mode with negative ranges, groups, and ~10% malformed input that
// both sides must reject with the same status. Node sets stay small (the
// reference is a Python process per case) but their shapes vary a lot.

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
)

type caseGen struct {
	r *rand.Rand
}

func (g *caseGen) intn(n int) int           { return g.r.IntN(n) }
func (g *caseGen) chance(p float64) bool    { return g.r.Float64() < p }
func (g *caseGen) pick(xs ...string) string { return xs[g.intn(len(xs))] }

// next returns one case, drawing its family by weight.
func (g *caseGen) next() diffCase {
	families := []struct {
		w    int
		name string
		f    func() diffCase
	}{
		{14, "fold1d", g.case1D},
		{10, "shuffled", g.caseShuffled},
		{10, "nd", g.caseND},
		{9, "operators", g.caseOperators},
		{8, "setopts", g.caseSetOptions},
		{6, "autostep", g.caseAutostep},
		{7, "rangeset", g.caseRangeSet},
		{8, "stdin", g.caseStdin},
		{8, "groups", g.caseGroups},
		{5, "misc", g.caseMisc},
		{11, "malformed", g.caseMalformed},
	}
	total := 0
	for _, f := range families {
		total += f.w
	}
	n := g.intn(total)
	for _, f := range families {
		if n < f.w {
			c := f.f()
			c.kind = f.name
			return c
		}
		n -= f.w
	}
	panic("unreachable")
}

// ---------------------------------------------------------------- names

// prefix returns a node name prefix: letters with '-', '.', '_' inside or at
// the end; never starting with '-' (that would be an option).
func (g *caseGen) prefix() string {
	if g.chance(0.45) {
		return g.pick("node", "n", "cn", "gpu-", "io.", "login", "r_", "x", "compute-node-", "a.b-c_", "Node", "sw-")
	}
	var b strings.Builder
	k := 1 + g.intn(5)
	for i := 0; i < k; i++ {
		if g.chance(0.1) {
			b.WriteByte('A' + byte(g.intn(26)))
		} else {
			b.WriteByte('a' + byte(g.intn(26)))
		}
		if i < k-1 && g.chance(0.15) {
			b.WriteByte("-._"[g.intn(3)])
		}
	}
	if g.chance(0.4) {
		b.WriteByte("-._"[g.intn(3)])
	}
	return b.String()
}

// suffix returns a usually empty, digit-free suffix (digits would add a
// dimension; nD shapes are generated on purpose elsewhere).
func (g *caseGen) suffix() string {
	if g.chance(0.7) {
		return ""
	}
	return g.pick("-ipmi", ".ib", "_a", "x", "-bmc", ".mgmt", "-", "z.y")
}

// sep returns a non-empty, digit-free separator between two nD dimensions.
func (g *caseGen) sep() string {
	return g.pick("n", "p", "s", "-", ".", "_", "-ib", "c", "-r", "x.")
}

// ---------------------------------------------------------------- indexes

// idx is one numeric index as written: value v zero-padded to width pad
// (0 = no padding). 1, 01 and 001 are three different nodes.
type idx struct{ v, pad int }

func (i idx) String() string { return fmt.Sprintf("%0*d", i.pad, i.v) }

// padding returns a padding width for a whole set.
func (g *caseGen) padding() int {
	switch n := g.intn(10); {
	case n < 6:
		return 0
	case n < 8:
		return 2
	case n < 9:
		return 3
	default:
		return 4
	}
}

// indexes returns a random non-empty index set with its shape varying:
// one run, several runs, a step pattern (then step > 0) or sparse values.
func (g *caseGen) indexes(maxCount int) (set []idx, step int) {
	pad := g.padding()
	mixed := g.chance(0.12)
	base := g.intn(20)
	if g.chance(0.15) {
		base = g.intn(2000)
	}
	if g.chance(0.04) {
		base = 1000000 + g.intn(1000000000)
	}
	add := func(v int) {
		p := pad
		if mixed {
			p = []int{0, 2, 3}[g.intn(3)]
		}
		set = append(set, idx{v, p})
	}
	switch g.intn(4) {
	case 0: // one run
		n := 1 + g.intn(maxCount)
		for v := base; v < base+n; v++ {
			add(v)
		}
	case 1: // several runs
		v := base
		for r := 1 + g.intn(4); r > 0; r-- {
			n := 1 + g.intn(max(1, maxCount/4))
			for e := v + n; v < e; v++ {
				add(v)
			}
			v += 1 + g.intn(6)
		}
	case 2: // a step pattern, sometimes followed by a run
		step = 2 + g.intn(4)
		n := 2 + g.intn(min(10, maxCount))
		for k := 0; k < n; k++ {
			add(base + k*step)
		}
		if g.chance(0.4) {
			v := base + n*step + g.intn(5)
			for e := v + 1 + g.intn(4); v < e; v++ {
				add(v)
			}
		}
	default: // sparse
		n := 1 + g.intn(maxCount)
		span := n * (2 + g.intn(4))
		for k := 0; k < n; k++ {
			add(base + g.intn(span))
		}
	}
	return set, step
}

// rangeList renders an index set as the inside of brackets ("1-3,5,07-09"),
// as a ClusterShell user would write it: runs per padding, optionally the
// given step, pieces optionally unsorted.
func (g *caseGen) rangeList(set []idx, step int) string {
	s := append([]idx(nil), set...)
	sort.Slice(s, func(a, b int) bool {
		if s[a].pad != s[b].pad {
			return s[a].pad < s[b].pad
		}
		return s[a].v < s[b].v
	})
	// dedupe identical spellings
	u := s[:0]
	for i, x := range s {
		if i == 0 || x.String() != s[i-1].String() || x.pad != s[i-1].pad {
			u = append(u, x)
		}
	}
	s = u
	var pieces []string
	useStep := step > 0 && g.chance(0.5)
	for i := 0; i < len(s); {
		j := i
		// a run: same padding, same printed width (a padded range must
		// have bounds of equal length), consecutive (or stepped) values
		for j+1 < len(s) && s[j+1].pad == s[i].pad && len(s[j+1].String()) == len(s[i].String()) {
			d := s[j+1].v - s[j].v
			if d == 1 && !useStep || useStep && d == step {
				j++
				continue
			}
			break
		}
		switch {
		case j == i:
			pieces = append(pieces, s[i].String())
		case useStep:
			pieces = append(pieces, s[i].String()+"-"+s[j].String()+"/"+strconv.Itoa(step))
		default:
			pieces = append(pieces, s[i].String()+"-"+s[j].String())
		}
		i = j + 1
	}
	if g.chance(0.15) {
		g.r.Shuffle(len(pieces), func(a, b int) { pieces[a], pieces[b] = pieces[b], pieces[a] })
	}
	return strings.Join(pieces, ",")
}

// ---------------------------------------------------------------- 1D and nD sets

// nodeSpec is a set of names: either a 1D prefix[idx]suffix set or an nD
// product of per-dimension index sets.
type nodeSpec struct {
	parts []string // len(dims)+1 literal parts around the dimensions
	dims  [][]idx
	steps []int
}

func (g *caseGen) spec1D(maxCount int) nodeSpec {
	set, step := g.indexes(maxCount)
	return nodeSpec{parts: []string{g.prefix(), g.suffix()}, dims: [][]idx{set}, steps: []int{step}}
}

func (g *caseGen) specND() nodeSpec {
	nd := 2 + g.intn(3)
	if g.chance(0.4) {
		nd = 2
	}
	sp := nodeSpec{parts: []string{g.prefix()}}
	for d := 0; d < nd; d++ {
		set, step := g.indexes(map[int]int{2: 8, 3: 4, 4: 3}[nd])
		sp.dims = append(sp.dims, set)
		sp.steps = append(sp.steps, step)
		if d < nd-1 {
			sp.parts = append(sp.parts, g.sep())
		}
	}
	sp.parts = append(sp.parts, g.suffix())
	return sp
}

// sameShape returns another spec with the same literal parts (so set
// operations between the two actually interact) and fresh indexes.
func (g *caseGen) sameShape(sp nodeSpec) nodeSpec {
	out := nodeSpec{parts: sp.parts}
	for d := range sp.dims {
		set, step := g.indexes(max(3, 12/len(sp.dims)))
		if g.chance(0.6) && len(sp.dims[d]) > 0 {
			// overlap: shift the original set a little
			shift := g.intn(5) - 2
			set = set[:0]
			for _, x := range sp.dims[d] {
				if x.v+shift >= 0 && g.chance(0.8) {
					set = append(set, idx{x.v + shift, x.pad})
				}
			}
			if len(set) == 0 {
				set = append(set, sp.dims[d][0])
			}
			step = 0
		}
		out.dims = append(out.dims, set)
		out.steps = append(out.steps, step)
	}
	return out
}

// folded renders the spec as one bracketed expression (single-valued
// dimensions are sometimes written without brackets).
func (g *caseGen) folded(sp nodeSpec) string {
	var b strings.Builder
	for d, set := range sp.dims {
		b.WriteString(sp.parts[d])
		if len(set) == 1 && g.chance(0.5) {
			b.WriteString(set[0].String())
		} else {
			b.WriteString("[" + g.rangeList(set, sp.steps[d]) + "]")
		}
	}
	b.WriteString(sp.parts[len(sp.dims)])
	return b.String()
}

// expanded returns every name of the spec (the cartesian product), capped.
func (sp nodeSpec) expanded(limit int) []string {
	names := []string{sp.parts[0]}
	for d, set := range sp.dims {
		var next []string
		for _, n := range names {
			for _, x := range set {
				next = append(next, n+x.String()+sp.parts[d+1])
				if len(next) >= limit {
					break
				}
			}
		}
		names = next
	}
	return names
}

func (g *caseGen) shuffle(xs []string) {
	g.r.Shuffle(len(xs), func(a, b int) { xs[a], xs[b] = xs[b], xs[a] })
}

// operands renders a node set as command-line operands: folded pieces or
// expanded names, one per argument or comma-joined in one argument.
func (g *caseGen) operands(sp nodeSpec) []string {
	var items []string
	if g.chance(0.65) {
		items = []string{g.folded(sp)}
		// split the first dimension's indexes over several expressions
		if len(sp.dims[0]) > 3 && g.chance(0.4) {
			cut := 1 + g.intn(len(sp.dims[0])-1)
			a, b := sp, sp
			a.dims = append([][]idx{sp.dims[0][:cut]}, sp.dims[1:]...)
			b.dims = append([][]idx{sp.dims[0][cut:]}, sp.dims[1:]...)
			items = []string{g.folded(a), g.folded(b)}
		}
	} else {
		items = sp.expanded(150)
		g.shuffle(items)
	}
	if len(items) > 1 && g.chance(0.5) {
		return []string{strings.Join(items, ",")}
	}
	return items
}

// ---------------------------------------------------------------- options

// command returns -f, -e or -c in one of their spellings.
func (g *caseGen) command() string {
	switch n := g.intn(20); {
	case n < 10:
		return g.pick("-f", "-f", "-f", "--fold")
	case n < 15:
		return g.pick("-e", "-e", "--expand")
	default:
		return g.pick("-c", "-c", "--count")
	}
}

// opt renders an option with a value in one of optparse's spellings.
func (g *caseGen) opt(short, long, val string) []string {
	switch {
	case short != "" && g.chance(0.5):
		if g.chance(0.3) && val != "" {
			return []string{short + val}
		}
		return []string{short, val}
	case g.chance(0.5):
		return []string{long + "=" + val}
	default:
		return []string{long, val}
	}
}

// shaping returns random output options fitting the command.
func (g *caseGen) shaping(cmd string, nd bool) []string {
	var o []string
	if g.chance(0.2) {
		o = append(o, g.opt("-S", "--separator", g.pick(`\n`, ",", ":", " ", `\t`, " + ", "", `\x41`, `\101`, `\u2022`, `\N{BULLET}`, `\\`))...)
	}
	if g.chance(0.15) {
		f := g.pick("%s", "pre-%s", "%s-ipmi", "%s.ib", "[%s]", "bmc_%s")
		if cmd == "-c" || cmd == "--count" {
			f = g.pick("%d", "n=%d", "%s", "%d nodes")
		}
		o = append(o, g.opt("-O", "--output-format", f)...)
	}
	if g.chance(0.12) {
		o = append(o, g.opt("-I", "--slice", g.pick("0", "0-2", "1,3,5-9", "0-100/3", "2-5", "4-7/2", "3", ""))...)
	}
	switch n := g.intn(10); {
	case n == 0:
		o = append(o, g.opt("", "--split", strconv.Itoa(1+g.intn(5)))...)
	case n == 1:
		o = append(o, "--contiguous")
	}
	if g.chance(0.1) {
		o = append(o, g.opt("", "--autostep", g.pick("2", "3", "4", "auto", "50%", "100%", "1"))...)
	}
	if nd && (cmd == "-f" || cmd == "--fold") && g.chance(0.3) {
		o = append(o, g.opt("", "--axis", g.pick("1", "2", "1-2", "-1", "-2", "0,2", "3", "2-4"))...)
	}
	return o
}

// assemble builds argv: options (in random order, the command among them),
// then the node operands.
func (g *caseGen) assemble(cmd string, opts []string, operands []string) []string {
	// keep each option with its value: group tokens
	type tok []string
	var toks []tok
	for i := 0; i < len(opts); i++ {
		o := opts[i]
		if (o == "-S" || o == "-O" || o == "-I" || o == "-x" || o == "-i" || o == "-X" || o == "-s" ||
			o == "--separator" || o == "--output-format" || o == "--slice" || o == "--split" ||
			o == "--autostep" || o == "--axis" || o == "--groupsconf" || o == "--exclude" || o == "--intersection" || o == "--xor") && i+1 < len(opts) {
			toks = append(toks, tok{o, opts[i+1]})
			i++
			continue
		}
		toks = append(toks, tok{o})
	}
	toks = append(toks, tok{cmd})
	g.r.Shuffle(len(toks), func(a, b int) { toks[a], toks[b] = toks[b], toks[a] })
	var args []string
	for _, t := range toks {
		args = append(args, t...)
	}
	return append(args, operands...)
}

// ---------------------------------------------------------------- families

func (g *caseGen) case1D() diffCase {
	var ops []string
	for k := 1 + g.intn(3); k > 0; k-- {
		ops = append(ops, g.operands(g.spec1D(30))...)
	}
	if g.chance(0.2) {
		ops = append(ops, g.prefix()) // a name without digits
	}
	cmd := g.command()
	return diffCase{args: g.assemble(cmd, g.shaping(cmd, false), ops)}
}

// caseShuffled folds a shuffled list of expanded names, as from a log.
func (g *caseGen) caseShuffled() diffCase {
	var names []string
	for k := 1 + g.intn(3); k > 0; k-- {
		sp := g.spec1D(60)
		if g.chance(0.3) {
			sp = g.specND()
		}
		names = append(names, sp.expanded(200)...)
	}
	g.shuffle(names)
	cmd := g.pick("-f", "-f", "-f", "-c", "-e")
	var opts []string
	if g.chance(0.2) {
		opts = g.shaping(cmd, true)
	}
	switch g.intn(3) {
	case 0: // one per argument
		return diffCase{args: g.assemble(cmd, opts, names)}
	case 1: // all in one argument
		return diffCase{args: g.assemble(cmd, opts, []string{strings.Join(names, ",")})}
	default: // stdin
		return diffCase{args: g.assemble(cmd, opts, nil), stdin: g.stdinText(names)}
	}
}

func (g *caseGen) caseND() diffCase {
	sp := g.specND()
	ops := g.operands(sp)
	if g.chance(0.4) {
		// a second set of the same shape: holes and overlaps
		ops = append(ops, g.operands(g.sameShape(sp))...)
	}
	if g.chance(0.2) {
		ops = append(ops, g.folded(g.spec1D(6)))
	}
	cmd := g.command()
	opts := g.shaping(cmd, true)
	if (cmd == "-f" || cmd == "--fold") && g.chance(0.3) {
		opts = append(opts, g.opt("", "--axis", g.pick("1", "2", "1-2", "-1", "-2", "0,2", "3", "2-4", "1,3"))...)
	}
	return diffCase{args: g.assemble(cmd, opts, ops)}
}

// caseOperators chains , ! & ^ inside single arguments (left to right).
func (g *caseGen) caseOperators() diffCase {
	var base nodeSpec
	if g.chance(0.25) {
		base = g.specND()
	} else {
		base = g.spec1D(25)
	}
	var ops []string
	for a := 1 + g.intn(2); a > 0; a-- {
		var b strings.Builder
		b.WriteString(g.folded(base))
		for k := 1 + g.intn(4); k > 0; k-- {
			op := g.pick(",", "!", "&", "^")
			if g.chance(0.15) {
				op = " " + op + " "
			}
			b.WriteString(op)
			if g.chance(0.15) {
				b.WriteString(g.folded(g.spec1D(5))) // unrelated shape
			} else {
				b.WriteString(g.folded(g.sameShape(base)))
			}
		}
		ops = append(ops, b.String())
	}
	cmd := g.command()
	return diffCase{args: g.assemble(cmd, g.shaping(cmd, len(base.dims) > 1), ops)}
}

// caseSetOptions uses -x/-i/-X, before the first non-option (applied to
// the still empty set, with a warning) and/or after it (applied in order).
func (g *caseGen) caseSetOptions() diffCase {
	sp := g.spec1D(30)
	if g.chance(0.2) {
		sp = g.specND()
	}
	// After the first non-option only the exact words -x/--exclude (and
	// so on) are operations, so "--exclude=v" there is a node name: keep
	// that spelling rare after it.
	setop := func(after bool) []string {
		short := g.pick("-x", "-i", "-X")
		long := map[string]string{"-x": "--exclude", "-i": "--intersection", "-X": "--xor"}[short]
		val := g.folded(g.sameShape(sp))
		if g.chance(0.1) {
			val = strings.Join(g.sameShape(sp).expanded(20), "\n") // multi-line value
		}
		switch {
		case g.chance(0.3) && (!after || g.chance(0.1)):
			return []string{long + "=" + val}
		case g.chance(0.2):
			return []string{long, val}
		}
		return []string{short, val}
	}
	var before, after []string
	for k := g.intn(3); k > 0; k-- {
		before = append(before, setop(false)...)
	}
	for k := g.intn(4); k > 0; k-- {
		after = append(after, setop(true)...)
		if g.chance(0.3) {
			after = append(after, g.folded(g.sameShape(sp))) // plain union
		}
	}
	if len(before)+len(after) == 0 {
		after = setop(true)
	}
	if g.chance(0.15) {
		before = append(before, "-q")
	}
	cmd := g.command()
	ops := append([]string{g.folded(sp)}, after...)
	return diffCase{args: g.assemble(cmd, append(before, g.shaping(cmd, false)...), ops)}
}

func (g *caseGen) caseAutostep() diffCase {
	var sp nodeSpec
	for {
		sp = g.spec1D(20)
		if sp.steps[0] > 0 || g.chance(0.3) {
			break
		}
	}
	var ops []string
	for k := 1 + g.intn(2); k > 0; k-- {
		if k == 1 {
			ops = append(ops, g.operands(sp)...)
		} else {
			ops = append(ops, g.operands(g.spec1D(15))...)
		}
	}
	if g.chance(0.2) {
		nd := g.specND()
		ops = append(ops, g.folded(nd))
	}
	cmd := g.pick("-f", "-f", "-f", "-e", "-c")
	opts := g.opt("", "--autostep", g.pick("1", "2", "3", "4", "5", "8", "auto", "auto", "10%", "50%", "75%", "100%", "33.3%"))
	if g.chance(0.2) {
		opts = append(opts, g.shaping(cmd, true)...)
	}
	return diffCase{args: g.assemble(cmd, opts, ops)}
}

// rangeElem is one RangeSet element, with negative values.
func (g *caseGen) rangeElem() string {
	lo := g.intn(40) - 15
	if g.chance(0.1) {
		lo = g.intn(1000)
	}
	switch g.intn(5) {
	case 0:
		return strconv.Itoa(lo)
	case 1:
		if lo >= 0 && g.chance(0.4) {
			w := 2 + g.intn(2)
			return fmt.Sprintf("%0*d-%0*d", w, lo, w, lo+g.intn(9))
		}
		return fmt.Sprintf("%d-%d", lo, lo+g.intn(12))
	case 2:
		return fmt.Sprintf("%d-%d/%d", lo, lo+g.intn(20), 1+g.intn(4))
	default:
		return fmt.Sprintf("%d-%d", lo, lo+g.intn(5))
	}
}

func (g *caseGen) caseRangeSet() diffCase {
	var ops []string
	for k := 1 + g.intn(3); k > 0; k-- {
		var els []string
		for e := 1 + g.intn(4); e > 0; e-- {
			els = append(els, g.rangeElem())
		}
		ops = append(ops, strings.Join(els, ","))
	}
	cmd := g.command()
	opts := []string{g.pick("-R", "--rangeset")}
	opts = append(opts, g.shaping(cmd, false)...)
	args := g.assemble(cmd, opts, nil)
	if g.chance(0.2) {
		return diffCase{args: args, stdin: g.stdinText(ops)}
	}
	if g.chance(0.3) {
		ops = append(ops, g.pick("-x", "-i", "-X"), g.rangeElem())
	}
	if strings.HasPrefix(ops[0], "-") && g.chance(0.8) {
		// a leading negative range would be read as an option
		args = append(args, "--")
	}
	return diffCase{args: append(args, ops...)}
}

// stdinText lays out tokens the way files fed to nodeset look: several per
// line, blank lines, comments, and rarely no final newline (ClusterShell
// then drops the last character of the last line; we must too).
func (g *caseGen) stdinText(tokens []string) string {
	var b strings.Builder
	for i, t := range tokens {
		b.WriteString(t)
		switch {
		case i == len(tokens)-1:
		case g.chance(0.5):
			b.WriteString("\n")
		case g.chance(0.1):
			b.WriteString("\t")
		default:
			b.WriteString(g.pick(" ", "  "))
		}
		if g.chance(0.03) {
			b.WriteString(" # comment " + g.prefix() + "9\n")
		}
		if g.chance(0.03) {
			b.WriteString("\n\n")
		}
	}
	if g.chance(0.05) {
		return b.String() // no final newline
	}
	if g.chance(0.05) {
		b.WriteString("\n# trailing comment")
	}
	return b.String() + "\n"
}

func (g *caseGen) caseStdin() diffCase {
	sp := g.spec1D(40)
	if g.chance(0.25) {
		sp = g.specND()
	}
	var tokens []string
	if g.chance(0.5) {
		tokens = sp.expanded(150)
		g.shuffle(tokens)
	} else {
		tokens = g.operands(sp)
	}
	cmd := g.command()
	opts := []string{}
	if g.chance(0.25) {
		opts = g.shaping(cmd, len(sp.dims) > 1)
	}
	stdin := g.stdinText(tokens)
	other := g.folded(g.sameShape(sp))
	switch g.intn(6) {
	case 0, 1: // no node argument: stdin is read
		return diffCase{args: g.assemble(cmd, opts, nil), stdin: stdin}
	case 2: // "-" among arguments
		ops := []string{other, "-"}
		if g.chance(0.5) {
			ops = []string{"-", other}
		}
		return diffCase{args: g.assemble(cmd, opts, ops), stdin: stdin}
	case 3: // set operation with stdin after the first argument
		return diffCase{args: g.assemble(cmd, opts, []string{other, g.pick("-x", "-i", "-X"), "-"}), stdin: stdin}
	case 4: // set operation option with stdin before it
		opts = append(opts, g.pick("-x", "-i", "-X"), "-")
		return diffCase{args: g.assemble(cmd, opts, []string{other}), stdin: stdin}
	default: // stdin given but not read (an argument is present)
		return diffCase{args: g.assemble(cmd, opts, []string{other}), stdin: stdin}
	}
}

// groupRef returns a group reference for testdata/nodeset/groups.conf.
func (g *caseGen) groupRef() string {
	return g.pick("@compute", "@gpu", "@login", "@io", "@mgmt", "@all", "@nosuch",
		"@cluster:compute", "@rack:r1", "@rack:r[1-2]", "@rack:r[2-4]", "@rack:grid",
		"@role:web", "@role:cache", "@role:pads", "@flat:adm", "@flat:svc",
		"@*", "@rack:*", "@role:*", "@flat:*", "@@rack", "@@role", "@@cluster", "@@flat",
		"@compute!@gpu", "@rack:r1&node[1-20]", "@rack:r[1-4]^@compute")
}

func (g *caseGen) caseGroups() diffCase {
	opts := []string{"--groupsconf", diffGroupsConf}
	if g.chance(0.25) {
		opts = append(opts, "-s", g.pick("rack", "role", "cluster", "flat"))
	}
	var ops []string
	for k := 1 + g.intn(3); k > 0; k-- {
		if g.chance(0.7) {
			ops = append(ops, g.groupRef())
		} else {
			ops = append(ops, g.pick("node[1-20]", "node[10-70]", "gpu-[01-04]", "login1", "n[1-4]", "r1n[1-8]", "r[1-2]n[1-4]", "svc1", "node"+strconv.Itoa(1+g.intn(70))))
		}
	}
	if g.chance(0.2) {
		ops = append(ops, g.pick("-x", "-i", "-X"), g.groupRef())
	}
	var cmd string
	switch n := g.intn(10); {
	case n < 4:
		cmd = g.command()
	default:
		cmd = g.pick("-r", "--regroup")
		if g.chance(0.3) {
			opts = append(opts, "-G")
		}
	}
	if g.chance(0.1) {
		opts = append(opts, "-a")
		if g.chance(0.5) {
			ops = nil
		}
	}
	if g.chance(0.1) {
		opts = append(opts, g.opt("-O", "--output-format", g.pick("%s", "<%s>", "%s-bmc"))...)
	}
	if g.chance(0.1) {
		opts = append(opts, g.opt("", "--split", strconv.Itoa(1+g.intn(3)))...)
	}
	return diffCase{args: g.assemble(cmd, opts, ops)}
}

// caseMisc covers arguments that only look like options, long options,
// empty operands and whitespace inside arguments.
func (g *caseGen) caseMisc() diffCase {
	sp := g.spec1D(10)
	a := g.folded(sp)
	switch g.intn(8) {
	case 0: // options after the first non-option are node names
		return diffCase{args: []string{g.command(), a, g.pick("-r", "-c", "-e", "-f", "-R", "-q", "-G", "-a")}}
	case 1: // whitespace inside one argument is part of a name
		return diffCase{args: []string{g.command(), a + " " + g.folded(g.spec1D(3))}}
	case 2: // whitespace around operators is stripped
		return diffCase{args: []string{g.command(), a + g.pick(" , ", " ! ", " & ", " ^ ") + g.folded(g.sameShape(sp))}}
	case 3: // newlines split one argument in several node sets
		return diffCase{args: []string{g.command(), a + "\n" + g.folded(g.sameShape(sp)) + g.pick("", "\n")}}
	case 4: // empty operands
		return diffCase{args: []string{g.command(), "", a, ""}}
	case 5: // "--" ends options
		return diffCase{args: []string{g.command(), "--", a}}
	case 6: // quiet, repeated command
		cmd := g.command()
		return diffCase{args: []string{"-q", cmd, cmd, a}}
	default: // an option given after the command, before the nodes
		cmd := g.command()
		return diffCase{args: append([]string{cmd}, append(g.shaping(cmd, false), a)...)}
	}
}

// caseMalformed mixes one broken token or option into an otherwise valid
// command line: both sides must fail with the same status.
func (g *caseGen) caseMalformed() diffCase {
	p := g.prefix()
	bad := g.pick(
		p+"[5-1]", p+"[1-3", p+"[]", p+"[1-3]]", p+"[1-3],,"+p+"5", p+"[1-010]",
		p+"[01-100]", p+"[a-b]", p+"[1-3/0]", ","+p+"1", p+"1,", p+"1!", "!"+p+"1",
		p+"[1-2]&", p+"[[1]]", p+"]", p+"[1,,2]", p+"[1-]", p+"[1-3/x]", p+"[1-2]-[a]",
		p+"[1-2]^^"+p+"1", "&", ",", p+"[-1-2]", p+"[1-2",
	)
	cmd := g.command()
	switch g.intn(10) {
	case 0: // option errors (optparse: exit 2)
		v := g.pick("--split=x", "--autostep=x", "--autostep=", "-S", "--nosuch", "-z", "--s", "--axis=1")
		if v == "--axis=1" {
			cmd = g.pick("-e", "-c")
		}
		args := []string{cmd, v}
		if v != "-S" {
			args = append(args, g.folded(g.spec1D(5)))
		}
		return diffCase{args: args}
	case 1: // no command, or two
		if g.chance(0.5) {
			return diffCase{args: []string{g.folded(g.spec1D(5))}}
		}
		return diffCase{args: []string{"-f", g.pick("-e", "-c", "-r", "-l", "--list-sources"), g.folded(g.spec1D(5))}}
	case 2: // broken value of a set operation
		return diffCase{args: []string{cmd, g.folded(g.spec1D(5)), g.pick("-x", "-i", "-X"), bad}}
	case 3: // broken stdin
		return diffCase{args: []string{cmd}, stdin: g.folded(g.spec1D(5)) + " " + bad + "\n"}
	case 4: // -R errors
		return diffCase{args: []string{"-R", cmd, g.pick("5-1", "a", "1-3!2", "[1-2]", "1-2/0", "01-100", "-05--02", "1,,2")}}
	default:
		ops := []string{g.folded(g.spec1D(5)), bad}
		if g.chance(0.5) {
			ops[0], ops[1] = ops[1], ops[0]
		}
		return diffCase{args: []string{cmd, strings.Join(ops, g.pick(",", "!", "&"))}}
	}
}
