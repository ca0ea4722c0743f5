package csub

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// Bounds of clubak's input: Python's clubak has none and dies of memory
// exhaustion instead (or, for a huge range, of an assertion).
const (
	// maxClubakLine bounds one input line.
	maxClubakLine = 64 << 20
	// maxClubakKeyNodes bounds the nodes one key may name ("n[1-999999999]").
	maxClubakKeyNodes = 1 << 20
)

// pyWhitespace is what Python's bytes.strip() removes.
const pyWhitespace = " \t\n\r\v\f"

// parseClubakLine splits one input line (without its line ending) at the
// first sep into its key, stripped of whitespace, and its content, as
// clubak does. Errors read as clubak prints them: the reason and the
// line, or when the line is not UTF-8, Python's decoding error for it.
func parseClubakLine(line, sep []byte) (key, content []byte, err error) {
	var reason string
	switch k, c, found := bytes.Cut(line, sep); {
	case len(sep) == 0:
		reason = "empty separator"
	case !found:
		reason = "not enough values to unpack (expected 2, got 1)"
	default:
		key, content = bytes.Trim(k, pyWhitespace), c
		switch err := pyfmt.DecodeUTF8(key); {
		case err != nil:
			reason = err.Error()
		case len(key) > 0:
			return key, content, nil
		default:
			reason = "no node found"
		}
	}
	// clubak formats the message with the line decoded: a line that is
	// not UTF-8 fails there, with that error.
	if err := pyfmt.DecodeUTF8(line); err != nil {
		return nil, nil, &clubakError{err.Error()}
	}
	return nil, nil, &clubakError{fmt.Sprintf("%s: \"%s\"", reason, line)}
}

// gatherer is clubak's input side: it reads the lines and gathers the
// content of each key (each node, when keys are node sets) in a MsgTree.
// Keys are numbered in the order they first appear, which is the order
// of Python's dicts clubak prints raw keys in.
type gatherer struct {
	o         *clubakOptions
	parser    *nodeset.Parser
	sep       []byte
	interpret int // keysAuto turns to keysNever at the first key that is not a node set

	tree  engine.MsgTree[uint32]
	names []string          // key names by number
	index map[string]uint32 // key numbers by name
	// sets caches what each key names (key numbers) while keys are
	// node sets: input lines repeat their keys. A key that names just
	// itself, the usual "node1", is cached in self instead, which costs
	// a byte per key number.
	sets map[string][]uint32
	self []bool
	one  [1]uint32 // the result of keys for a single key
	// preload holds the whole content of each key with -F, added to the
	// tree at the end as one line.
	preload [][]byte
}

func newGatherer(o *clubakOptions, parser *nodeset.Parser, sep []byte) *gatherer {
	return &gatherer{o: o, parser: parser, sep: sep, interpret: o.interpret,
		index: make(map[string]uint32), sets: make(map[string][]uint32)}
}

// nodesetKeys tells whether the keys are node sets (not --interpret-keys
// never, nor auto after a key that did not parse).
func (g *gatherer) nodesetKeys() bool { return g.interpret != keysNever }

// keyNumber returns the number of the key name, numbering a new one.
func (g *gatherer) keyNumber(name string) uint32 {
	if i, ok := g.index[name]; ok {
		return i
	}
	i := uint32(len(g.names))
	g.names = append(g.names, name)
	g.self = append(g.self, false)
	g.index[name] = i
	return i
}

// read reads standard input to its end, echoing each line with -v or -d
// to out, and gathers it.
func (g *gatherer) read(r io.Reader, out *clubakOut) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte
	for {
		line, err := readClubakLine(br, &long)
		if len(line) > 0 {
			line = bytes.TrimRight(line, "\r\n")
			if g.o.verbose || g.o.debug {
				out.w.WriteString("INPUT ")
				out.w.Write(line)
				out.w.WriteByte('\n')
			}
			if perr := g.add(line); perr != nil {
				return perr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if g.o.fast {
		for i, msg := range g.preload {
			g.tree.Add(uint32(i), msg)
		}
		g.preload = nil
	}
	return nil
}

// readClubakLine returns the next line with its '\n' (the last one may
// have none), at most maxClubakLine bytes; *long keeps the buffer of the
// lines longer than the reader's.
func readClubakLine(br *bufio.Reader, long *[]byte) ([]byte, error) {
	chunk, err := br.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return chunk, readError(err)
	}
	*long = append((*long)[:0], chunk...)
	for err == bufio.ErrBufferFull {
		chunk, err = br.ReadSlice('\n')
		*long = append(*long, chunk...)
		if len(bytes.TrimRight(*long, "\r\n")) > maxClubakLine {
			return nil, &clubakError{fmt.Sprintf("input line longer than %d bytes", maxClubakLine)}
		}
	}
	return *long, readError(err)
}

// readError is a read error as clubak reports it ("ERROR: [Errno 5]
// Input/output error"); io.EOF is passed on.
func readError(err error) error {
	var errno syscall.Errno
	switch {
	case err == nil || err == io.EOF:
		return err
	case errors.As(err, &errno):
		return &osErrorT{fmt.Sprintf("[Errno %d] %s", int(errno), strerror(errno))}
	}
	return &osErrorT{err.Error()}
}

// add gathers one input line.
func (g *gatherer) add(line []byte) error {
	key, content, err := parseClubakLine(line, g.sep)
	if err != nil {
		return err
	}
	keys, err := g.keys(key)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if g.o.fast {
			if int(k) == len(g.preload) {
				g.preload = append(g.preload, append([]byte(nil), content...))
			} else {
				g.preload[k] = append(append(g.preload[k], '\n'), content...)
			}
			continue
		}
		g.tree.Add(k, content)
	}
	return nil
}

// keys returns the numbers of the keys a line's key stands for: itself,
// or while keys are node sets, each of its nodes. The result is valid
// until the next call.
func (g *gatherer) keys(key []byte) ([]uint32, error) {
	i, known := g.index[string(key)]
	if !g.nodesetKeys() {
		if !known {
			i = g.keyNumber(string(key))
		}
		g.one[0] = i
		return g.one[:], nil
	}
	if known && g.self[i] {
		g.one[0] = i
		return g.one[:], nil
	}
	if keys, ok := g.sets[string(key)]; ok {
		return keys, nil
	}
	ns, err := g.parser.Parse(string(key))
	if err != nil {
		var pe *nodeset.ParseError
		var re *nodeset.RangeParseError
		if g.interpret == keysAuto && (errors.As(err, &pe) || errors.As(err, &re)) {
			// clubak's auto mode: from now on keys are names.
			g.interpret = keysNever
			g.sets = nil
			return g.keys(key)
		}
		return nil, err
	}
	if ns.Len() > maxClubakKeyNodes {
		return nil, &clubakError{fmt.Sprintf("key %q names %d nodes, more than %d", key, ns.Len(), maxClubakKeyNodes)}
	}
	keys := make([]uint32, 0, ns.Len())
	for name := range ns.All() {
		keys = append(keys, g.keyNumber(name))
	}
	if len(keys) == 1 && g.names[keys[0]] == string(key) {
		g.self[keys[0]] = true
	} else {
		g.sets[string(key)] = keys
	}
	return keys, nil
}
