package nodesetcli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/fleetsh/fleetsh/internal/clispec"
	"github.com/fleetsh/fleetsh/internal/optparse"
	"github.com/fleetsh/fleetsh/internal/pyfmt"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

type environ struct {
	stdin          io.Reader
	stdout, stderr io.Writer // stdout is out
	getenv         func(string) string

	out  *bufio.Writer // buffers raw
	raw  io.Writer     // the caller's standard output
	werr error         // first error of a write to raw by writeLine
}

// directLine is the length from which writeLine bypasses the buffer.
const directLine = 16 << 10

// writeLine writes s and a newline to standard output. A long line (the
// fold of a large set) goes to raw directly, after what is buffered,
// rather than through the buffer: copying 50 KB into it would write a
// dozen pages of new memory for nothing (see RESULTS.md in bench/nodeset).
// Errors are kept as bufio.Writer keeps them: the first one stops all
// output, and Main reports it.
func (e *environ) writeLine(s string) {
	if e.werr != nil {
		return
	}
	if len(s) >= directLine && e.out.Flush() == nil {
		if _, err := io.WriteString(e.raw, s); err != nil {
			e.werr = err
			return
		}
		s = ""
	}
	io.WriteString(e.out, s)
	io.WriteString(e.out, "\n")
}

func (e *environ) lookup(k string) (string, bool) {
	v := e.getenv(k)
	return v, v != ""
}

// exitError carries the exit status of a failure already reported.
type exitError struct{ status int }

func (e *exitError) Error() string { return fmt.Sprintf("exit status %d", e.status) }

// Main runs the nodeset command with args (without the program name) and
// returns its exit status. getenv is used for COLUMNS and for locating
// groups.conf (HOME, XDG_CONFIG_HOME, CLUSTERSHELL_CFGDIR).
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if clispec.Serve(args, stdout, cliSpec) {
		return 0
	}
	out := bufio.NewWriterSize(stdout, 64<<10)
	env := &environ{stdin: stdin, stdout: out, stderr: stderr, getenv: getenv, out: out, raw: stdout}
	err := run(args, env)
	if ferr := out.Flush(); ferr != nil && err == nil {
		err = ferr
	}
	if env.werr != nil && err == nil {
		err = env.werr
	}
	if err == nil {
		return 0
	}
	var ee *optparse.ExitError
	var xe *exitError
	switch {
	case errors.As(err, &ee):
		return ee.Status
	case errors.As(err, &xe):
		return xe.status
	}
	fmt.Fprintln(stderr, errorLine(err))
	return 1
}

// errorLine formats an error as ClusterShell's handle_generic_error and
// nodeset's main do.
func errorLine(err error) string {
	if line, ok := ErrorLine("nodeset", err); ok {
		return line
	}
	return "ERROR: " + err.Error()
}

type command struct {
	p        *optparse.Parser
	v        *optparse.Values
	env      *environ
	res      *nodeset.LazyResolver
	parser   *nodeset.Parser
	rangeset bool
	autostep int // for computing; 0: none
}

func (c *command) newSet() xset {
	if c.rangeset {
		rs := &nodeset.RangeSet{}
		rs.SetAutostep(c.autostep)
		return &rangeSet{rs, c.autostep}
	}
	ns := nodeset.New()
	ns.SetAutostep(c.autostep)
	return &nodeSet{ns: ns, p: c.parser}
}

func run(args []string, env *environ) error {
	p := newParser("nodeset", env)
	v, args, err := p.Parse(args)
	if err != nil {
		return err
	}
	c := &command{p: p, v: v, env: env}
	if conf := v.String("groupsconf"); !v.IsNone("groupsconf") {
		c.res = nodeset.NewLazyResolver(conf)
	} else {
		c.res = nodeset.NewLazyResolver(nodeset.DefaultConfigPaths(env.lookup)...)
	}
	if v.Bool("debug") {
		c.res.Debug = env.stderr
	}
	c.parser = &nodeset.Parser{Resolver: c.res}

	cmdcount := 0
	for _, k := range []string{"count", "expand", "fold", "list", "listall", "regroup", "groupsources"} {
		if v.Bool(k) {
			cmdcount++
		}
	}
	switch {
	case cmdcount == 0:
		return p.Error("No command specified.")
	case cmdcount > 1:
		return p.Error("Multiple commands not allowed.")
	}
	c.rangeset = v.Bool("rangeset")
	if (v.Bool("all") || v.Bool("regroup")) && c.rangeset {
		return p.Error("-a/-r only supported in NodeSet mode")
	}
	maxsplit := 1
	if !v.IsNone("maxsplit") {
		if v.Bool("contiguous") {
			return p.Error("incompatible splitting options (split, contiguous)")
		}
		maxsplit = v.Int("maxsplit")
	}
	if v.Bool("axis") && (!v.Bool("fold") || c.rangeset) {
		return p.Error("--axis option is only supported when folding nodeset")
	}
	groupsource := v.String("groupsource")
	if groupsource != "" && !v.Bool("quiet") && c.rangeset {
		fmt.Fprintf(env.stderr, "WARNING: option group source \"%s\" ignored\n", groupsource)
	}
	if groupsource != "" {
		if err := c.res.SetDefaultSource(groupsource); err != nil {
			return err
		}
	}
	if v.Bool("groupsources") {
		disp := " (default)"
		if v.Bool("quiet") {
			disp = ""
		}
		r, err := c.res.Load()
		if err != nil {
			return err
		}
		for _, s := range r.Sources() {
			fmt.Fprintf(env.stdout, "%s%s\n", s, disp)
			disp = ""
		}
		return nil
	}

	autoOpt := v.Get("autostep")
	if n, ok := autoOpt.(int); ok {
		c.autostep = max(n, 1)
	}
	c.parser.Autostep = c.autostep
	x := c.newSet()
	if ns, ok := x.(*nodeSet); ok {
		ns.fresh = true
	}
	if v.Bool("all") {
		all, err := c.parser.All("")
		if err != nil {
			return err
		}
		x.(*nodeSet).fresh = false
		x.(*nodeSet).ns.Update(all)
	}
	listing := v.Bool("list") || v.Bool("listall")
	if len(args) == 0 && !v.Bool("all") && !listing {
		if err := c.processStdin(x.update, x.take); err != nil {
			return err
		}
	}
	and, sub, xor := v.Strings("and_nodes"), v.Strings("sub_nodes"), v.Strings("xor_nodes")
	if x.len() == 0 && len(and)+len(sub)+len(xor) > 0 && !v.Bool("quiet") {
		fmt.Fprintln(env.stderr, "WARNING: empty left operand for set operation")
	}
	for _, op := range []struct {
		vals []string
		f    func(xset)
	}{{and, x.intersectionUpdate}, {sub, x.differenceUpdate}, {xor, x.symmetricDifferenceUpdate}} {
		for _, nodes := range op.vals {
			if nodes == "-" {
				if err := c.processStdin(op.f, nil); err != nil {
					return err
				}
				continue
			}
			o, err := x.parse(nodes)
			if err != nil {
				return err
			}
			op.f(o)
		}
	}
	if err := c.compute(x, args); err != nil {
		return err
	}
	if listing {
		return c.commandList(x, and, sub, xor)
	}
	return c.output(x, autoOpt, maxsplit)
}

// compute applies the operands and the -i/-x/-X operations found after the
// first argument, in order (ClusterShell's compute_nodeset).
func (c *command) compute(x xset, args []string) error {
	for len(args) > 0 {
		arg := args[0]
		args = args[1:]
		var op func(xset)
		switch arg {
		case "-i", "--intersection":
			op = x.intersectionUpdate
		case "-x", "--exclude":
			op = x.differenceUpdate
		case "-X", "--xor":
			op = x.symmetricDifferenceUpdate
		case "-":
			if err := c.processStdin(x.update, x.take); err != nil {
				return err
			}
			continue
		default:
			if err := c.updateLines(x, x.update, arg, true); err != nil {
				return err
			}
			continue
		}
		if len(args) == 0 {
			return errors.New("pop from empty list")
		}
		val := args[0]
		args = args[1:]
		if val == "-" {
			if err := c.processStdin(op, nil); err != nil {
				return err
			}
			continue
		}
		if err := c.updateLines(x, op, val, false); err != nil {
			return err
		}
	}
	return nil
}

// updateLines applies op with the union of the lines of s (ClusterShell's
// class_set.fromlist(s.splitlines())); union says op is x.update.
func (c *command) updateLines(x xset, op func(xset), s string, union bool) error {
	lines := pyfmt.Splitlines(s)
	if len(lines) == 1 {
		// The usual single line: the union of one set is that set, with
		// the command's autostep that parse gives it already.
		o, err := x.parse(lines[0])
		if err != nil {
			return err
		}
		if union {
			x.take(o)
		} else {
			op(o)
		}
		return nil
	}
	acc := x.empty()
	acc.setAutostep(c.autostep)
	for _, line := range lines {
		o, err := x.parse(line)
		if err != nil {
			return err
		}
		acc.update(o)
	}
	op(acc)
	return nil
}

// processStdin reads nodesets from standard input, one or more per line,
// "#" starting a comment, and applies op with their union. take, if not
// nil, is x.take for op x.update.
//
// Input is read a block at a time rather than whole: a list of a million
// names is 11 MB, and in a process that lives a few milliseconds each new
// page written costs a page fault. Names read are never kept (the sets
// copy what they store) but in an error, which is made again from a copy
// of its line.
func (c *command) processStdin(op, take func(xset)) error {
	tmp := c.newSet()
	fast, _ := tmp.(*nodeSet)
	// flat stays true while every name read is a plain name with at most
	// one number: the union has no multi-dimensional pattern then, so
	// that take may adopt it (copying it would only copy it).
	flat := true
	addLine := func(line string) error {
		for elem := range pyfmt.Fields(line) {
			// A plain name needs none of the parser's work.
			if fast != nil && plainName(elem) {
				if flat && !oneNumber(elem) {
					flat = false
				}
				if err := fast.ns.AddNode(elem); err != nil {
					return err
				}
				continue
			}
			flat = false
			// The parser may keep parts of what it reads (group
			// names in caches): give it its own copy.
			o, err := tmp.parse(strings.Clone(elem))
			if err != nil {
				return err
			}
			tmp.update(o)
		}
		return nil
	}
	br := bufio.NewReaderSize(c.env.stdin, 64<<10)
	var long []byte // a line longer than the block, gathered
	for {
		seg, rerr := br.ReadSlice('\n')
		if rerr == bufio.ErrBufferFull {
			long = append(long, seg...)
			continue
		}
		if long != nil {
			seg, long = append(long, seg...), nil
		}
		if rerr != nil && rerr != io.EOF {
			return fmt.Errorf("read standard input: %w", rerr)
		}
		// seg ends with its '\n' but at the end of the input, and is
		// valid until the next read.
		text := unsafe.String(unsafe.SliceData(seg), len(seg))
		if strings.IndexByte(text, '\r') >= 0 { // Python reads stdin with universal newlines
			text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
		}
		for len(text) > 0 {
			line, rest, found := strings.Cut(text, "\n")
			text = rest
			// ClusterShell cuts at '#', and otherwise drops the last
			// character (meant to be the newline, even on a last line
			// without one).
			if i := strings.IndexByte(line, '#'); i >= 0 {
				line = line[:i]
			} else if !found {
				_, size := utf8.DecodeLastRuneInString(line)
				line = line[:len(line)-size]
			}
			if err := addLine(line); err != nil {
				// The error may quote the line, which the reads
				// below overwrite: read it again from a copy.
				err = addLine(strings.Clone(line))
				// ClusterShell reads all of its input before it
				// parses: a writer into a pipe sees the same.
				_, _ = io.Copy(io.Discard, br)
				return err
			}
		}
		if rerr == io.EOF {
			break
		}
	}
	if tmp.len() > 0 {
		if take != nil && flat {
			take(tmp)
		} else {
			op(tmp)
		}
	}
	return nil
}

// oneNumber reports whether the ASCII name s holds at most one run of
// digits, which makes it a one-dimensional node name.
func oneNumber(s string) bool {
	runs, in := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return false // may hold other digits: left to the parser
		}
		digit := '0' <= c && c <= '9'
		if digit && !in {
			if runs++; runs > 1 {
				return false
			}
		}
		in = digit
	}
	return true
}

// special marks the characters that make a token more than a plain name.
var special = func() (t [256]bool) {
	for _, c := range []byte("[],!&^@*?") {
		t[c] = true
	}
	return t
}()

func plainName(s string) bool {
	for i := 0; i < len(s); i++ {
		if special[s[i]] {
			return false
		}
	}
	return true
}

func (c *command) output(x xset, autoOpt any, maxsplit int) error {
	v, env := c.v, c.env
	sep, err := pyfmt.UnescapeLiteral(v.String("separator"))
	if err != nil {
		fmt.Fprintln(env.stderr, "ERROR: invalid separator")
		return &exitError{1}
	}
	if v.Bool("slice_rangeset") {
		rs, err := nodeset.ParseRangeSet(v.String("slice_rangeset"))
		if err != nil {
			return err
		}
		acc := x.empty()
		for _, sl := range rs.Slices() {
			acc.update(x.sliced(sl[0], sl[1]))
		}
		x = acc
	}
	switch a := autoOpt.(type) {
	case autostepAuto:
		x.setAutostep(max(3, x.len()))
	case autostepFactor:
		f := math.Ceil(float64(x.len()) * float64(a))
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("cannot convert float %v to integer", f)
		}
		x.setAutostep(max(int(min(f, 1<<40)), 1))
	}
	if v.Bool("axis") {
		axis := v.String("axis")
		var fold []int
		if !strings.HasPrefix(axis, "-") {
			rs, err := nodeset.ParseRangeSet(axis)
			if err != nil {
				return err
			}
			fold = []int{}
			for s := range rs.All() {
				n, _ := strconv.Atoi(s)
				if n > 0 {
					fold = append(fold, n-1)
				}
			}
		} else {
			n, err := pyfmt.ParseInt(axis, 10)
			if err != nil || !n.IsInt64() {
				return fmt.Errorf("invalid literal for int() with base 10: %s", pyfmt.ReprString(axis))
			}
			fold = []int{int(n.Int64())}
		}
		x.(*nodeSet).ns.SetFoldAxis(fold)
	}
	if !v.IsNone("pick") {
		if n := v.Int("pick"); n > 0 && n < x.len() {
			members := x.members()
			rand.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
			keep, err := x.parse(strings.Join(members[:n], ","))
			if err != nil {
				return err
			}
			x.intersectionUpdate(keep)
		}
	}
	format := v.String("output_format")
	var render func(xset) (string, error)
	switch {
	case v.Bool("expand"):
		render = func(s xset) (string, error) {
			if format == "%s" {
				return string(s.appendExpanded(nil, sep)), nil
			}
			var parts []string
			for _, m := range s.members() {
				f, err := pyfmt.Format(format, m)
				if err != nil {
					return "", err
				}
				parts = append(parts, f)
			}
			return strings.Join(parts, sep), nil
		}
	case v.Bool("fold"):
		if ns, ok := x.(*nodeSet); ok && format != "%s" {
			formatted := nodeset.New()
			formatted.SetAutostep(ns.autostep())
			p := &nodeset.Parser{Autostep: ns.autostep()}
			for _, m := range ns.members() {
				f, err := pyfmt.Format(format, m)
				if err != nil {
					return err
				}
				one, err := p.ParseNode(f)
				if err != nil {
					return err
				}
				formatted.Update(one)
			}
			x = &nodeSet{ns: formatted, p: c.parser}
			render = func(s xset) (string, error) { return s.fold(), nil }
		} else {
			render = func(s xset) (string, error) {
				if format == "%s" { // str(set): skip formatting a long text
					return s.fold(), nil
				}
				return pyfmt.Format(format, asPyObject(s))
			}
		}
	case v.Bool("regroup"):
		render = func(s xset) (string, error) {
			r, err := c.parser.Regroup(s.(*nodeSet).ns, v.String("groupsource"), v.Bool("groupbase"))
			if err != nil {
				return "", err
			}
			return pyfmt.Format(format, r)
		}
	default:
		render = func(s xset) (string, error) { return pyfmt.Format(format, s.len()) }
	}
	parts := []xset{x}
	var partsErr error // ClusterShell prints the runs before a bad one
	if x.len() > 0 && (maxsplit > 1 || v.Bool("contiguous")) {
		if v.Bool("contiguous") {
			parts, partsErr = x.contiguous()
		} else {
			parts = x.split(maxsplit)
		}
	}
	if ns, ok := x.(*nodeSet); ok && v.Bool("expand") && format == "%s" && len(parts) == 1 {
		// The common "nodeset -e" on a huge set: stream it.
		if err := ns.ns.WriteExpanded(env.stdout, sep); err != nil {
			return err
		}
		_, err := io.WriteString(env.stdout, "\n")
		return err
	}
	for _, s := range parts {
		line, err := render(s)
		if err != nil {
			return err
		}
		env.writeLine(line)
	}
	return partsErr
}

// commandList prints the groups of a source, or of every source with -L
// (ClusterShell's command_list).
func (c *command) commandList(x xset, and, sub, xor []string) error {
	v := c.v
	level := v.Int("list") + v.Int("listall")
	groupsource := v.String("groupsource")
	sources := []string{groupsource}
	if v.Bool("listall") {
		r, err := c.res.Load()
		if err != nil {
			return err
		}
		sources = slices.Clone(r.Sources())
		if len(sources) > 0 && groupsource == "" {
			sources[0] = ""
		}
	}
	for _, src := range sources {
		err := c.printSourceGroups(src, level, x, len(and)+len(sub)+len(xor) > 0)
		var nu *nodeset.NoUpcallError
		if err != nil && v.Bool("listall") && errors.As(err, &nu) {
			fmt.Fprintf(c.env.stderr, "Warning: No %s upcall defined for group source %s\n", nu.Upcall, src)
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *command) printSourceGroups(src string, level int, x xset, ops bool) error {
	v, w := c.v, c.env.stdout
	if v.Bool("all") || x.len() > 0 || ops {
		xs, ok := x.(*nodeSet)
		if !ok {
			return errors.New("'RangeSet' object has no attribute 'groups'")
		}
		ns := xs.ns
		groups, err := c.parser.Groups(ns, src, v.Bool("groupbase"))
		if err != nil {
			return err
		}
		for _, g := range slices.Sorted(maps.Keys(groups)) {
			m := groups[g]
			switch level {
			case 1:
				fmt.Fprintln(w, g)
			case 2:
				fmt.Fprintf(w, "%s %s\n", g, m.Nodes)
			default:
				fmt.Fprintf(w, "%s %s %d/%d\n", g, m.Nodes, m.Nodes.Len(), m.Group.Len())
			}
		}
		return nil
	}
	names, err := c.parser.GroupList(src)
	if err != nil {
		return err
	}
	for _, g := range names {
		ref := "@" + g
		if src != "" && !v.Bool("groupbase") {
			ref = "@" + src + ":" + g
		}
		if level == 1 {
			fmt.Fprintln(w, ref)
			continue
		}
		nodes, err := c.parser.Parse(ref)
		if err != nil {
			return err
		}
		if level == 2 {
			fmt.Fprintf(w, "%s %s\n", ref, nodes)
		} else {
			fmt.Fprintf(w, "%s %s %d\n", ref, nodes, nodes.Len())
		}
	}
	return nil
}
