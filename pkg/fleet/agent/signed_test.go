package agent

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// An agent runs nothing it is sent unsigned, signed by a key it does not
// trust, addressed to another agent, expired, from the future, tampered
// with after signing, or seen before: each is refused with its code and a
// WARN line naming it, and the agent goes on serving the genuine shard
// with its true results, once.
func TestSignedShardRefusals(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, 0)
	c := newCoord(t, srv, protocol.Subjects{})
	c.welcome(protocol.Welcome{Heartbeat: 200 * time.Millisecond})
	var logs testutil.SyncBuffer
	a, _, _ := testAgent(t, srv, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	waitRegistered(t, c, a)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("agent log:\n%s", logs.String())
		}
	})

	marker := filepath.Join(t.TempDir(), "ran")
	sh := shardOf("victim", []string{"v1"}, protocol.JobSpec{Command: "echo ran >> " + marker + "; echo hi %h"})
	sign := func(kp nkeys.KeyPair, agent string, at time.Time, ttl time.Duration) []byte {
		t.Helper()
		data, err := protocol.SignShard(kp, agent, sh, at, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	now := time.Now()
	genuine := sign(testKey, a.ID(), now, protocol.DefaultShardTTL)
	stranger, _ := nkeys.CreateUser()
	unsigned, _ := protocol.Marshal(sh)
	tampered := bytes.Replace(genuine, []byte("echo hi"), []byte("echo pwned"), 1)
	if bytes.Equal(tampered, genuine) {
		t.Fatal("nothing tampered")
	}
	for _, bad := range []struct {
		name string
		data []byte
		code protocol.ErrorCode
		says string
	}{
		{"unsigned", unsigned, protocol.CodeUnsigned, "unsigned shard"},
		{"stranger's key", sign(stranger, a.ID(), now, time.Minute), protocol.CodeBadSignature, "does not trust"},
		{"another agent's", sign(testKey, "gw2-other", now, time.Minute), protocol.CodeMisaddressed, `for agent "gw2-other"`},
		{"expired", sign(testKey, a.ID(), now.Add(-time.Hour), time.Minute), protocol.CodeExpired, "expired at"},
		{"from the future", sign(testKey, a.ID(), now.Add(time.Hour), time.Minute), protocol.CodeExpired, "in the future"},
		{"tampered", tampered, protocol.CodeBadSignature, "does not verify"},
	} {
		rep := c.send(a, bad.data)
		if rep.Accepted || rep.Code != bad.code || !strings.Contains(rep.Error, bad.says) {
			t.Errorf("%s: reply %+v, want code %s saying %q", bad.name, rep, bad.code, bad.says)
		}
		// Logged before the reply was sent.
		if !strings.Contains(logs.String(), "level=WARN msg=\"shard refused\" agent="+a.ID()+" code="+string(bad.code)) {
			t.Errorf("%s: no WARN line with code %s", bad.name, bad.code)
		}
		if n := len(a.list()); n != 0 {
			t.Fatalf("%s: the agent holds %d shards", bad.name, n)
		}
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Fatalf("a refused shard ran: %v", err)
	}

	// The genuine shard runs, with its true results.
	if rep := c.send(a, genuine); !rep.Accepted {
		t.Fatalf("genuine shard refused: %+v", rep)
	}
	r := c.wait(sh.Key())
	nodes := r.nodes(t, 1)
	if end := oneEnd(t, nodes)[0]; end.State != protocol.StateExited || end.Code != 0 || strings.Join(nodes[0].stdout, "|") != "hi v1" {
		t.Fatalf("genuine shard: end %+v, stdout %q", end, nodes[0].stdout)
	}
	// The same bytes again, its shard ended and forgotten or not: refused.
	rep := c.send(a, genuine)
	if rep.Accepted || rep.Code != protocol.CodeReplayed || !strings.Contains(rep.Error, sh.Key()) {
		t.Fatalf("replay: %+v", rep)
	}
	if b, err := os.ReadFile(marker); err != nil || string(b) != "ran\n" {
		t.Fatalf("the command ran %q (%v), want once", b, err)
	}
}

// An agent trusts every key it is given (a rotation: the old key and
// the new), and needs at least one.
func TestCoordinatorKeys(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t, 0)
	c := newCoord(t, srv, protocol.Subjects{})
	c.welcome(protocol.Welcome{Heartbeat: 200 * time.Millisecond})
	old, _ := nkeys.CreateUser()
	a, _, _ := testAgent(t, srv, Config{CoordinatorKeys: []string{publicKey(t, old), publicKey(t, testKey)}})
	waitRegistered(t, c, a)
	for i, kp := range []nkeys.KeyPair{old, testKey} {
		sh := shardOf("rot", []string{"r1"}, protocol.JobSpec{Command: "true"})
		sh.Attempt = i + 1
		data, err := protocol.SignShard(kp, a.ID(), sh, time.Now(), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if rep := c.send(a, data); !rep.Accepted {
			t.Fatalf("key %d: %+v", i, rep)
		}
		c.wait(sh.Key())
	}
	nc := srv.Connect(t, "agent")
	curve, _ := nkeys.CreateCurveKeys()
	seed, _ := testKey.Seed()
	for _, keys := range [][]string{nil, {"not-a-key"}, {publicKey(t, curve)}, {string(seed)}} {
		if _, err := New(nc, Config{Name: "gw1", Worker: "exec", CoordinatorKeys: keys}); err == nil || !strings.Contains(err.Error(), "coordinator key") {
			t.Errorf("keys %q: %v", keys, err)
		}
	}
}

// The replay cache refuses a key seen before until it expires, forgets
// it after, and refuses new keys rather than forget unexpired ones.
func TestReplayCache(t *testing.T) {
	r := newReplayCache(2)
	t0 := time.Unix(1000, 0)
	if r.add("a", t0.Add(time.Minute), t0) != added || r.add("a", t0.Add(time.Minute), t0) != replayed {
		t.Fatal("a repeat was not seen")
	}
	if r.add("b", t0.Add(2*time.Minute), t0) != added || r.add("c", t0.Add(time.Minute), t0) != full {
		t.Fatal("a full cache took a key")
	}
	later := t0.Add(time.Minute)
	if r.add("a", later.Add(time.Minute), later) != added { // a expired: forgotten
		t.Fatal("an expired key is still held")
	}
	if r.add("b", later.Add(time.Minute), later) != replayed || len(r.until) != 2 || len(r.order) != 2 {
		t.Fatalf("b: %v", r.until)
	}
}
