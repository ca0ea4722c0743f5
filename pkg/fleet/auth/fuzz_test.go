package auth_test

import (
	"testing"

	"github.com/nats-io/nkeys"

	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// An identities file is refused or gives valid identities: never a
// panic, never an identity the server could not check.
func FuzzParseIdentities(f *testing.F) {
	f.Add([]byte(`[{"role":"agent","id":"gw1","nkey":"UCLWDXJGSDUBXQ2FPWFVURLZAFSTIRSC3AVMP2CLV6IEPNO4Z3M4QTUS","name":"gw1","groups":["a"]}]`))
	f.Add([]byte(`[{"role":"submitter","id":"alice","nkey":"U1"},{"role":"admin","id":"alice","nkey":"U1"}]`))
	f.Add([]byte(`[] []`))
	f.Add([]byte(`{"role":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ids, err := auth.ParseIdentities("f.json", data)
		if err != nil {
			return
		}
		keys := map[string]bool{}
		for _, id := range ids {
			if err := id.Validate(); err != nil {
				t.Fatalf("accepted %+v: %v", id, err)
			}
			if !nkeys.IsValidPublicUserKey(id.Nkey) {
				t.Fatalf("accepted key %q", id.Nkey)
			}
			if keys[id.Nkey] {
				t.Fatalf("accepted a shared key %s", id.Nkey)
			}
			keys[id.Nkey] = true
			_ = auth.Permissions(protocol.Subjects{}, id)
		}
	})
}

// A fleet.yaml is refused or gives a valid user id.
func FuzzParseClientConfig(f *testing.F) {
	f.Add([]byte("url: tls://h:4222\nuser: alice\ncreds: a.nk\nca: /ca.pem\n"))
	f.Add([]byte("user: a.b\n"))
	f.Add([]byte("- x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := auth.ParseClientConfig("/d/fleet.yaml", data)
		if err != nil {
			return
		}
		if c.User != "" {
			if err := protocol.ValidID(c.User); err != nil {
				t.Fatalf("accepted user %q: %v", c.User, err)
			}
		}
	})
}
