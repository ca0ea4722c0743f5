package audit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

func readRecords(t *testing.T, path string) []Record {
	t.Helper()
	recs, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestWriteAndReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%v %v", fi.Mode(), err)
	}
	spec := &protocol.JobSpec{ID: "j1", User: "alice", Command: "uname -a", Nodes: "n[1-2]", Worker: "ssh"}
	rec := FromSpec(Accepted, spec, 2)
	rec.Decision, rec.Rule = "allow", "r1"
	if err := l.Write(rec); err != nil {
		t.Fatal(err)
	}
	// Rotation: rename, then reopen (what SIGHUP does).
	rotated := filepath.Join(dir, "audit.log.1")
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	end := FromSpec(Ended, spec, 2)
	end.Finals = map[protocol.State]int{protocol.StateExited: 2}
	end.DurationMS = 5
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	if err := l.Write(end); err != nil {
		t.Fatal(err)
	}
	old, cur := readRecords(t, rotated), readRecords(t, path)
	if len(old) != 1 || old[0].Event != Accepted || old[0].User != "alice" || old[0].Time.IsZero() || old[0].Nodes != "n[1-2]" {
		t.Errorf("rotated: %+v", old)
	}
	if len(cur) != 1 || cur[0].Event != Ended || cur[0].Finals[protocol.StateExited] != 2 {
		t.Errorf("new: %+v", cur)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Write(end); err == nil {
		t.Error("write after close")
	}
}

// A log that cannot be opened is an error at once; one whose reopen
// fails keeps writing to the old file.
func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "no", "such", "dir")); err == nil {
		t.Fatal("opened a file in a missing directory")
	}
	sub := filepath.Join(dir, "d")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(sub, "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := os.Rename(sub, filepath.Join(dir, "moved")); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err == nil {
		t.Fatal("reopened under a missing directory")
	}
	if err := l.Write(Record{Event: Denied, Job: "j"}); err != nil {
		t.Fatalf("old file lost: %v", err)
	}
	if recs := readRecords(t, filepath.Join(dir, "moved", "audit.log")); len(recs) != 1 {
		t.Fatalf("%+v", recs)
	}
}

func TestTruncated(t *testing.T) {
	r := FromSpec(Denied, &protocol.JobSpec{ID: "j", Command: strings.Repeat("x", MaxField+1)}, 0)
	if len(r.Command) != MaxField || !r.Truncated {
		t.Errorf("%d %v", len(r.Command), r.Truncated)
	}
}

// BenchmarkWrite measures one record written and fsynced: the latency
// the audit log adds to every submit.
func BenchmarkWrite(b *testing.B) {
	l, err := Open(filepath.Join(b.TempDir(), "audit.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	rec := FromSpec(Accepted, &protocol.JobSpec{ID: "j1", User: "alice", Command: "uname -a", Nodes: "node[1-1000]"}, 1000)
	for b.Loop() {
		if err := l.Write(rec); err != nil {
			b.Fatal(err)
		}
	}
}

func TestReadRefusesNonRecords(t *testing.T) {
	if _, err := Read(strings.NewReader("{\"event\":\"ended\"}\nnot json\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("%v", err)
	}
}
