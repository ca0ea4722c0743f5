package coordinator

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Every shard request is signed with the configured key for the agent
// it goes to, and each retry of a lost request is signed anew: the same
// shard, a new nonce (an agent refuses a grant it saw before, and
// answers a new grant of a shard it took as accepted).
func TestShardsSignedAnewOnRetry(t *testing.T) {
	kp, pub := testutil.UserKey(t)
	srv, co := startCoordinator(t, Config{SigningKey: kp, ShardTTL: 30 * time.Second})
	if co.PublicKey() != pub {
		t.Fatalf("PublicKey %q, want %q", co.PublicKey(), pub)
	}
	a := newFakeAgent(t, srv, "a1")
	a.ignore.Store(1)
	seen := make(chan []byte, 10)
	spy := srv.Connect(t, "spy")
	if _, err := spy.Subscribe(subj.Agent("a1"), func(m *nats.Msg) { seen <- m.Data }); err != nil {
		t.Fatal(err)
	}
	if err := spy.Flush(); err != nil {
		t.Fatal(err)
	}
	verifier, _ := nkeys.FromPublicKey(pub)
	v, err := protocol.NewVerifier("a1", map[string]protocol.KeyVerifier{pub: verifier}, 0)
	if err != nil {
		t.Fatal(err)
	}
	read := submit(t, srv, protocol.JobSpec{ID: "signed", Nodes: "n1", Command: "true"})
	var grants []*protocol.ShardGrant
	for len(grants) < 2 {
		g, err := v.Open(<-seen, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		grants = append(grants, g)
	}
	for _, g := range grants {
		if g.Shard.Key() != grants[0].Shard.Key() || g.Shard.Spec.Command != "true" ||
			g.Shard.Nodes != "n1" || g.Expires.Sub(g.Issued) != 30*time.Second {
			t.Errorf("grant %+v", g)
		}
	}
	if grants[0].Nonce == grants[1].Nonce {
		t.Error("a retry reused the nonce")
	}
	s := a.shard()
	a.send(s, start(0), exit(0, 0))
	if res := read(); res.states["n1"] != protocol.StateExited {
		t.Fatalf("result %+v", res)
	}
}
