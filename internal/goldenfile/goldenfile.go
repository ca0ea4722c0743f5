// Package goldenfile reads the golden files of the CLI tests of
// internal/nodesetcli and internal/csub: the commands, inputs and exact
// outputs and exit statuses of ClusterShell 1.9.1's nodeset and clush,
// recorded by each package's testdata/golden/regen.sh, which describes the
// format:
//
//	=== case name
//	$ PROG ARG...           (the command, in the shell subset of ShellSplit)
//	<<< stdin [noeol]       (optional)
//	>>> stdout [noeol]
//	>>> stderr [noeol]
//	>>> exit N
//
// Each section's lines run to the next marker; "noeol" means its last line
// has no newline. Lines after ">>> exit" and before the first "===" are
// comments.
package goldenfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// Case is one "=== name" block of a golden file.
type Case struct {
	File, Name string
	Line       int    // line of the "===" marker, for error messages
	Cmd        string // the "$ PROG ..." line without "$ "
	Args       []string
	Stdin      string
	Stdout     string
	Stderr     string
	Exit       int
}

// ID names c in test names and -golden.run filters: "file.txt/case name".
func (c *Case) ID() string { return filepath.Base(c.File) + "/" + c.Name }

// Load reads the golden files of the calling test's package,
// testdata/golden/*.txt, whose commands run prog, and returns the cases
// whose ID contains run (all of them when run is "") and the number of
// files. No file, or a malformed one, fails t.
func Load(t testing.TB, prog, run string) (cases []*Case, files int) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "golden", "*.txt"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no testdata/golden/*.txt files: %v", err)
	}
	for _, path := range paths {
		all, err := Parse(path, prog)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range all {
			if strings.Contains(c.ID(), run) {
				cases = append(cases, c)
			}
		}
	}
	return cases, len(paths)
}

// Parse reads the golden file at path, whose commands run prog.
func Parse(path, prog string) ([]*Case, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%s: not UTF-8", path)
	}
	lines := strings.Split(string(data), "\n")
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1]
	}
	var (
		cases []*Case
		cur   *Case
		sect  *[]string // lines of the section being read, nil outside one
		noeol bool
		buf   []string
		seen  = map[string]bool{}
	)
	flush := func() {
		if sect == nil {
			return
		}
		s := strings.Join(buf, "\n")
		if len(buf) > 0 && !noeol {
			s += "\n"
		}
		*sect = append(*sect, s)
		sect, buf = nil, nil
	}
	var stdin, stdout, stderr []string
	finish := func() error {
		flush()
		if cur == nil {
			return nil
		}
		if len(stdout) != 1 || len(stderr) != 1 || len(stdin) > 1 || cur.Exit < 0 {
			return fmt.Errorf("%s:%d: case %q: needs one stdout, stderr and exit section (run regen.sh)", path, cur.Line, cur.Name)
		}
		cur.Stdout, cur.Stderr = stdout[0], stderr[0]
		if len(stdin) == 1 {
			cur.Stdin = stdin[0]
		}
		cases = append(cases, cur)
		stdin, stdout, stderr = nil, nil, nil
		return nil
	}
	afterExit := false
	for i, ln := range lines {
		lineno := i + 1
		switch {
		case strings.HasPrefix(ln, "=== "):
			if err := finish(); err != nil {
				return nil, err
			}
			cur = &Case{File: path, Name: strings.TrimSpace(ln[4:]), Line: lineno, Exit: -1}
			if seen[cur.Name] {
				return nil, fmt.Errorf("%s:%d: duplicate case name %q", path, lineno, cur.Name)
			}
			seen[cur.Name] = true
			afterExit = false
		case cur == nil || afterExit:
			// file header, or comments/blank lines after ">>> exit"
		case cur.Cmd == "":
			if !strings.HasPrefix(ln, "$ "+prog) {
				return nil, fmt.Errorf("%s:%d: want a \"$ %s ...\" line", path, lineno, prog)
			}
			words, err := ShellSplit(ln[2:])
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %v", path, lineno, err)
			}
			cur.Cmd, cur.Args = ln[2:], words[1:]
		case strings.HasPrefix(ln, "<<< stdin"):
			flush()
			sect, noeol = &stdin, strings.HasSuffix(ln, " noeol")
		case strings.HasPrefix(ln, ">>> stdout"):
			flush()
			sect, noeol = &stdout, strings.HasSuffix(ln, " noeol")
		case strings.HasPrefix(ln, ">>> stderr"):
			flush()
			sect, noeol = &stderr, strings.HasSuffix(ln, " noeol")
		case strings.HasPrefix(ln, ">>> exit "):
			flush()
			n, err := strconv.Atoi(strings.TrimSpace(ln[len(">>> exit "):]))
			if err != nil {
				return nil, fmt.Errorf("%s:%d: bad exit line", path, lineno)
			}
			cur.Exit, afterExit = n, true
		case sect != nil:
			buf = append(buf, ln)
		default:
			return nil, fmt.Errorf("%s:%d: unexpected line outside a section: %q", path, lineno, ln)
		}
	}
	if err := finish(); err != nil {
		return nil, err
	}
	return cases, nil
}

// ShellSplit splits a command line written in the POSIX-shell subset that
// regen.sh emits: blanks separate words; '...', "..." (with \\ \" \$ \`
// escapes), $'...' (with \n \t \r \\ \' \xHH escapes) and a backslash
// outside quotes quote characters.
func ShellSplit(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
	)
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
			i++
			continue
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated '")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 2
		case c == '$' && i+1 < len(s) && s[i+1] == '\'':
			i += 2
			for {
				if i >= len(s) {
					return nil, fmt.Errorf("unterminated $'")
				}
				if s[i] == '\'' {
					i++
					break
				}
				if s[i] != '\\' {
					cur.WriteByte(s[i])
					i++
					continue
				}
				if i+1 >= len(s) {
					return nil, fmt.Errorf("dangling \\ in $'")
				}
				switch e := s[i+1]; e {
				case 'n':
					cur.WriteByte('\n')
				case 't':
					cur.WriteByte('\t')
				case 'r':
					cur.WriteByte('\r')
				case '\\', '\'':
					cur.WriteByte(e)
				case 'x':
					if i+4 > len(s) {
						return nil, fmt.Errorf("short \\x escape")
					}
					v, err := strconv.ParseUint(s[i+2:i+4], 16, 8)
					if err != nil {
						return nil, fmt.Errorf("bad \\x escape: %v", err)
					}
					cur.WriteByte(byte(v))
					i += 2
				default:
					return nil, fmt.Errorf("unsupported escape \\%c in $'", e)
				}
				i += 2
			}
		case c == '"':
			i++
			for {
				if i >= len(s) {
					return nil, fmt.Errorf("unterminated \"")
				}
				if s[i] == '"' {
					i++
					break
				}
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\\\"$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
				i++
			}
		case c == '\\':
			if i+1 >= len(s) {
				return nil, fmt.Errorf("dangling \\")
			}
			cur.WriteByte(s[i+1])
			i += 2
		default:
			cur.WriteByte(c)
			i++
		}
		in = true
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}
