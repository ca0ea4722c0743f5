package nodesetcli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/pkg/nodeset"
)

func run1(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	rc := Main(args, strings.NewReader(""), &out, &errb, os.Getenv)
	return out.String(), errb.String(), rc
}

// TestPick checks --pick, whose output is random and so absent from the
// golden files: N distinct members of the set, or all of them.
func TestPick(t *testing.T) {
	all := nodeset.MustParse("node[1-100]")
	for i := 0; i < 20; i++ {
		out, _, rc := run1(t, "-f", "--pick", "3", "node[1-100]")
		picked, err := nodeset.Parse(strings.TrimSpace(out))
		if rc != 0 || err != nil || picked.Len() != 3 || !all.IsSuperset(picked) {
			t.Fatalf("--pick 3: %q rc %d (%v)", out, rc, err)
		}
	}
	if out, _, _ := run1(t, "-c", "--pick", "200", "node[1-10]"); out != "10\n" {
		t.Errorf("--pick beyond the set: %q", out)
	}
	if out, _, _ := run1(t, "-c", "--pick", "0", "node[1-10]"); out != "10\n" {
		t.Errorf("--pick 0 keeps all as ClusterShell: %q", out)
	}
}

// TestDebugLogsUpcalls checks that -d logs group upcalls the way
// ClusterShell's logging does.
func TestDebugLogsUpcalls(t *testing.T) {
	out, errs, rc := run1(t, "--groupsconf", "testdata/golden/conf/groups.conf", "-d", "-f", "@echo:x")
	if rc != 0 || out != "echo-x-[1-2]\n" {
		t.Fatalf("out %q rc %d stderr %q", out, rc, errs)
	}
	for _, want := range []string{
		"DEBUG:ClusterShell.NodeUtils:EXEC 'echo \"echo-x-[1-2]\"'",
		"DEBUG:ClusterShell.NodeUtils:READ 'echo-x-[1-2]'",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr %q lacks %q", errs, want)
		}
	}
	if _, errs, _ := run1(t, "--groupsconf", "testdata/golden/conf/groups.conf", "-f", "@echo:x"); errs != "" {
		t.Errorf("without -d: stderr %q", errs)
	}
}

// TestStdinLargeFile checks that a large regular file given as standard
// input (read with a buffer sized from the file) reads as the same text
// would from a pipe, from the file's current offset, and is left
// consumed.
func TestStdinLargeFile(t *testing.T) {
	const minMapSize = 64 << 10 // sizes around the old mapping threshold
	var sb strings.Builder
	for i := 0; sb.Len() < 3*minMapSize; i++ {
		switch {
		case i%100 == 1:
			fmt.Fprintf(&sb, "r%dn%d  gpu-%06d # comment %d\n", i%7, i%11, i, i)
		case i%100 == 2:
			fmt.Fprintf(&sb, "node[%d-%d]\r\n", i, i+3)
		case i%100 == 3:
			fmt.Fprintf(&sb, "\tlogin%d,node%d\n", i%3, i+1)
		case i%100 == 4:
			fmt.Fprintf(&sb, "node%d", i) // no newline: joins the next line
		default:
			fmt.Fprintf(&sb, "node%d\n", i)
		}
	}
	sb.WriteString("last") // ClusterShell drops the last character here
	text := sb.String()
	path := filepath.Join(t.TempDir(), "names")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, skip := range []int64{0, 1, 4095, 4096, 5000, int64(len(text)) - minMapSize, int64(len(text)) - 10} {
		for _, args := range [][]string{{"-f"}, {"-c"}, {"-e", "-x", "node[1-100]"}} {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Seek(skip, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			var want, wantErr, got, gotErr bytes.Buffer
			wrc := Main(args, strings.NewReader(text[skip:]), &want, &wantErr, os.Getenv)
			grc := Main(args, f, &got, &gotErr, os.Getenv)
			if grc != wrc || got.String() != want.String() || gotErr.String() != wantErr.String() {
				t.Errorf("offset %d, %q: file gives rc %d %.80q %q, reader rc %d %.80q %q",
					skip, args, grc, got.String(), gotErr.String(), wrc, want.String(), wantErr.String())
			}
			if off, err := f.Seek(0, io.SeekCurrent); err != nil || off != int64(len(text)) {
				t.Errorf("offset %d, %q: file left at %d (%v), want its end %d", skip, args, off, err, len(text))
			}
			f.Close()
		}
	}
}

type failWriter struct{ n int } // fails from the n+1th write on

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		return 0, errors.New("disk full")
	}
	w.n--
	return len(p), nil
}

// TestLongLines checks that lines written past the output buffer
// (writeLine) come out whole and in order, and that a write error is
// reported as a buffered one is.
func TestLongLines(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	expr := fragmentedArg(r, 1, 200_000)
	ns := nodeset.MustParse(expr)
	var want strings.Builder
	for _, part := range ns.Split(3) {
		want.WriteString(part.String() + "\n")
	}
	if len(want.String()) < 3*directLine {
		t.Fatalf("test lines too short: %d bytes", len(want.String()))
	}
	out, errs, rc := run1(t, "-f", "--split=3", expr)
	if rc != 0 || errs != "" || out != want.String() {
		t.Fatalf("rc %d, stderr %q, %d bytes of output, want %d", rc, errs, len(out), len(want.String()))
	}
	for _, args := range [][]string{{"-f", expr}, {"-f", "node[1-5]"}, {"-f", "--split=3", expr}} {
		count := &failWriter{n: 1 << 30}
		if rc := Main(args, strings.NewReader(""), count, io.Discard, os.Getenv); rc != 0 {
			t.Fatalf("%.20q: rc %d", args, rc)
		}
		for n := 0; n < 1<<30-count.n; n++ {
			var errb bytes.Buffer
			rc := Main(args, strings.NewReader(""), &failWriter{n}, &errb, os.Getenv)
			if rc != 1 || errb.String() != "ERROR: disk full\n" {
				t.Errorf("%.20q, failing after %d writes: rc %d, stderr %q", args, n, rc, errb.String())
			}
		}
	}
}
