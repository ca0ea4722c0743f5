package daemon

import (
	"testing"

	"github.com/fleetsh/fleetsh/internal/testutil"
)

// testPublicKey returns the public key of a new signing key, for an
// agent that must trust some coordinator key.
func testPublicKey(t testing.TB) string {
	t.Helper()
	_, pub := testutil.UserKey(t)
	return pub
}
