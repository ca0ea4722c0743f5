package ssh

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/fleetsh/fleetsh/internal/fileinfo"
)

// This file reads OpenSSH client configuration (ssh_config(5)). It is a
// small parser of our own rather than github.com/kevinburke/ssh_config
// (v1.6.0, the newest): that library fails the whole file on any Match
// criterion but "all" and "host" (a "Match exec" line anywhere in
// ~/.ssh/config would stop every job), matches "Match host" against the
// alias instead of the HostName as OpenSSH does, and has no notion of
// OpenSSH's second ("final") pass. What we need is a few hundred lines:
// tokenizing, Host/Match evaluation with negation, Include, and OpenSSH's
// first-value-wins rule, which lives in options.apply.

// configLine is one keyword line of a config file.
type configLine struct {
	kw   string   // keyword, lower case
	args []string // arguments, unquoted
	raw  string   // the arguments as written (ProxyCommand takes them so)
	line int      // line number, from 1
}

// configFile is a parsed config file.
type configFile struct {
	path  string
	lines []configLine
}

// parseConfig tokenizes a config file. Keywords it does not know are kept
// (and later ignored): OpenSSH knows them, and a config that works with ssh
// must not fail here.
func parseConfig(path string, data []byte) (*configFile, error) {
	cf := &configFile{path: path}
	for i, raw := range strings.Split(string(data), "\n") {
		words, rest, err := splitConfigLine(raw)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, i+1, err)
		}
		if len(words) == 0 {
			continue
		}
		cf.lines = append(cf.lines, configLine{kw: strings.ToLower(words[0]), args: words[1:], raw: rest, line: i + 1})
	}
	return cf, nil
}

// splitConfigLine splits a line as OpenSSH does: a keyword, then an
// optional "=", then arguments separated by blanks, with double or single
// quotes around arguments holding blanks and "#" starting a comment at the
// start of a word. It also returns the text after the keyword, raw.
func splitConfigLine(s string) (words []string, raw string, err error) {
	s = strings.TrimRight(s, "\r")
	s = strings.TrimLeft(s, " \t")
	if strings.HasPrefix(s, "=") {
		// OpenSSH reads an empty keyword before the "=" and takes the next
		// word instead.
		s = strings.TrimLeft(s[1:], " \t")
		if strings.HasPrefix(s, "=") {
			return nil, "", nil
		}
	}
	if s == "" || s[0] == '#' {
		return nil, "", nil
	}
	// The keyword ends at a blank or "=", and one "=" may follow blanks.
	end := strings.IndexAny(s, " \t=")
	if end < 0 {
		return []string{s}, "", nil
	}
	words = []string{s[:end]}
	rest := strings.TrimLeft(s[end:], " \t")
	if strings.HasPrefix(rest, "=") {
		rest = strings.TrimLeft(rest[1:], " \t")
	}
	raw = strings.TrimRight(rest, " \t")
	var (
		cur    strings.Builder
		inWord bool
		quote  byte
	)
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
				continue
			}
			if c == '\\' && i+1 < len(rest) && (rest[i+1] == quote || rest[i+1] == '\\') {
				i++
				c = rest[i]
			}
			cur.WriteByte(c)
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '#' && !inWord:
			return words, strings.TrimRight(rest[:i], " \t"), nil
		case c == '"' || c == '\'':
			quote, inWord = c, true
		case c == '\\' && i+1 < len(rest) && strings.IndexByte(`"' \`, rest[i+1]) >= 0:
			i++
			cur.WriteByte(rest[i])
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, "", errors.New("invalid quotes")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, raw, nil
}

// matchPattern is OpenSSH's match_pattern: "*" matches any run of
// characters, "?" any one; case matters.
func matchPattern(s, pat string) bool {
	for len(pat) > 0 {
		switch pat[0] {
		case '*':
			for len(pat) > 0 && pat[0] == '*' {
				pat = pat[1:]
			}
			if pat == "" {
				return true
			}
			for i := 0; i <= len(s); i++ {
				if matchPattern(s[i:], pat) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != pat[0] {
				return false
			}
		}
		s, pat = s[1:], pat[1:]
	}
	return s == ""
}

// matchHostLine is the activation rule of a Host line: some pattern
// matches and no negated ("!") pattern does.
func matchHostLine(patterns []string, host string) bool {
	matched := false
	for _, p := range patterns {
		if neg, ok := strings.CutPrefix(p, "!"); ok {
			if matchPattern(host, neg) {
				return false
			}
			continue
		}
		if matchPattern(host, p) {
			matched = true
		}
	}
	return matched
}

// matchList is OpenSSH's match_pattern_list over a comma-separated list
// of patterns, as Match criteria use it: true when some pattern matches
// and no negated one does.
func matchList(s, list string) bool {
	return matchHostLine(strings.Split(list, ","), s)
}

// evaluator applies the config files to one host's options.
type evaluator struct {
	d         *Driver
	host      string // the host as given (ssh's host argument)
	localUser string
	final     bool // the final pass (Match final / canonical)
	wantFinal bool // some "Match final" asked for a final pass
	o         *options
	debug     func(string)
}

// matchLine evaluates a Match line. Criteria we cannot evaluate (exec,
// localnetwork, tagged, ...) make the block inactive: running commands
// from a config to pick options is out of scope for this driver.
func (e *evaluator) matchLine(args []string, where lineRef) (bool, error) {
	if len(args) == 0 {
		return false, fmt.Errorf("%s: missing Match criteria", where)
	}
	result := true
	for i := 0; i < len(args); i++ {
		crit := strings.ToLower(args[i])
		neg := false
		if c, ok := strings.CutPrefix(crit, "!"); ok {
			crit, neg = c, true
		}
		var ok bool
		switch crit {
		case "all":
			ok = true
		case "canonical":
			ok = e.final
		case "final":
			e.wantFinal = true
			ok = e.final
		case "host", "originalhost", "user", "localuser":
			if i+1 >= len(args) {
				return false, fmt.Errorf("%s: Missing Match criteria for %s", where, crit)
			}
			i++
			var subject string
			switch crit {
			case "host":
				subject = e.host
				if e.o.HostName != "" {
					subject = expandHostName(e.o.HostName, e.host)
				}
			case "originalhost":
				subject = e.host
			case "user":
				subject = e.localUser
				if e.o.User != "" {
					subject = e.o.User
				}
			case "localuser":
				subject = e.localUser
			}
			ok = matchList(subject, args[i])
		default:
			if e.debug != nil {
				e.debug(fmt.Sprintf("%s: Match %s is not supported by the native ssh worker: block ignored", where, crit))
			}
			// Skip the criterion's argument (all criteria but all,
			// canonical and final have one) and make the whole line false
			// whatever its negation.
			if i+1 < len(args) {
				i++
			}
			result = false
			continue
		}
		if ok == neg {
			result = false
		}
	}
	return result, nil
}

// evalPath applies the configuration file at path (see evalFile), if
// there is one: a missing file is skipped, as OpenSSH skips a missing
// default file or Include match.
func (e *evaluator) evalPath(path string, userConfig bool, depth int) error {
	cf, err := e.d.loadConfig(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return e.evalFile(cf, userConfig, depth)
}

// evalFile applies cf's active lines to e.o. Include is followed (at most
// 16 deep, as OpenSSH) only from an active block; the included files start
// active and the including block's state is restored after them.
func (e *evaluator) evalFile(cf *configFile, userConfig bool, depth int) error {
	active := true
	for _, l := range cf.lines {
		// Formatted only in messages: every node reads every line.
		where := lineRef{cf.path, l.line}
		switch l.kw {
		case "host":
			active = matchHostLine(l.args, e.host)
		case "match":
			ok, err := e.matchLine(l.args, where)
			if err != nil {
				return err
			}
			active = ok
		case "include":
			if !active {
				continue
			}
			if depth >= 16 {
				return fmt.Errorf("%s: Include nesting too deep", where)
			}
			for _, pat := range l.args {
				if err := e.include(pat, userConfig, depth, where); err != nil {
					return err
				}
			}
		default:
			if active {
				if err := e.o.apply(l.kw, l.args, l.raw, false); err != nil {
					return fmt.Errorf("%s: %w", where, err)
				}
			}
		}
	}
	return nil
}

func (e *evaluator) include(pat string, userConfig bool, depth int, where lineRef) error {
	pat = e.d.expandTilde(pat)
	if !filepath.IsAbs(pat) {
		if userConfig {
			pat = filepath.Join(e.d.home(), ".ssh", pat)
		} else {
			pat = filepath.Join("/etc/ssh", pat)
		}
	}
	matches, err := e.d.glob(pat)
	if err != nil {
		return fmt.Errorf("%s: Include %s: %w", where, pat, err)
	}
	for _, m := range matches {
		if err := e.evalPath(m, userConfig, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// lineRef names a config line in messages ("/path/config line 3").
type lineRef struct {
	path string
	line int
}

func (l lineRef) String() string { return l.path + " line " + strconv.Itoa(l.line) }

// expandHostName expands HostName's tokens: %h (the host as given) and %%.
func expandHostName(v, host string) string {
	if !strings.Contains(v, "%") {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '%' && i+1 < len(v) {
			switch v[i+1] {
			case 'h':
				b.WriteString(host)
				i++
				continue
			case '%':
				b.WriteByte('%')
				i++
				continue
			}
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// configCache keeps parsed config files, re-read when they change on
// disk, so that 10 000 jobs do not parse ~/.ssh/config 10 000 times.
type configCache struct {
	mu    sync.Mutex
	files map[string]cachedConfig
}

type cachedConfig struct {
	stamp fileStamp
	cf    *configFile
}

// fileStamp identifies a version of a file.
type fileStamp struct {
	ino, size int64 // a file replaced by rename has a new inode
	mtimeNS   int64
}

func stampOf(fi os.FileInfo) fileStamp {
	return fileStamp{ino: int64(fileinfo.Inode(fi)), size: fi.Size(), mtimeNS: fi.ModTime().UnixNano()}
}

// loadConfig returns the parsed config file at path, from the cache when
// the file has not changed.
func (d *Driver) loadConfig(path string) (*configFile, error) {
	st, err := d.stat(path)
	if err != nil {
		return nil, err
	}
	c := &d.cache.configs
	c.mu.Lock()
	if cc, ok := c.files[path]; ok && cc.stamp == st {
		c.mu.Unlock()
		return cc.cf, nil
	}
	c.mu.Unlock()
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cf, err := parseConfig(path, data)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.files == nil {
		c.files = make(map[string]cachedConfig)
	}
	c.files[path] = cachedConfig{stamp: st, cf: cf}
	c.mu.Unlock()
	return cf, nil
}
