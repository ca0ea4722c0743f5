package protocol

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"
)

// fixedSeed is a user nkey seed for tests that need the same key in
// every run (the fuzz corpus).
const fixedSeed = "SUAKM3YKADXYDZCB5FXIPGOLZRZVW6GTDD4LYMO3M5WBZ246KK54MJFMJA"

func keyPair(t testing.TB, seed string) nkeys.KeyPair {
	t.Helper()
	kp, err := nkeys.FromSeed([]byte(seed))
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func pubKey(t testing.TB, kp nkeys.KeyPair) string {
	t.Helper()
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// trust returns the verifiers of kps' public keys.
func trust(t testing.TB, kps ...nkeys.KeyPair) map[string]KeyVerifier {
	t.Helper()
	m := map[string]KeyVerifier{}
	for _, kp := range kps {
		pub := pubKey(t, kp)
		v, err := nkeys.FromPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		m[pub] = v
	}
	return m
}

func sampleShard() *Shard {
	return &Shard{Job: "j1", ID: "s1", Attempt: 1, Group: "gw", Nodes: "n[1-3]", Window: 4,
		Spec: JobSpec{ID: "j1", User: "ann", Command: "uptime", Worker: "exec",
			Copy: &CopySpec{Source: "/a", Dest: "/b"}, Info: map[string]string{"ssh_user": "root"}}}
}

func codeOf(err error) ErrorCode {
	if err == nil {
		return ""
	}
	return CodeOf(err)
}

// A grant opens with every key the agent trusts (rotation), for itself,
// while valid; every other case is refused with its own code.
func TestSignAndOpen(t *testing.T) {
	kp := keyPair(t, fixedSeed)
	other, _ := nkeys.CreateUser()
	now := time.Now()
	v, err := NewVerifier("a1", trust(t, other, kp), 0)
	if err != nil {
		t.Fatal(err)
	}
	data, err := SignShard(kp, "a1", sampleShard(), now, DefaultShardTTL)
	if err != nil {
		t.Fatal(err)
	}
	g, err := v.Open(data, now)
	if err != nil {
		t.Fatal(err)
	}
	want := sampleShard()
	if g.Agent != "a1" || g.Shard.Key() != want.Key() || g.Shard.Spec.Command != "uptime" ||
		g.Shard.Spec.Copy == nil || g.Shard.Spec.Info["ssh_user"] != "root" || g.Nonce == "" {
		t.Fatalf("grant %+v", g)
	}
	again, _ := SignShard(kp, "a1", sampleShard(), now, DefaultShardTTL)
	if g2, _ := v.Open(again, now); g2 == nil || g2.ReplayKey() == g.ReplayKey() {
		t.Fatal("two signatures of one shard share a nonce")
	}

	sign := func(kp nkeys.KeyPair, agent string, sh *Shard, at time.Time, ttl time.Duration) []byte {
		d, err := SignShard(kp, agent, sh, at, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	stranger, _ := nkeys.CreateUser()
	unsigned, _ := Marshal(sampleShard())
	noAttempt := sampleShard()
	noAttempt.Attempt = 0
	badJob := sampleShard()
	badJob.Job = "a.b"
	for _, c := range []struct {
		name string
		data []byte
		code ErrorCode
	}{
		{"unsigned", unsigned, CodeUnsigned},
		{"not json", []byte("\x00\x01"), CodeUnsigned},
		{"stranger's key", sign(stranger, "a1", sampleShard(), now, time.Minute), CodeBadSignature},
		{"tampered", bytes.Replace(data, []byte("uptime"), []byte("reboot"), 1), CodeBadSignature},
		{"key swapped", bytes.Replace(sign(stranger, "a1", sampleShard(), now, time.Minute),
			[]byte(pubKey(t, stranger)), []byte(pubKey(t, kp)), 1), CodeBadSignature},
		{"other agent", sign(kp, "a2", sampleShard(), now, time.Minute), CodeMisaddressed},
		{"expired", sign(kp, "a1", sampleShard(), now.Add(-2*time.Minute), time.Minute), CodeExpired},
		{"future", sign(kp, "a1", sampleShard(), now.Add(time.Minute), time.Minute), CodeExpired},
		{"too long", sign(kp, "a1", sampleShard(), now, 2*time.Hour), CodeBadRequest},
		{"attempt 0", sign(kp, "a1", noAttempt, now, time.Minute), CodeBadRequest},
		{"bad job id", sign(kp, "a1", badJob, now, time.Minute), CodeBadRequest},
		{"too large", make([]byte, MaxSignedShard+1), CodeBadRequest},
	} {
		if _, err := v.Open(c.data, now); codeOf(err) != c.code {
			t.Errorf("%s: %v (code %q), want code %q", c.name, err, codeOf(err), c.code)
		}
	}
	// Within the skew either way: accepted.
	for _, at := range []time.Time{now.Add(DefaultClockSkew / 2), now.Add(-time.Minute - DefaultClockSkew/2)} {
		if _, err := v.Open(sign(kp, "a1", sampleShard(), at, time.Minute), now); err != nil {
			t.Errorf("issued %v from now: %v", at.Sub(now), err)
		}
	}
}

// An agent must trust at least one key; a coordinator must have one.
func TestVerifierKeys(t *testing.T) {
	if _, err := NewVerifier("a1", nil, 0); err == nil {
		t.Error("no key accepted")
	}
	if _, err := NewVerifier("a1", map[string]KeyVerifier{"U": nil}, 0); err == nil {
		t.Error("a key without a verifier accepted")
	}
	if _, err := SignShard(nil, "a1", sampleShard(), time.Now(), time.Minute); err == nil {
		t.Error("signed without a key")
	}
}

// No NATS server nonce (valid UTF-8, the client signs it as is) can be
// made into a grant's signed bytes.
func TestSignContextIsNotUTF8(t *testing.T) {
	if strings.ToValidUTF8(signContext, "") == signContext {
		t.Fatal("signContext is valid UTF-8")
	}
}

// FuzzOpenSignedShard feeds the envelope decoder and verifier any bytes:
// no panic, nothing opens unless signed by the trusted key (the fuzzer
// cannot sign), and what decoding allocates stays within a fixed multiple
// of the input's size.
//
//	go test -run '^$' -fuzz FuzzOpenSignedShard -fuzztime 30s ./pkg/protocol
func FuzzOpenSignedShard(f *testing.F) {
	kp := keyPair(f, fixedSeed)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	valid, err := SignShard(kp, "a1", sampleShard(), now, time.Minute)
	if err != nil {
		f.Fatal(err)
	}
	unsigned, _ := Marshal(sampleShard())
	for _, s := range [][]byte{valid, unsigned, []byte(`{"key":"","sig":"","payload":null}`), []byte(`{"payload":[[[[[]]]]]}`), []byte("{}")} {
		f.Add(s)
	}
	v, err := NewVerifier("a1", trust(f, kp), 0)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		g, err := v.Open(data, now)
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(64*len(data)+64<<10) {
			t.Errorf("%d bytes allocated for %d bytes of input", alloc, len(data))
		}
		if err != nil {
			var ce *CodedError
			if !errors.As(err, &ce) {
				t.Errorf("refusal without a code: %v", err)
			}
			return
		}
		// Only the one signed grant (or its envelope respelled) opens.
		if g.Shard.Key() != sampleShard().Key() || g.Shard.Spec.Command != "uptime" {
			t.Errorf("opened a grant nobody signed: %+v", g)
		}
	})
}

// BenchmarkSignedShard measures what signing costs the coordinator and
// verifying costs an agent, for a one-node shard and for a shard whose
// folded node set is 1 MB (one under the default max_payload).
//
//	go test -run '^$' -bench SignedShard -benchmem ./pkg/protocol
func BenchmarkSignedShard(b *testing.B) {
	kp := keyPair(b, fixedSeed)
	v, err := NewVerifier("a1", trust(b, kp), 0)
	if err != nil {
		b.Fatal(err)
	}
	big := sampleShard()
	big.Nodes = strings.Repeat("n", 1000) + "[1-1000]," + strings.Repeat("x", 1<<20-2000)
	for _, c := range []struct {
		name string
		sh   *Shard
	}{{"small", sampleShard()}, {"1MB", big}} {
		now := time.Now()
		data, err := SignShard(kp, "a1", c.sh, now, time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("sign/"+c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := SignShard(kp, "a1", c.sh, now, time.Minute); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("open/"+c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := v.Open(data, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
