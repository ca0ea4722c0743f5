package daemon

import (
	"testing"

	"github.com/nats-io/nkeys"
)

// testPublicKey returns the public key of a new signing key, for an
// agent that must trust some coordinator key.
func testPublicKey(t testing.TB) string {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}
