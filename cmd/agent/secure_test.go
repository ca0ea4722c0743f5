package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth/authtest"
	"github.com/fleetsh/fleetsh/pkg/fleet/broker"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

func TestBadCredentials(t *testing.T) {
	site := authtest.NewSite(t)
	seed := site.Add(auth.Agent, "gw1")
	open := filepath.Join(site.Dir, "open.nk")
	data, err := os.ReadFile(seed)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(open, data, 0o644); err != nil {
		t.Fatal(err)
	}
	notSeed := filepath.Join(site.Dir, "not.nk")
	if err := os.WriteFile(notSeed, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--creds", seed}, "--id"},
		{[]string{"--id", "gw1", "--creds", filepath.Join(site.Dir, "missing")}, "no such file"},
		{[]string{"--id", "gw1", "--creds", open}, "chmod 600"},
		{[]string{"--id", "gw1", "--creds", notSeed}, "nkey seed"},
		{[]string{"--id", "gw1", "--creds", seed, "--ca", filepath.Join(site.Dir, "missing")}, "site CA"},
	} {
		var logs strings.Builder
		if code := run(append([]string{"--nats", "tls://127.0.0.1:1", "--coordinator-key", newKey(t).pub}, c.args...), &logs, nil); code != 2 || !strings.Contains(logs.String(), c.want) {
			t.Errorf("%q: exit %d, want 2 and %q\n%s", c.args, code, c.want, logs.String())
		}
	}
}

// With --creds, --ca and --id the agent joins a TLS-only server that
// accepts only the site's credentials, and says Hello on its own
// register subject.
func TestJoinsWithCredentials(t *testing.T) {
	site := authtest.NewSite(t)
	seed := site.Add(auth.Agent, "gw1")
	coSeed := site.Add(auth.Coordinator, "coord")
	subj := protocol.Subjects{Prefix: "t2"}
	srv, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", Subjects: subj, Identities: site.Identities,
		TLSCert: site.Cert, TLSKey: site.Key})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	url := "tls://" + broker.Addr(srv)
	opts, err := auth.ClientOptions(subj, auth.Identity{Role: auth.Coordinator, ID: "coord"}, "coord", site.Creds(coSeed))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	hellos := make(chan string, 16)
	if _, err := nc.Subscribe(subj.AllRegisters(), func(m *nats.Msg) {
		hellos <- m.Subject
		_ = wire.Respond(m, protocol.TypeWelcome, protocol.Welcome{Heartbeat: time.Second})
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	sigs := make(chan os.Signal, 1)
	logs := make(testutil.LogLines, 10000)
	code := make(chan int, 1)
	go func() {
		code <- run([]string{"--nats", url, "--prefix", "t2", "--id", "gw1", "--name", "gw1", "--creds", seed,
			"--ca", site.CA, "--worker", "exec", "--coordinator-key", newKey(t).pub}, logs, sigs)
	}()
	go func() {
		for range logs {
		}
	}()
	select {
	case s := <-hellos:
		if s != subj.Register("gw1") {
			t.Errorf("hello on %s", s)
		}
	case c := <-code:
		t.Fatalf("exit %d", c)
	case <-time.After(time.Minute):
		t.Fatal("no hello")
	}
	sigs <- syscall.SIGTERM
	if c := <-code; c != 0 {
		t.Fatalf("exit %d", c)
	}
}
