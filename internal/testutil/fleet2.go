package testutil

import (
	"testing"

	"github.com/fleetsh/fleetsh/pkg/fleet/audit"
)

// AuditRecords reads the audit log at path, failing the test on error:
// what the audit log's own tests (an external test package: this package
// imports audit), the coordinator's and the integration tests check.
func AuditRecords(t testing.TB, path string) []audit.Record {
	t.Helper()
	recs, err := audit.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// AuditLog opens the audit log at path, failing the test on error, and
// closes it when the test ends (Close is idempotent: a test may close it
// before, to see writes fail).
func AuditLog(t testing.TB, path string) *audit.Log {
	t.Helper()
	l, err := audit.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}
