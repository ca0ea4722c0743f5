package protocol

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// A shard travels signed (protocol version 4): the coordinator signs a
// ShardGrant, which names the shard, the agent it is for, when it was
// issued, when it expires and a random nonce, with its ed25519 nkey; the
// agent runs it only if the signature verifies against a key it trusts,
// the grant is for itself, is valid now and was not seen before. The
// message body is a SignedShard envelope:
//
//	{"key":"U...","sig":"<base64>","payload":<the grant's JSON>}
//
// The envelope has this one spelling (fields in this order, no spaces):
// its decoder reads the key and signature off the front and takes the
// rest as the payload, without scanning it. Payload is carried verbatim
// (a JSON value, not a string), and the signature covers exactly those
// bytes: nothing is re-encoded between signing and verifying, so there is
// no canonical form to agree on.

// Signing defaults and bounds.
const (
	// DefaultShardTTL is how long a signed shard may wait to be accepted.
	// A shard is verified when its agent accepts it, not while it runs:
	// the TTL only has to cover the dispatch (a few seconds, retried).
	DefaultShardTTL = time.Minute
	// MaxShardTTL is the longest validity an agent accepts: its replay
	// cache keeps each grant that long.
	MaxShardTTL = time.Hour
	// DefaultClockSkew is how far the coordinator's clock may be from an
	// agent's before a shard looks issued in the future or expired.
	DefaultClockSkew = 30 * time.Second
	// MaxSignedShard bounds the envelope a decoder reads: NATS's own
	// largest max_payload.
	MaxSignedShard = 64 << 20
)

// Error codes of a shard refused by its signature check.
const (
	// CodeUnsigned: the shard carries no signature (or no envelope).
	CodeUnsigned ErrorCode = "unsigned"
	// CodeBadSignature: the signature does not verify, or the signer's
	// key is not one the agent trusts.
	CodeBadSignature ErrorCode = "bad_signature"
	// CodeExpired: the grant is not valid now (expired, or issued in the
	// future beyond the clock skew allowed).
	CodeExpired ErrorCode = "expired"
	// CodeReplayed: this exact grant was received before.
	CodeReplayed ErrorCode = "replayed"
	// CodeMisaddressed: the grant names another agent.
	CodeMisaddressed ErrorCode = "misaddressed"
)

// signContext starts every signed message. It begins with a byte that is
// not valid UTF-8, so no nonce a NATS server hands a client to sign (a
// JSON string, always valid UTF-8 once decoded) can ever pass for a
// grant, should a site sign shards with its coordinator's NATS seed.
const signContext = "\xfffleetsh shard grant v1\x00"

// ShardGrant is what the coordinator signs: the whole shard and who may
// run it, when.
type ShardGrant struct {
	// Agent is the id of the only agent that may run the shard.
	Agent string `json:"agent"`
	// Issued and Expires bound when the agent may accept it.
	Issued  time.Time `json:"issued"`
	Expires time.Time `json:"expires"`
	// Nonce makes each grant unique (the replay cache's key with the
	// shard's).
	Nonce string `json:"nonce"`
	// Shard is the shard itself, its JobSpec whole.
	Shard Shard `json:"shard"`
}

// Signer signs grants: an nkeys.KeyPair made from a seed (any nkey type
// that signs) is one. The package stays free of the key encoding.
type Signer interface {
	PublicKey() (string, error)
	Sign(input []byte) ([]byte, error)
}

// KeyVerifier checks signatures of one public key: an nkeys.KeyPair made
// from a public key is one.
type KeyVerifier interface {
	Verify(input, sig []byte) error
}

// ReplayKey names this grant in a replay cache.
func (g *ShardGrant) ReplayKey() string { return g.Shard.Key() + "/" + g.Nonce }

// SignedShard is the envelope of a signed shard on the wire.
type SignedShard struct {
	// Key is the signer's public nkey.
	Key string `json:"key"`
	// Sig is the ed25519 signature of Payload (after signContext).
	Sig []byte `json:"sig"`
	// Payload is the JSON of a ShardGrant, exactly the bytes signed.
	Payload json.RawMessage `json:"payload"`
}

// SignShard returns the envelope of sh, for agent, issued now and valid
// for ttl, signed with kp.
func SignShard(kp Signer, agent string, sh *Shard, now time.Time, ttl time.Duration) ([]byte, error) {
	if kp == nil {
		return nil, errors.New("sign shard: no signing key")
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("sign shard: %w", err)
	}
	if pub == "" || len(pub) > 64 || strings.ContainsAny(pub, "\"\\") {
		return nil, fmt.Errorf("sign shard: public key %.16q: not an nkey", pub)
	}
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	g := ShardGrant{Agent: agent, Issued: now.UTC(), Expires: now.Add(ttl).UTC(),
		Nonce: base64.RawURLEncoding.EncodeToString(nonce[:]), Shard: *sh}
	payload, err := json.Marshal(&g)
	if err != nil {
		return nil, fmt.Errorf("sign shard %s: %w", sh.Key(), err)
	}
	sig, err := kp.Sign(signed(payload))
	if err != nil {
		return nil, fmt.Errorf("sign shard %s: %w", sh.Key(), err)
	}
	// Written by hand so that Payload goes out byte for byte: the key is
	// base32 and the signature base64, neither needs escaping.
	var b bytes.Buffer
	b.Grow(len(payload) + len(pub) + 160)
	b.WriteString(envKey)
	b.WriteString(pub)
	b.WriteString(envSig)
	b.WriteString(base64.StdEncoding.EncodeToString(sig))
	b.WriteString(envPayload)
	b.Write(payload)
	b.WriteString("}")
	return b.Bytes(), nil
}

func signed(payload []byte) []byte {
	return append([]byte(signContext), payload...)
}

// Envelope layout: SignShard writes exactly this, and DecodeSignedShard
// reads nothing else.
const (
	envKey     = `{"key":"`
	envSig     = `","sig":"`
	envPayload = `","payload":`
)

// DecodeSignedShard decodes an envelope without checking its signature.
// It takes one spelling only, the one SignShard writes (key, sig and
// payload in that order, no spaces), so it never scans the payload: the
// cost is the same for a shard of any size, and what it keeps is a slice
// of data plus a 64-byte signature. It refuses data over MaxSignedShard.
func DecodeSignedShard(data []byte) (*SignedShard, error) {
	if len(data) > MaxSignedShard {
		return nil, &CodedError{Code: CodeBadRequest, Err: fmt.Errorf("signed shard of %d bytes: over %d", len(data), MaxSignedShard)}
	}
	unsigned := func(why string) error {
		return &CodedError{Code: CodeUnsigned, Err: fmt.Errorf("unsigned shard (%s): refused", why)}
	}
	rest, ok := bytes.CutPrefix(data, []byte(envKey))
	if !ok {
		return nil, unsigned("no signed envelope")
	}
	key, rest, ok := bytes.Cut(rest, []byte(envSig))
	if !ok || len(key) == 0 || len(key) > 64 {
		return nil, unsigned("no signer key")
	}
	sig, rest, ok := bytes.Cut(rest, []byte(envPayload))
	if !ok || len(sig) == 0 || len(sig) > 128 {
		return nil, unsigned("no signature")
	}
	payload, ok := bytes.CutSuffix(rest, []byte("}"))
	if !ok || len(payload) == 0 {
		return nil, unsigned("no payload")
	}
	env := &SignedShard{Key: string(key), Payload: payload, Sig: make([]byte, base64.StdEncoding.DecodedLen(len(sig)))}
	n, err := base64.StdEncoding.Decode(env.Sig, sig)
	if err != nil {
		return nil, &CodedError{Code: CodeBadSignature, Err: fmt.Errorf("shard signature: %w", err)}
	}
	env.Sig = env.Sig[:n]
	return env, nil
}

// Verifier checks signed shards for one agent against the coordinator
// keys it trusts.
type Verifier struct {
	keys  map[string]KeyVerifier
	agent string
	skew  time.Duration
}

// NewVerifier returns the verifier of agent's shards: keys maps each
// public key it trusts (at least one; several during a rotation) to its
// verifier, skew is the clock difference it allows (0:
// DefaultClockSkew).
func NewVerifier(agent string, keys map[string]KeyVerifier, skew time.Duration) (*Verifier, error) {
	if len(keys) == 0 {
		return nil, errors.New("no coordinator key: an agent runs only shards signed by a key it trusts")
	}
	if skew <= 0 {
		skew = DefaultClockSkew
	}
	v := &Verifier{keys: make(map[string]KeyVerifier, len(keys)), agent: agent, skew: skew}
	for k, kv := range keys {
		if kv == nil {
			return nil, fmt.Errorf("coordinator key %.12q...: no verifier", k)
		}
		v.keys[k] = kv
	}
	return v, nil
}

// Skew is the clock difference v allows.
func (v *Verifier) Skew() time.Duration { return v.skew }

// Open verifies an envelope at time now and returns its grant: signed by
// a trusted key, for this agent, valid now, with valid ids. It does not
// consult a replay cache: the caller does, with the grant's ReplayKey,
// until Expires plus Skew. Every refusal is a *CodedError.
func (v *Verifier) Open(data []byte, now time.Time) (*ShardGrant, error) {
	env, err := DecodeSignedShard(data)
	if err != nil {
		return nil, err
	}
	kp := v.keys[env.Key]
	if kp == nil {
		return nil, &CodedError{Code: CodeBadSignature, Err: fmt.Errorf("shard signed by key %.16q..., which this agent does not trust", env.Key)}
	}
	if err := kp.Verify(signed(env.Payload), env.Sig); err != nil {
		return nil, &CodedError{Code: CodeBadSignature, Err: fmt.Errorf("shard signature does not verify against key %.16q...: tampered or forged", env.Key)}
	}
	// Signed by a trusted key: from here on the grant is the
	// coordinator's word, still checked so that a bug there does not
	// become a bug here.
	g := new(ShardGrant)
	if err := json.Unmarshal(env.Payload, g); err != nil {
		return nil, &CodedError{Code: CodeBadRequest, Err: fmt.Errorf("signed shard: %w", err)}
	}
	if err := g.valid(); err != nil {
		return nil, &CodedError{Code: CodeBadRequest, Err: fmt.Errorf("signed shard: %w", err)}
	}
	if g.Agent != v.agent {
		return nil, &CodedError{Code: CodeMisaddressed, Err: fmt.Errorf("shard %s is for agent %q, not this one (%s)", g.Shard.Key(), g.Agent, v.agent)}
	}
	switch {
	case g.Issued.After(now.Add(v.skew)):
		return nil, &CodedError{Code: CodeExpired, Err: fmt.Errorf("shard %s issued at %s, in the future of this agent's clock (%s) by more than %v", g.Shard.Key(), g.Issued.Format(time.RFC3339), now.UTC().Format(time.RFC3339), v.skew)}
	case now.After(g.Expires.Add(v.skew)):
		return nil, &CodedError{Code: CodeExpired, Err: fmt.Errorf("shard %s expired at %s (this agent's clock: %s)", g.Shard.Key(), g.Expires.Format(time.RFC3339), now.UTC().Format(time.RFC3339))}
	}
	return g, nil
}

// valid checks a grant's own fields.
func (g *ShardGrant) valid() error {
	if err := ValidID(g.Agent); err != nil {
		return fmt.Errorf("agent id: %w", err)
	}
	if err := ValidID(g.Shard.Job); err != nil {
		return fmt.Errorf("job id: %w", err)
	}
	if err := ValidID(g.Shard.ID); err != nil {
		return fmt.Errorf("shard id: %w", err)
	}
	if g.Shard.Attempt < 1 {
		return fmt.Errorf("shard %s: attempt %d (attempts count from 1)", g.Shard.Key(), g.Shard.Attempt)
	}
	if g.Nonce == "" || len(g.Nonce) > 64 {
		return fmt.Errorf("shard %s: nonce of %d bytes (1 to 64)", g.Shard.Key(), len(g.Nonce))
	}
	if !g.Expires.After(g.Issued) || g.Expires.Sub(g.Issued) > MaxShardTTL {
		return fmt.Errorf("shard %s: valid from %s to %s (at most %v)", g.Shard.Key(),
			g.Issued.Format(time.RFC3339), g.Expires.Format(time.RFC3339), MaxShardTTL)
	}
	return nil
}
