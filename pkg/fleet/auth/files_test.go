package auth_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth/authtest"
	"github.com/fleetsh/fleetsh/pkg/fleet/broker"
	"github.com/fleetsh/fleetsh/pkg/fleet/files"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Files move through the coordinator, never through JetStream's API: a
// user's and an agent's file requests reach the coordinator's Server
// with the sender of their own subject; nobody but the coordinator may
// publish on another's files subject, on the chunk stream's subjects,
// or to JetStream, and what they tried leaves the stream as it was.
func TestAttackFiles(t *testing.T) {
	site := authtest.NewSite(t)
	subj := protocol.Subjects{Prefix: fleetPrefix}
	seeds := map[string]string{}
	for _, u := range []string{"alice", "mallory"} {
		seeds[u] = site.Add(auth.Submitter, u)
	}
	for _, a := range []string{"gw1", "gw2"} {
		seeds[a] = site.Add(auth.Agent, a)
	}
	inProc, pub := testutil.UserKey(t)
	srv, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", Logger: natstest.Logger(t), Subjects: subj,
		Identities: site.Identities, TLSCert: site.Cert, TLSKey: site.Key, TLSCA: site.CA, InProcessKey: pub,
		JetStream: true, StoreDir: t.TempDir(), MaxMemory: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	co, err := nats.Connect("", nats.InProcessServer(srv), nats.Nkey(pub, inProc.Sign))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(co.Close)
	ctx := context.Background()
	js, err := jetstream.New(co)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := files.OpenStream(ctx, js, files.StreamConfig{Subjects: subj, Memory: true, MaxBytes: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]files.Request{}
	server := &files.Server{Conn: co, Subjects: subj, Store: stream, Log: natstest.Logger(t),
		Authorize: func(r files.Request) error {
			mu.Lock()
			defer mu.Unlock()
			seen[r.Sender] = r
			if r.Sender == "mallory" {
				return errors.New("no job of mallory's copies this tree")
			}
			return nil
		}}
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(server.Stop)
	url := "tls://" + broker.Addr(srv)
	as := func(role auth.Role, id string) *conn {
		return mustDial(t, url, subj, auth.Identity{Role: role, ID: id}, site.Creds(seeds[id]))
	}

	// The owners, on their own subjects.
	data := []byte("alice's file")
	d := files.Sum(data)
	alice := &files.Client{Conn: as(auth.Submitter, "alice").nc, Subject: subj.Files("alice")}
	if err := alice.Put(ctx, d, data); err != nil {
		t.Fatal(err)
	}
	gw1 := &files.Client{Conn: as(auth.Agent, "gw1").nc, Subject: subj.AgentFiles("gw1"), Job: "j1"}
	if got, err := gw1.Get(ctx, d, nil); err != nil || string(got) != string(data) {
		t.Fatalf("gw1's get: %q, %v", got, err)
	}
	mu.Lock()
	if r := seen["alice"]; r.Op != files.OpPut || r.FromAgent || r.Digests[0] != d {
		t.Errorf("alice's put seen as %+v", r)
	}
	if r := seen["gw1"]; r.Op != files.OpGet || !r.FromAgent || r.Job != "j1" {
		t.Errorf("gw1's get seen as %+v", r)
	}
	mu.Unlock()

	// Mallory: her own subject reaches the coordinator as hers (and is
	// denied there); the others' subjects, the chunks' and JetStream's
	// are refused by the NATS server.
	mc := as(auth.Submitter, "mallory")
	var de *files.DeniedError
	if _, err := (&files.Client{Conn: mc.nc, Subject: subj.Files("mallory")}).Get(ctx, d, nil); !errors.As(err, &de) {
		t.Errorf("mallory's get: %v, want a denial", err)
	}
	forged := subj.Chunk(files.Sum([]byte("forged")))
	for _, s := range []string{subj.Files("alice"), subj.AgentFiles("gw1"), subj.Chunk(d), forged,
		"$JS.API.STREAM.INFO." + stream.Name(), "$JS.API.DIRECT.GET." + stream.Name() + "." + subj.Chunk(d),
		"$JS.API.STREAM.PURGE." + stream.Name(), "$O.bucket.C.x"} {
		mc.pubDenied(s)
	}
	for _, s := range []string{subj.AllFiles(), subj.AllAgentFiles(), subj.AllChunks(), "$JS.>"} {
		mc.subDenied(s)
	}
	g2 := as(auth.Agent, "gw2")
	for _, s := range []string{subj.AgentFiles("gw1"), subj.Files("gw2"), subj.Chunk(d), "$JS.API.STREAM.INFO." + stream.Name()} {
		g2.pubDenied(s)
	}
	g2.subDenied(subj.AllAgentFiles())

	if _, chunks, err := stream.Usage(ctx); err != nil || chunks != 1 {
		t.Errorf("the stream holds %d chunks (%v), want alice's only", chunks, err)
	}
	if got, err := stream.Get(ctx, d, nil); err != nil || string(got) != string(data) {
		t.Errorf("alice's chunk after the attacks: %q, %v", got, err)
	}
}
