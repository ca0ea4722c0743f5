package audit_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/fleet/audit"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

func TestWriteAndReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	l := testutil.AuditLog(t, path)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%v %v", fi.Mode(), err)
	}
	spec := &protocol.JobSpec{ID: "j1", User: "alice", Command: "uname -a", Nodes: "n[1-2]", Worker: "ssh"}
	rec := audit.FromSpec(audit.Accepted, spec, 2)
	rec.Decision, rec.Rule = "allow", "r1"
	if err := l.Write(rec); err != nil {
		t.Fatal(err)
	}
	// Rotation: rename, then reopen (what SIGHUP does).
	rotated := filepath.Join(dir, "audit.log.1")
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	end := audit.FromSpec(audit.Ended, spec, 2)
	end.Finals = map[protocol.State]int{protocol.StateExited: 2}
	end.DurationMS = 5
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	if err := l.Write(end); err != nil {
		t.Fatal(err)
	}
	old, cur := testutil.AuditRecords(t, rotated), testutil.AuditRecords(t, path)
	if len(old) != 1 || old[0].Event != audit.Accepted || old[0].User != "alice" || old[0].Time.IsZero() || old[0].Nodes != "n[1-2]" {
		t.Errorf("rotated: %+v", old)
	}
	if len(cur) != 1 || cur[0].Event != audit.Ended || cur[0].Finals[protocol.StateExited] != 2 {
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
	if _, err := audit.Open(filepath.Join(dir, "no", "such", "dir")); err == nil {
		t.Fatal("opened a file in a missing directory")
	}
	sub := filepath.Join(dir, "d")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(sub, "audit.log")
	l := testutil.AuditLog(t, path)
	if err := os.Rename(sub, filepath.Join(dir, "moved")); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err == nil {
		t.Fatal("reopened under a missing directory")
	}
	if err := l.Write(audit.Record{Event: audit.Denied, Job: "j"}); err != nil {
		t.Fatalf("old file lost: %v", err)
	}
	if recs := testutil.AuditRecords(t, filepath.Join(dir, "moved", "audit.log")); len(recs) != 1 {
		t.Fatalf("%+v", recs)
	}
}

func TestTruncated(t *testing.T) {
	r := audit.FromSpec(audit.Denied, &protocol.JobSpec{ID: "j", Command: strings.Repeat("x", audit.MaxField+1)}, 0)
	if len(r.Command) != audit.MaxField || !r.Truncated {
		t.Errorf("%d %v", len(r.Command), r.Truncated)
	}
}

// BenchmarkWrite measures one record written and fsynced: the latency
// the audit log adds to every submit.
func BenchmarkWrite(b *testing.B) {
	l := testutil.AuditLog(b, filepath.Join(b.TempDir(), "audit.log"))
	rec := audit.FromSpec(audit.Accepted, &protocol.JobSpec{ID: "j1", User: "alice", Command: "uname -a", Nodes: "node[1-1000]"}, 1000)
	for b.Loop() {
		if err := l.Write(rec); err != nil {
			b.Fatal(err)
		}
	}
}

func TestReadRefusesNonRecords(t *testing.T) {
	if _, err := audit.Read(strings.NewReader("{\"event\":\"ended\"}\nnot json\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("%v", err)
	}
}
