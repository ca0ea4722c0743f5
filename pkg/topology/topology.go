package topology

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// A Route is one line of the [routes] section: the nodes of Src reach the
// nodes of Dst directly.
type Route struct {
	Src, Dst *nodeset.NodeSet
	// Line is the line of the route in its file (1-based; 0 if the route
	// was not read from a file).
	Line int
}

// String returns the route as ClusterShell prints it: "src -> dst".
func (r Route) String() string { return setString(r.Src) + " -> " + setString(r.Dst) }

// A Topology is the content of a topology.conf file.
//
// The zero value is an empty topology: no gateways, every node local.
type Topology struct {
	// Routes holds the routes in file order. Routes whose source or
	// destination is empty (a node group that resolves to nothing) are
	// left out, as ClusterShell 1.9.2 ignores them.
	Routes []Route
	// File is the name given to Parse, used in error messages.
	File string
}

// Options tune Parse and Load.
//
// The zero value parses without node groups.
type Options struct {
	// Parser parses the nodesets of the routes. Give one with a group
	// resolver to use @groups and wildcards; nil parses plain nodesets
	// ("@x" is then a node name, as in ClusterShell without groups).
	Parser *nodeset.Parser
}

// Load reads and validates a topology file (see Parse).
func Load(path string, opts Options) (*Topology, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{File: path, Msg: "cannot read topology", Err: err}
	}
	defer f.Close()
	return Parse(f, path, opts)
}

// maxFileSize bounds what Parse reads: a topology is a few lines; a huge
// input is a mistake (the wrong file given with --topology).
const maxFileSize = 16 << 20

// Parse reads a topology file in ClusterShell 1.9's format and validates
// its routes as ClusterShell does when it adds them to its routing table.
// filename names the input in error messages.
//
// The routes are taken from the [routes] section, or from [Main] (the
// section name before ClusterShell 1.7) when there is no [routes]; other
// sections are ignored. The file is read as Python's ConfigParser reads it:
// "src: dst" or "src = dst" lines, full-line comments starting with "#" or
// ";", values continued on more indented lines, case-sensitive keys, options
// of a [DEFAULT] section included, "%%" and "%(key)s" interpolation.
func Parse(r io.Reader, filename string, opts Options) (*Topology, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, &Error{File: filename, Msg: "cannot read topology", Err: err}
	}
	if len(data) > maxFileSize {
		return nil, &Error{File: filename, Msg: fmt.Sprintf("file larger than %d bytes", maxFileSize), Kind: ErrSyntax}
	}
	text := strings.TrimPrefix(string(data), "\ufeff") // a UTF-8 byte order mark
	ini := pyfmt.NewConfigParser(pyfmt.ConfigOptions{CaseSensitive: true, StopAtFirstError: true})
	if err := ini.ReadString(text, filename); err != nil {
		return nil, iniError(filename, err)
	}
	sec := "routes"
	if !ini.HasSection(sec) {
		sec = "Main" // deprecated since ClusterShell 1.7
	}
	if !ini.HasSection(sec) {
		return nil, &Error{File: filename, Msg: "no [routes] section", Kind: ErrSyntax}
	}
	items, err := ini.Items(sec)
	if err != nil {
		return nil, iniError(filename, err)
	}
	p := opts.Parser
	if p == nil {
		p = &nodeset.Parser{}
	}
	t := &Topology{File: filename}
	for _, it := range items {
		src, err := parseSet(p, it.Name, "source", filename, it.Line)
		if err != nil {
			return nil, err
		}
		dst, err := parseSet(p, joinLines(it.Value), "destination", filename, it.Line)
		if err != nil {
			if te := (*Error)(nil); errors.As(err, &te) && strings.HasPrefix(it.Name, "@") && strings.Contains(it.Value, ":") {
				// "@src:group: dst" is read as the key "@src" (ClusterShell
				// issue #553).
				te.Msg += fmt.Sprintf(" (the source ends at the first ':', so it is %s: a route's source cannot name a group source)", strconv.Quote(it.Name))
			}
			return nil, err
		}
		t.Routes = append(t.Routes, Route{Src: src, Dst: dst, Line: it.Line})
	}
	kept, err := check(t.Routes, filename)
	if err != nil {
		return nil, err
	}
	t.Routes = kept
	return t, nil
}

// parseSet parses the source or destination of the route at line.
func parseSet(p *nodeset.Parser, expr, what, file string, line int) (*nodeset.NodeSet, error) {
	ns, err := p.Parse(expr)
	if err != nil {
		return nil, &Error{File: file, Line: line, Msg: fmt.Sprintf("%s %s", what, strconv.Quote(expr)), Kind: ErrSyntax, Err: err}
	}
	// ClusterShell takes "node1 # comment" as a node named "node1 #
	// comment" (configparser has no inline comments) and any white space
	// as part of a name: such routes never match a real host. Refuse them.
	if s := ns.String(); strings.ContainsFunc(s, pyfmt.IsSpace) {
		// Name the folded names at fault ("rio[10-13] # c"), without
		// expanding a set that may be huge.
		bad := s
		depth, start := 0, 0
		for i := 0; i <= len(s); i++ {
			if i < len(s) && s[i] != ',' {
				switch s[i] {
				case '[':
					depth++
				case ']':
					depth--
				}
				continue
			}
			if depth == 0 {
				if part := s[start:i]; strings.ContainsFunc(part, pyfmt.IsSpace) {
					bad = part
					break
				}
				start = i + 1
			}
		}
		msg := fmt.Sprintf("%s %s: node names %s contain white space", what, strconv.Quote(expr), strconv.Quote(bad))
		if strings.ContainsAny(bad, "#;") {
			msg += " (comments must be on lines of their own)"
		}
		return nil, &Error{File: file, Line: line, Msg: msg, Kind: ErrSyntax}
	}
	return ns, nil
}

// joinLines turns a value continued on several lines into one nodeset
// expression. ConfigParser joins the lines with "\n", which ClusterShell's
// NodeSet strips only next to an operator: "a,\n b" is "a,b" but "a\n b" is
// one strange node name. fleetsh reads a line break as "," (nothing inside
// brackets or next to an operator), so both mean "a,b".
func joinLines(v string) string {
	if !strings.Contains(v, "\n") {
		return v
	}
	var b strings.Builder
	depth := 0
	for piece := range strings.SplitSeq(v, "\n") {
		piece = pyfmt.Strip(piece)
		if piece == "" {
			continue
		}
		if b.Len() > 0 && depth == 0 {
			prev := b.String()
			if !strings.ContainsAny(prev[len(prev)-1:], ",!&^") && !strings.ContainsAny(piece[:1], ",!&^") {
				b.WriteByte(',')
			}
		}
		b.WriteString(piece)
		depth += strings.Count(piece, "[") - strings.Count(piece, "]")
	}
	return b.String()
}

func isEmpty(ns *nodeset.NodeSet) bool { return ns == nil || ns.Len() == 0 }

func setString(ns *nodeset.NodeSet) string {
	if ns == nil {
		return ""
	}
	return ns.String()
}

// intersects reports whether a and b share a node.
func intersects(a, b *nodeset.NodeSet) bool { return a.Intersection(b).Len() > 0 }

// check validates routes as ClusterShell's TopologyRoutingTable.add_route
// does, route by route in order, and returns the non-empty ones. Routes with
// an empty source or destination are skipped (ClusterShell 1.9.2).
//
// The loop check is exact: ClusterShell 1.9 follows only routes whose
// source holds all of the current destination, and so accepts some loops
// ("c: a", "d: x", "a: c,d") then hangs when it builds its tree; fleetsh
// reports every loop.
func check(routes []Route, file string) ([]Route, error) {
	type known struct {
		Route
		out []int // routes whose source shares nodes with this destination
	}
	var (
		table  []known
		allSrc = nodeset.New()
		allDst = nodeset.New()
		kept   []Route
	)
	for _, rt := range routes {
		if isEmpty(rt.Src) || isEmpty(rt.Dst) {
			continue
		}
		src, dst := rt.Src, rt.Dst
		fail := func(kind error, format, detail string, args ...any) error {
			return &Error{File: file, Line: rt.Line, Kind: kind,
				Msg: fmt.Sprintf(format, rt.String()) + fmt.Sprintf(detail, args...)}
		}
		// TopologyRoute.__init__
		if common := src.Intersection(dst); common.Len() > 0 {
			return nil, fail(ErrOverlap, "Source and destination nodesets overlap: %s", " (both hold %s)", common)
		}
		// _introduce_circular_reference, exact: follow every route whose
		// source shares a node with what has been reached so far.
		// Set operations clone their receiver: intersect the known routes
		// with the (usually small) part of this route they can share.
		var out []int
		if reach := dst.Intersection(allSrc); reach.Len() > 0 {
			for j, k := range table {
				if intersects(reach, k.Src) {
					out = append(out, j)
				}
			}
		}
		var into []int // routes whose destination shares nodes with src
		if back := src.Intersection(allDst); back.Len() > 0 {
			for j, k := range table {
				if intersects(back, k.Dst) {
					into = append(into, j)
					// Destinations of different sources are disjoint: stop
					// once every node of back has been found.
					if back.DifferenceUpdate(k.Dst); back.Len() == 0 {
						break
					}
				}
			}
		}
		if len(out) > 0 && len(into) > 0 {
			leadsBack := make(map[int]bool, len(into))
			for _, j := range into {
				leadsBack[j] = true
			}
			from := make(map[int]int, len(table)) // BFS parents (-1: from rt)
			queue := make([]int, 0, len(table))
			for _, j := range out {
				from[j] = -1
				queue = append(queue, j)
			}
			for len(queue) > 0 {
				j := queue[0]
				queue = queue[1:]
				if leadsBack[j] {
					var path []string
					for i := j; i >= 0; i = from[i] {
						path = append(path, fmt.Sprintf("line %d: %s", table[i].Line, table[i].Route))
					}
					path = append(path, fmt.Sprintf("line %d: %s", rt.Line, rt))
					for a, b := 0, len(path)-1; a < b; a, b = a+1, b-1 {
						path[a], path[b] = path[b], path[a]
					}
					return nil, fail(ErrLoop, "Loop detected! Cannot add route %s", " (%s, back to %s)",
						strings.Join(path, ", "), table[j].Dst.Intersection(src))
				}
				for _, n := range table[j].out {
					if _, seen := from[n]; !seen {
						from[n] = j
						queue = append(queue, n)
					}
				}
			}
		}
		// _introduce_convergent_paths
		reached := dst.Intersection(allDst)
		for _, k := range table {
			switch {
			case src.IsSuperset(k.Dst) && src.Len() != k.Dst.Len():
				return nil, fail(ErrConvergentPath, "Convergent path detected! Cannot add route %s",
					" (the source is a superset of the destination %s of line %d)", k.Dst, k.Line)
			case k.Src.IsSuperset(dst) && dst.Len() != k.Src.Len():
				return nil, fail(ErrConvergentPath, "Convergent path detected! Cannot add route %s",
					" (the destination is a subset of the source %s of line %d)", k.Src, k.Line)
			case reached.Len() > 0 && !src.Equal(k.Src):
				if common := reached.Intersection(k.Dst); common.Len() > 0 {
					return nil, fail(ErrConvergentPath, "Convergent path detected! Cannot add route %s",
						" (%s already reached from %s, line %d)", common, k.Src, k.Line)
				}
			}
		}
		for _, j := range into {
			table[j].out = append(table[j].out, len(table))
		}
		table = append(table, known{Route: rt, out: out})
		allSrc.Update(src)
		allDst.Update(dst)
		kept = append(kept, rt)
	}
	return kept, nil
}

// iniError words an error of configparser as a topology error at its line.
// The messages are configparser's, quoted the Go way, except those about
// a malformed line, which say what a route line lacks.
func iniError(file string, err error) error {
	var ce *pyfmt.ConfigError
	if !errors.As(err, &ce) {
		return &Error{File: file, Msg: err.Error(), Kind: ErrSyntax}
	}
	var msg string
	switch ce.Kind {
	case pyfmt.ErrInvalidUTF8:
		msg = "invalid UTF-8 text"
	case pyfmt.ErrNoSectionHeader:
		msg = "File contains no section headers: " + strconv.Quote(pyfmt.Strip(ce.Text))
	case pyfmt.ErrDuplicateSection:
		msg = fmt.Sprintf("section %s already exists", strconv.Quote(ce.Section))
	case pyfmt.ErrDuplicateOption:
		msg = fmt.Sprintf("option %s in section %s already exists", strconv.Quote(ce.Option), strconv.Quote(ce.Section))
	case pyfmt.ErrParsing:
		line := pyfmt.Strip(ce.Text)
		if sep := strings.IndexAny(line, ":="); sep >= 0 {
			msg = fmt.Sprintf("parsing error: %s has no source before %s", strconv.Quote(line), strconv.Quote(line[sep:sep+1]))
		} else {
			msg = fmt.Sprintf("parsing error: %s has no ':' or '=' between source and destination", strconv.Quote(line))
		}
	default:
		msg = ce.Interpolation(strconv.Quote)
	}
	return &Error{File: file, Line: ce.Line, Msg: msg, Kind: ErrSyntax}
}
