package nodesetcli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

// stdinWant folds text as ClusterShell 1.9.1's process_stdin reads it,
// the whole text at once, statement for statement (not as the code under
// test does, a block at a time):
//
//	for line in sys.stdin.readlines():   # universal newlines
//	    line = line[0:line.find('#')].strip()
//	    for elem in line.split():
//	        xsetop(xsetcls(elem, autostep=autostep))
//
// line.find returns -1 without a '#': the slice then drops the line's last
// character, its newline or, on a last line without one, a node's.
func stdinWant(t *testing.T, text string) string {
	t.Helper()
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
	all := nodeset.New()
	for _, line := range strings.SplitAfter(text, "\n") { // readlines() keeps the newlines
		chars := []rune(line)
		if len(chars) == 0 {
			continue // SplitAfter's empty tail: readlines() has no such line
		}
		end := slices.Index(chars, '#')
		if end < 0 {
			end = len(chars) - 1
		}
		for _, elem := range strings.Fields(string(chars[:end])) {
			ns, err := nodeset.Parse(elem)
			if err != nil {
				t.Fatalf("reference: %q: %v", elem, err)
			}
			all.Update(ns)
		}
	}
	return all.String() + "\n"
}

// TestStdinBlocks checks that standard input read a block at a time reads
// as the whole text would: lines across blocks, "\r\n" split by a block
// boundary, lines longer than a block, a last line without newline, and
// readers that return a byte at a time.
func TestStdinBlocks(t *testing.T) {
	const block = 64 << 10
	pad := func(sb *strings.Builder, to int) { // plain names up to offset to
		for i := 0; sb.Len() < to-12; i++ {
			fmt.Fprintf(sb, "n%d\n", i%5000)
		}
		for sb.Len() < to-1 {
			sb.WriteByte(' ')
		}
		sb.WriteByte('\n')
	}
	cases := map[string]func() string{
		"crlf across a block": func() string {
			var sb strings.Builder
			pad(&sb, block-6)
			sb.WriteString("x42\r\nx43\rx44\r\ny1")
			return sb.String()
		},
		"long line": func() string {
			var sb strings.Builder
			sb.WriteString("a1\n")
			for i := 0; sb.Len() < 3*block; i++ {
				fmt.Fprintf(&sb, "long%d node[%d-%d] ", i, i*3, i*3+1)
			}
			sb.WriteString("# comment\nb2\nlast1é")
			return sb.String()
		},
		"comments and tabs": func() string {
			var sb strings.Builder
			for i := 0; sb.Len() < 2*block+100; i++ {
				fmt.Fprintf(&sb, "\tr%dn%d  gpu-%04d # c%d\n", i%7, i%11, i, i)
			}
			sb.WriteString("\r")
			return sb.String()
		},
		"exact blocks": func() string {
			var sb strings.Builder
			pad(&sb, block)
			pad(&sb, 2*block)
			return sb.String()
		},
	}
	for name, mk := range cases {
		text := mk()
		want := stdinWant(t, text)
		readers := map[string]io.Reader{
			"reader":   strings.NewReader(text),
			"one byte": iotest.OneByteReader(strings.NewReader(text)),
			"half":     iotest.HalfReader(strings.NewReader(text)),
		}
		for rname, r := range readers {
			var out, errb bytes.Buffer
			if rc := Main([]string{"-f"}, r, &out, &errb, os.Getenv); rc != 0 || out.String() != want {
				t.Errorf("%s, %s: rc %d, %.200q (stderr %q), want %.200q", name, rname, rc, out.String(), errb.String(), want)
			}
		}
	}
}

// TestStdinErrorAfterBlocks checks an error found after several blocks:
// it quotes the bad name whole (its block is read over afterwards), and
// the rest of the input is read, as ClusterShell reads all before parsing.
func TestStdinErrorAfterBlocks(t *testing.T) {
	var sb strings.Builder
	for i := 0; sb.Len() < 200<<10; i++ {
		fmt.Fprintf(&sb, "node%d\n", i)
	}
	sb.WriteString("ok1 node99999999999999999999999x ok2\n")
	for i := 0; sb.Len() < 400<<10; i++ {
		fmt.Fprintf(&sb, "other%d\n", i)
	}
	r := strings.NewReader(sb.String())
	var out, errb bytes.Buffer
	// Hide WriterTo, so that draining the input goes through the block.
	rc := Main([]string{"-f"}, struct{ io.Reader }{r}, &out, &errb, os.Getenv)
	_, wantErr, wantRC := run1(t, "-f", "node99999999999999999999999x")
	if rc != wantRC || errb.String() != wantErr || out.Len() != 0 {
		t.Errorf("rc %d, stderr %q, stdout %q; want rc %d, stderr %q", rc, errb.String(), out.String(), wantRC, wantErr)
	}
	if r.Len() != 0 {
		t.Errorf("%d bytes of input left unread", r.Len())
	}
}
