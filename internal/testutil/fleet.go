package testutil

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/nats-io/nkeys"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// FleetJob is what ReadJob reads: a fleet job's node names and its
// stream of batches, as a pkg/fleet/client Job gives them (an interface,
// so that this package does not import the client, whose own tests may
// use it).
type FleetJob interface {
	Nodes() []string
	Next(ctx context.Context) (*protocol.EventBatch, error)
}

// ReadJob reads job's stream to its end (io.EOF), calling each for every
// event that names nodes, once for each node it names (by name), in the
// stream's order. It returns Next's first other error.
func ReadJob(ctx context.Context, job FleetJob, each func(node string, e protocol.Event)) error {
	names := job.Nodes()
	for {
		b, err := job.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, e := range b.Events {
			for _, i := range e.Nodes {
				each(names[i], e)
			}
		}
	}
}

// LetterNames returns n node names of letters only ("node-" and the
// letters of i, lowest first): with no numeric field no two share a
// pattern, so none folds with another (where BadNames's are longer and
// have numbers). The fleet's status page and status API tests and
// benchmarks render jobs of such names.
func LetterNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		b := []byte("node-")
		for j := i; ; j /= 26 {
			b = append(b, byte('a'+j%26))
			if j < 26 {
				break
			}
		}
		names[i] = string(b)
	}
	return names
}

// UserKey returns a new nkeys user key pair (what signs shards, or an
// in-process connection's key) and its public key, failing the test on
// error.
func UserKey(t testing.TB) (nkeys.KeyPair, string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return kp, pub
}
