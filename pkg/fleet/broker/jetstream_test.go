package broker

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth/authtest"
	"github.com/fleetsh/fleetsh/pkg/fleet/store"
)

// With JetStream on, the coordinator (in process) keeps its state there;
// a submitter or an agent can neither reach JetStream's API nor write
// into a job's journal.
func TestJetStreamIsTheCoordinators(t *testing.T) {
	site := authtest.NewSite(t)
	alice := site.Add(auth.Submitter, "alice")
	gw1 := site.Add(auth.Agent, "gw1")
	inProc, pub := testutil.UserKey(t)
	s, err := Start(Config{Listen: "127.0.0.1:0", Identities: site.Identities, InProcessKey: pub,
		JetStream: true, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	co, err := nats.Connect("", nats.InProcessServer(s), nats.Nkey(pub, inProc.Sign))
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close()
	ctx := context.Background()
	st, err := store.Open(ctx, co, store.Config{MaxBytes: 16 << 20})
	if err != nil {
		t.Fatalf("the coordinator's store: %v", err)
	}
	for name, seed := range map[string]string{"submitter": alice, "agent": gw1} {
		opt, err := nats.NkeyOptionFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect("nats://"+Addr(s), opt)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := store.Open(ctx, nc, store.Config{Timeout: 500 * time.Millisecond}); err == nil {
			t.Errorf("%s opened the store", name)
		}
		_ = nc.Publish("fleet.journal.j1", []byte("forged")) // the journal of job j1
		_ = nc.Flush()
		nc.Close()
	}
	n := 0
	if err := st.Read(ctx, "j1", func([]byte) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("journal of j1 after others wrote to it: %d messages, %v", n, err)
	}
}
