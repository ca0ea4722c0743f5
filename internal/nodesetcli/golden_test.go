package nodesetcli_test

// Golden tests of the nodeset CLI through its in-process entry point.
//
// Every expectation in testdata/golden/*.txt was produced by the reference
// ClusterShell 1.9.1 /usr/bin/nodeset (testdata/golden/regen.sh re-creates
// them), so these tests pin byte-identical stdout and stderr and the same
// exit status without needing ClusterShell at test time. The file format is
// described in regen.sh; each case carries the exact shell command that
// produced it, runnable from this package's directory.
//
// Group cases pass a relative --groupsconf path under testdata/golden/conf,
// which is why the tests (like regen.sh) run from the package directory:
// ClusterShell derives $CFGDIR from that path and runs upcalls with the
// config directory as working directory, and some expectations (error
// messages, a $CFGDIR echo) depend on both.

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fleetsh/fleetsh/internal/nodesetcli"
)

var goldenRun = flag.String("golden.run", "", "only run golden cases whose file/name contains this substring")

// goldenCase is one "=== name" block of a golden file.
type goldenCase struct {
	file, name string
	line       int    // line of the "===" marker, for error messages
	cmd        string // the "$ nodeset ..." line without "$ "
	args       []string
	stdin      string
	stdout     string
	stderr     string
	exit       int
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/golden/*.txt files")
	}
	// Same environment as regen.sh gave the reference: no user config can
	// leak in through HOME or XDG_CONFIG_HOME, and upcall shells find the
	// same tools.
	env := map[string]string{
		"PATH": "/usr/bin:/bin",
		"HOME": t.TempDir(),
		"LANG": "C.UTF-8",
	}
	getenv := func(k string) string { return env[k] }

	total := 0
	for _, f := range files {
		cases, err := parseGoldenFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			id := filepath.Base(c.file) + "/" + c.name
			if *goldenRun != "" && !strings.Contains(id, *goldenRun) {
				continue
			}
			total++
			// Not parallel: Main may keep process-wide state (the standard
			// group resolver, as ClusterShell does), and cases are fast.
			t.Run(id, func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				rc := nodesetcli.Main(c.args, strings.NewReader(c.stdin), &stdout, &stderr, getenv)
				if stdout.String() == c.stdout && stderr.String() == c.stderr && rc == c.exit {
					return
				}
				var b strings.Builder
				fmt.Fprintf(&b, "%s:%d: $ %s\n", c.file, c.line, c.cmd)
				if c.stdin != "" {
					fmt.Fprintf(&b, "stdin:\n%s", indent(c.stdin))
				}
				if rc != c.exit {
					fmt.Fprintf(&b, "exit status: got %d, want %d\n", rc, c.exit)
				}
				if got := stdout.String(); got != c.stdout {
					fmt.Fprintf(&b, "stdout:\n got: %q\nwant: %q\n", got, c.stdout)
				}
				if got := stderr.String(); got != c.stderr {
					fmt.Fprintf(&b, "stderr:\n got: %q\nwant: %q\n", got, c.stderr)
				}
				t.Error(b.String())
			})
		}
	}
	t.Logf("%d golden cases from %d files", total, len(files))
	if *goldenRun == "" && total < 150 {
		t.Errorf("only %d golden cases; the suite is meant to hold 150+", total)
	}
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n    ") + "\n"
}

// parseGoldenFile reads one golden file; see regen.sh for the format.
func parseGoldenFile(path string) ([]*goldenCase, error) {
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
		cases []*goldenCase
		cur   *goldenCase
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
		if len(stdout) != 1 || len(stderr) != 1 || len(stdin) > 1 || cur.exit < 0 {
			return fmt.Errorf("%s:%d: case %q: needs one stdout, stderr and exit section (run regen.sh)", path, cur.line, cur.name)
		}
		cur.stdout, cur.stderr = stdout[0], stderr[0]
		if len(stdin) == 1 {
			cur.stdin = stdin[0]
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
			cur = &goldenCase{file: path, name: strings.TrimSpace(ln[4:]), line: lineno, exit: -1}
			if seen[cur.name] {
				return nil, fmt.Errorf("%s:%d: duplicate case name %q", path, lineno, cur.name)
			}
			seen[cur.name] = true
			afterExit = false
		case cur == nil || afterExit:
			// file header, or comments/blank lines after ">>> exit"
		case cur.cmd == "":
			if !strings.HasPrefix(ln, "$ nodeset") {
				return nil, fmt.Errorf("%s:%d: want a \"$ nodeset ...\" line", path, lineno)
			}
			words, err := shellSplit(ln[2:])
			if err != nil {
				return nil, fmt.Errorf("%s:%d: %v", path, lineno, err)
			}
			cur.cmd, cur.args = ln[2:], words[1:]
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
			cur.exit, afterExit = n, true
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

// shellSplit splits a command line written in the POSIX-shell subset that
// regen.sh emits: blanks separate words; '...', "..." (with \\ \" \$ \`
// escapes), $'...' (with \n \t \r \\ \' \xHH escapes) and a backslash
// outside quotes quote characters.
func shellSplit(s string) ([]string, error) {
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
