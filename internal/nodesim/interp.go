package nodesim

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Exit statuses of the interpreter beyond the commands' own.
const (
	statusSyntax  = 2   // the command line does not parse
	statusUnknown = 127 // no such command, as sh reports it
	statusPipe    = 141 // the client stopped reading (128+SIGPIPE)
	statusCancel  = 143 // the session was signalled (128+SIGTERM)
)

// word is a token of a command line: a word, or an operator (";", "&&",
// "||") when op is set. Quoted words are never operators or redirections.
type word struct {
	text   string
	quoted bool
	op     bool
}

// simple is one command of a list: its words, its output redirections
// and the operator that joins it to the previous command.
type simple struct {
	args   []string
	join   string // "", ";", "&&" or "||"
	stdout string // "" (stdout), "2" (stderr) or "null"
	stderr string // "" (stderr), "1" (stdout) or "null"
}

// Run interprets command, a list of simple commands joined by ";",
// newlines, "&&" and "||", without forking: the commands are built in
// (see the package documentation). It writes to stdout and stderr,
// reads stdin (cat) and returns the exit status of the last command run.
// It stops early, with 141, when a write fails (the client is gone) and,
// with 143, when ctx is cancelled. It runs as no user: whoami and
// nodelines fail; RunAs gives them one.
func Run(ctx context.Context, command string, stdin io.Reader, stdout, stderr io.Writer) int {
	return RunAs(ctx, "", command, stdin, stdout, stderr)
}

// RunAs is Run for a command run by user, the name the SSH client logged
// in as, which whoami prints and nodelines prefixes its lines with.
func RunAs(ctx context.Context, user, command string, stdin io.Reader, stdout, stderr io.Writer) int {
	out, errw := bufio.NewWriterSize(stdout, 32<<10), bufio.NewWriterSize(stderr, 4<<10)
	list, err := parse(command)
	if err != nil {
		fmt.Fprintf(errw, "nodesim: syntax error: %v\n", err)
		_ = errw.Flush()
		return statusSyntax
	}
	status := 0
	for _, c := range list {
		if (c.join == "&&" && status != 0) || (c.join == "||" && status == 0) {
			continue
		}
		var exit bool
		status, exit = run(ctx, user, c, stdin, out, errw)
		if ferr := errors.Join(out.Flush(), errw.Flush()); ferr != nil && !exit {
			return statusPipe
		}
		if exit {
			break
		}
	}
	return status
}

// run runs one simple command; exit reports that the list must stop
// (exit, a failed write, a cancelled session).
func run(ctx context.Context, user string, c simple, stdin io.Reader, out, errw *bufio.Writer) (status int, exit bool) {
	streams := map[string]io.Writer{"": out, "1": out, "2": errw, "null": io.Discard}
	var o, e io.Writer = streams[c.stdout], errw
	if c.stderr != "" {
		e = streams[c.stderr]
	}
	if len(c.args) == 0 {
		return 0, false
	}
	status, err := builtin(ctx, user, c.args, stdin, o, e)
	switch {
	case errors.Is(err, errExit):
		return status, true
	case ctx.Err() != nil:
		return statusCancel, true
	case err != nil:
		return statusPipe, true
	}
	return status, false
}

// errExit stops the list: the exit built-in ran.
var errExit = errors.New("exit")

// builtin runs the command args names, for user; err is errExit for
// exit and a write error when the output could not be written.
func builtin(ctx context.Context, user string, args []string, stdin io.Reader, out, errw io.Writer) (int, error) {
	usage := func(msg string) (int, error) {
		_, err := fmt.Fprintf(errw, "nodesim: %s: %s\n", args[0], msg)
		return statusSyntax, err
	}
	num := func(i int) (int64, bool) {
		n, err := strconv.ParseInt(args[i], 10, 64)
		return n, err == nil
	}
	// countText parses "N [TEXT]": the arguments of lines and nodelines.
	countText := func() (n int64, text string, ok bool) {
		if len(args) < 2 {
			return 0, "", false
		}
		n, ok = num(1)
		return n, strings.Join(args[2:], " "), ok
	}
	switch args[0] {
	case "true", ":":
		return 0, nil
	case "false":
		return 1, nil
	case "exit":
		if len(args) == 1 {
			return 0, errExit
		}
		n, ok := num(1)
		if !ok {
			return usage("numeric argument required")
		}
		return int(n & 0xff), errExit
	case "echo":
		words, nl := args[1:], "\n"
		if len(words) > 0 && words[0] == "-n" {
			words, nl = words[1:], ""
		}
		_, err := io.WriteString(out, strings.Join(words, " ")+nl)
		return 0, err
	case "sleep":
		if len(args) != 2 {
			return usage("want one duration in seconds")
		}
		s, err := strconv.ParseFloat(args[1], 64)
		if err != nil || s < 0 {
			return usage("invalid time interval " + strconv.Quote(args[1]))
		}
		t := time.NewTimer(time.Duration(s * float64(time.Second)))
		defer t.Stop()
		select {
		case <-t.C:
			return 0, nil
		case <-ctx.Done():
			return statusCancel, ctx.Err()
		}
	case "seq":
		first, last, ok := int64(1), int64(0), false
		switch len(args) {
		case 2:
			last, ok = num(1)
		case 3:
			if first, ok = num(1); ok {
				last, ok = num(2)
			}
		}
		if !ok {
			return usage("want LAST or FIRST LAST")
		}
		var b []byte
		for i := first; i <= last; i++ {
			b = strconv.AppendInt(b[:0], i, 10)
			if _, err := out.Write(append(b, '\n')); err != nil {
				return 0, err
			}
		}
		return 0, nil
	case "lines":
		n, text, ok := countText()
		if !ok {
			return usage("want N [TEXT]")
		}
		if len(args) == 2 {
			text = "y"
		}
		line := text + "\n"
		for range n {
			if _, err := io.WriteString(out, line); err != nil {
				return 0, err
			}
		}
		return 0, nil
	case "whoami":
		if user == "" {
			return usage("no user")
		}
		_, err := io.WriteString(out, user+"\n")
		return 0, err
	case "nodelines":
		n, tail, ok := countText()
		if !ok {
			return usage("want N [TEXT]")
		}
		if user == "" {
			return usage("no user")
		}
		if len(args) > 2 {
			tail = " " + tail
		}
		b := []byte(user + " ")
		prefix := len(b)
		for i := range n {
			b = strconv.AppendInt(b[:prefix], i+1, 10)
			b = append(append(b, tail...), '\n')
			if _, err := out.Write(b); err != nil {
				return 0, err
			}
		}
		return 0, nil
	case "bytes":
		n, ok := int64(0), len(args) == 2
		if ok {
			n, ok = num(1)
		}
		if !ok {
			return usage("want N")
		}
		_, err := io.CopyN(out, byteStream{}, n)
		return 0, err
	case "cat":
		if len(args) != 1 {
			return usage("reads standard input only")
		}
		_, err := io.Copy(out, stdin)
		return 0, err
	}
	_, err := fmt.Fprintf(errw, "nodesim: unknown command: %s\n", args[0])
	return statusUnknown, err
}

// byteLine is what bytes N repeats: 63 'x' and a newline.
var byteLine = []byte(strings.Repeat("x", 63) + "\n")

// byteStream is an endless repetition of byteLine.
type byteStream struct{}

func (byteStream) Read(p []byte) (int, error) {
	for i := 0; i < len(p); i += len(byteLine) {
		copy(p[i:], byteLine)
	}
	// Whole lines only, so that the next Read starts a line.
	if n := len(p) / len(byteLine) * len(byteLine); n > 0 {
		return n, nil
	}
	return len(p), nil
}

// parse splits a command line into simple commands.
func parse(line string) ([]simple, error) {
	words, err := tokenize(line)
	if err != nil {
		return nil, err
	}
	var (
		list []simple
		cur  simple
	)
	for _, w := range words {
		if w.op {
			if len(cur.args) == 0 && w.text != ";" {
				return nil, fmt.Errorf("%q with no command before it", w.text)
			}
			list = append(list, cur)
			cur = simple{join: w.text}
			continue
		}
		if !w.quoted {
			if fd, to, ok := redirection(w.text); ok {
				if fd == "2" {
					cur.stderr = to
				} else {
					cur.stdout = to
				}
				continue
			}
			if strings.ContainsAny(w.text, "|&<>`$") {
				return nil, fmt.Errorf("unsupported syntax in %q", w.text)
			}
		}
		cur.args = append(cur.args, w.text)
	}
	if cur.join == "&&" || cur.join == "||" {
		if len(cur.args) == 0 {
			return nil, fmt.Errorf("no command after %q", cur.join)
		}
	}
	return append(list, cur), nil
}

// redirection parses the redirections the interpreter knows: >&2, 1>&2,
// 2>&1, >/dev/null, 1>/dev/null, 2>/dev/null. It returns the stream
// redirected ("1" or "2") and where to ("1", "2" or "null").
func redirection(w string) (fd, to string, ok bool) {
	fd = "1"
	if strings.HasPrefix(w, "1>") || strings.HasPrefix(w, "2>") {
		fd, w = w[:1], w[1:]
	}
	switch w {
	case ">&1", ">&2":
		return fd, w[2:], true
	case ">/dev/null":
		return fd, "null", true
	}
	return "", "", false
}

// tokenize splits a command line into words and operators, with sh's
// quoting: '...' literal, "..." with \ escaping "\$`, \ outside quotes.
func tokenize(line string) ([]word, error) {
	var (
		words  []word
		cur    strings.Builder
		inWord bool
		quoted bool
	)
	flush := func() {
		if inWord {
			words = append(words, word{text: cur.String(), quoted: quoted})
		}
		cur.Reset()
		inWord, quoted = false, false
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			flush()
		case c == '\n' || c == ';':
			flush()
			words = append(words, word{text: ";", op: true})
		case (c == '&' || c == '|') && i+1 < len(line) && line[i+1] == c:
			flush()
			words = append(words, word{text: line[i : i+2], op: true})
			i++
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated '")
			}
			cur.WriteString(line[i+1 : i+1+j])
			inWord, quoted = true, true
			i += j + 1
		case c == '"':
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && strings.IndexByte("\"\\$`", line[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(line[i])
			}
			if i == len(line) {
				return nil, errors.New(`unterminated "`)
			}
			inWord, quoted = true, true
		case c == '\\':
			if i+1 < len(line) {
				i++
				cur.WriteByte(line[i])
				inWord, quoted = true, true
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return words, nil
}
