package testutil

import (
	"testing"

	"github.com/fleetsh/fleetsh/pkg/fleet/audit"
)

// AuditRecords reads the audit log at path, failing the test on error:
// what the coordinator's tests and the integration tests check a policy
// decision against. (pkg/fleet/audit's own tests keep their copy: they
// cannot import this package, which imports theirs.)
func AuditRecords(t testing.TB, path string) []audit.Record {
	t.Helper()
	recs, err := audit.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}
