package nodesim

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	for _, c := range []struct {
		cmd, stdin, out, err string
		status               int
	}{
		{cmd: "true"},
		{cmd: "false", status: 1},
		{cmd: "exit 3", status: 3},
		{cmd: "exit 300", status: 44},
		{cmd: "echo a  'b  c' \"d\\\"e\"", out: "a b  c d\"e\n"},
		{cmd: "echo -n x; echo y", out: "xy\n"},
		{cmd: "echo out; echo err >&2; exit 5", out: "out\n", err: "err\n", status: 5},
		{cmd: "echo quiet >/dev/null; echo 'x>&2'", out: "x>&2\n"},
		{cmd: "nosuch 2>&1", out: "nodesim: unknown command: nosuch\n", status: 127},
		{cmd: "seq 3", out: "1\n2\n3\n"},
		{cmd: "seq 9 11", out: "9\n10\n11\n"},
		{cmd: "lines 2", out: "y\ny\n"},
		{cmd: "lines 2 a b", out: "a b\na b\n"},
		{cmd: "bytes 70", out: strings.Repeat("x", 63) + "\n" + "xxxxxx"},
		{cmd: "cat", stdin: "in\n", out: "in\n"},
		{cmd: "false && echo no; true && echo yes", out: "yes\n"},
		{cmd: "false || echo or; true || echo no", out: "or\n"},
		{cmd: "exit 2; echo never", status: 2},
		{cmd: "echo a\necho b", out: "a\nb\n"},
		{cmd: "sleep 0.01 && echo woke", out: "woke\n"},
		{cmd: "hostname", err: "nodesim: unknown command: hostname\n", status: 127},
		{cmd: "echo a | cat", err: "nodesim: syntax error: unsupported syntax in \"|\"\n", status: 2},
		{cmd: "echo 'open", err: "nodesim: syntax error: unterminated '\n", status: 2},
		{cmd: "&& true", err: "nodesim: syntax error: \"&&\" with no command before it\n", status: 2},
		{cmd: "seq x", err: "nodesim: seq: want LAST or FIRST LAST\n", status: 2},
		{cmd: "whoami", err: "nodesim: whoami: no user\n", status: 2},
		{cmd: "nodelines 2", err: "nodesim: nodelines: no user\n", status: 2},
	} {
		var out, errb bytes.Buffer
		status := Run(context.Background(), c.cmd, strings.NewReader(c.stdin), &out, &errb)
		if status != c.status || out.String() != c.out || errb.String() != c.err {
			t.Errorf("%q: status %d stdout %q stderr %q, want %d %q %q", c.cmd, status, out.String(), errb.String(), c.status, c.out, c.err)
		}
	}
}

func TestRunAs(t *testing.T) {
	for _, c := range []struct {
		cmd, out, err string
		status        int
	}{
		{cmd: "whoami", out: "n7\n"},
		{cmd: "nodelines 3", out: "n7 1\nn7 2\nn7 3\n"},
		{cmd: "nodelines 2 a  b", out: "n7 1 a b\nn7 2 a b\n"},
		{cmd: "nodelines 0"},
		{cmd: "nodelines", err: "nodesim: nodelines: want N [TEXT]\n", status: 2},
	} {
		var out, errb bytes.Buffer
		status := RunAs(context.Background(), "n7", c.cmd, nil, &out, &errb)
		if status != c.status || out.String() != c.out || errb.String() != c.err {
			t.Errorf("%q: status %d stdout %q stderr %q, want %d %q %q", c.cmd, status, out.String(), errb.String(), c.status, c.out, c.err)
		}
	}
}

func TestRunBytes(t *testing.T) {
	var out bytes.Buffer
	if status := Run(context.Background(), "bytes 1000000", nil, &out, &out); status != 0 || out.Len() != 1000000 {
		t.Fatalf("status %d, %d bytes", status, out.Len())
	}
	if strings.Count(out.String(), "\n") != 1000000/64 {
		t.Fatalf("%d lines", strings.Count(out.String(), "\n"))
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	began := time.Now()
	if status := Run(ctx, "sleep 60; echo never", nil, &out, &out); status != statusCancel || out.Len() != 0 {
		t.Fatalf("status %d out %q", status, out.String())
	}
	if time.Since(began) > 10*time.Second {
		t.Fatal("sleep ignored the cancelled context")
	}
}

func TestCutWriter(t *testing.T) {
	var out bytes.Buffer
	w := &cutWriter{w: &out, lines: 2}
	if n, err := w.Write([]byte("a\nb")); n != 3 || err != nil {
		t.Fatalf("Write: %d %v", n, err)
	}
	if n, err := w.Write([]byte("c\nd\n")); n != 2 || err != errCut {
		t.Fatalf("Write: %d %v, want 2, errCut", n, err)
	}
	if _, err := w.Write([]byte("e")); err != errCut || out.String() != "a\nbc\n" {
		t.Fatalf("after the cut: %v, out %q", err, out.String())
	}
}
