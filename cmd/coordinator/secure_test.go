package main

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth/authtest"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// writeIdentities writes the site's identities as --identities reads them.
func writeIdentities(t *testing.T, site *authtest.Site) string {
	t.Helper()
	data, err := protocol.Marshal(site.Identities)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(site.Dir, "identities.json")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBadSecuritySettings(t *testing.T) {
	site := authtest.NewSite(t)
	seed := site.Add(auth.Coordinator, "coord")
	ids := writeIdentities(t, site)
	dir := t.TempDir()
	badIDs := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(badIDs, []byte(`[{"role":"root","id":"x","nkey":"U"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	for _, args := range [][]string{
		{"--identities", missing},
		{"--identities", badIDs},
		{"--tls-cert", missing, "--tls-key", site.Key},
		{"--tls-cert", site.Cert},                                                 // no key
		{"--tls-ca", site.CA},                                                     // a CA without a certificate
		{"--listen", "0.0.0.0:0", "--identities", ids},                            // beyond loopback without TLS
		{"--listen", "0.0.0.0:0", "--tls-cert", site.Cert, "--tls-key", site.Key}, // nor identities
		{"--nats", "nats://127.0.0.1:1", "--tls-cert", site.Cert},
		{"--creds", seed},
		{"--ca", site.CA},
		{"--nats", "nats://127.0.0.1:1", "--creds", missing},
	} {
		var logs strings.Builder
		if got := run(append([]string{"--local-agent=false", "--listen", "127.0.0.1:0"}, args...), &logs, nil); got != 2 {
			t.Errorf("%q: exit %d, want 2\n%s", args, got, logs.String())
		}
	}
}

// logLines hands each log line of the command to the test.
type logLines chan string

func (l logLines) Write(p []byte) (int, error) {
	l <- string(p)
	return len(p), nil
}

// With --identities and --tls-*, the coordinator's NATS server accepts
// only TLS clients holding a credential, with its role's permissions;
// the YAML file says the same with underscores.
func TestSecureCoordinator(t *testing.T) {
	site := authtest.NewSite(t)
	aliceSeed := site.Add(auth.Submitter, "alice")
	conf := filepath.Join(site.Dir, "coordinator.yaml")
	if err := os.WriteFile(conf, []byte("tls_cert: "+site.Cert+"\ntls_key: "+site.Key+"\nidentities: "+
		writeIdentities(t, site)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sigs := make(chan os.Signal, 1)
	logs := make(logLines, 1000)
	code := make(chan int, 1)
	go func() {
		code <- run([]string{"--config", conf, "--listen", "127.0.0.1:0", "--prefix", "sc"}, logs, sigs)
	}()
	re := regexp.MustCompile(`url=(tls://127\.0\.0\.1:\d+)`)
	var url string
	for url == "" {
		select {
		case l := <-logs:
			if m := re.FindStringSubmatch(l); m != nil {
				url = m[1]
			}
		case c := <-code:
			t.Fatalf("exit %d", c)
		case <-time.After(time.Minute):
			t.Fatal("no listening line")
		}
	}
	go func() {
		for range logs {
		}
	}()
	subj := protocol.Subjects{Prefix: "sc"}
	alice := auth.Identity{Role: auth.Submitter, ID: "alice"}
	opts, err := auth.ClientOptions(subj, alice, "alice", auth.Credentials{CA: site.CA})
	if err != nil {
		t.Fatal(err)
	}
	if nc, err := nats.Connect(url, opts...); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("without a credential: %v", err)
	}
	opts, err = auth.ClientOptions(subj, alice, "alice", site.Creds(aliceSeed))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	sigs <- syscall.SIGTERM
	if c := <-code; c != 0 {
		t.Fatalf("exit %d", c)
	}
}
