package site

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/conf"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// loadNATSConf parses the site's nats-server.conf as nats-server does.
func loadNATSConf(t *testing.T, dir string) *server.Options {
	t.Helper()
	path := filepath.Join(dir, NATSServerConfFile)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != fileMode {
		t.Errorf("%s: mode %04o, want %04o", path, st.Mode().Perm(), fileMode)
	}
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("nats-server -c %s: %v", path, err)
	}
	return opts
}

// checkConfUsers checks that the conf's users are exactly dir's
// identities, each with auth.Permissions and standard connections only.
func checkConfUsers(t *testing.T, dir string, opts *server.Options) {
	t.Helper()
	s := mustLoad(t, dir)
	subj := protocol.Subjects{Prefix: s.Prefix}
	users := map[string]*server.NkeyUser{}
	for _, u := range opts.Nkeys {
		users[u.Nkey] = u
	}
	if len(users) != len(s.Identities) || len(opts.Nkeys) != len(s.Identities) || len(opts.Users) != 0 {
		t.Errorf("conf has %d nkey users and %d users, want the %d identities", len(opts.Nkeys), len(opts.Users), len(s.Identities))
	}
	for _, id := range s.Identities {
		u, ok := users[id.Nkey]
		if !ok {
			t.Errorf("%s %s: not a user of the conf", id.Role, id.ID)
			continue
		}
		if want := auth.Permissions(subj, id); !reflect.DeepEqual(u.Permissions, want) {
			t.Errorf("%s %s: conf permissions\n%+v %+v %+v\nwant auth.Permissions\n%+v %+v %+v", id.Role, id.ID,
				u.Permissions.Publish, u.Permissions.Subscribe, u.Permissions.Response, want.Publish, want.Subscribe, want.Response)
		}
		if _, std := u.AllowedConnectionTypes["STANDARD"]; !std || len(u.AllowedConnectionTypes) != 1 {
			t.Errorf("%s %s: connection types %v, want STANDARD only", id.Role, id.ID, u.AllowedConnectionTypes)
		}
	}
}

// TestNATSConfPermissions: the conf init-site writes holds every identity
// with auth.Permissions, the site's TLS files and listen address, and the
// rotation verbs keep it in step with identities.json.
func TestNATSConfPermissions(t *testing.T) {
	o := testOptions()
	o.Prefix = "site1"
	dir := initSite(t, o)
	opts := loadNATSConf(t, dir)
	checkConfUsers(t, dir, opts)
	if !opts.JetStream || opts.StoreDir != filepath.Join(dir, NATSStoreDir) {
		t.Errorf("jetstream %v in %q, want it on in %q", opts.JetStream, opts.StoreDir, filepath.Join(dir, NATSStoreDir))
	}
	if opts.Host != "0.0.0.0" || opts.Port != DefaultPort {
		t.Errorf("listen %s:%d, want 0.0.0.0:%d", opts.Host, opts.Port, DefaultPort)
	}
	if opts.TLSConfig == nil || opts.TLSTimeout != natsTLSTimeout || opts.TLSVerify {
		t.Errorf("tls %v, timeout %v, verify %v: want TLS, %ds, client certificates optional", opts.TLSConfig != nil, opts.TLSTimeout, opts.TLSVerify, natsTLSTimeout)
	}
	if opts.MaxPending != natsMaxPending || opts.PingInterval != 10*time.Second || opts.MaxPingsOut != natsPingMax {
		t.Errorf("max_pending %d, ping %v/%d", opts.MaxPending, opts.PingInterval, opts.MaxPingsOut)
	}

	for _, step := range []struct {
		name string
		do   func() error
	}{
		{"add-user", func() error { return AddUsers(dir, []string{"ops"}, []string{"carol"}) }},
		{"add-agent", func() error { return AddAgents(dir, []AgentSpec{{ID: "gw3", Name: "gw3"}}) }},
		{"rotate user", func() error { return RotateUser(dir, "alice") }},
		{"rotate agent", func() error { return RotateAgent(dir, "gw1") }},
		{"rotate coordinator", func() error { return RotateCoordinator(dir) }},
		{"remove user", func() error { return RemoveUser(dir, "bob") }},
		{"remove agent", func() error { return RemoveAgent(dir, "gw2") }},
	} {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		t.Run(step.name, func(t *testing.T) { checkConfUsers(t, dir, loadNATSConf(t, dir)) })
	}
}

// TestNATSConfServer: a nats-server started from the conf enforces the
// site's users: alice may publish on her own submit subject and is
// refused another user's and an agent's subjects; a plaintext client is
// refused.
func TestNATSConfServer(t *testing.T) {
	dir := initSite(t, testOptions())
	opts := loadNATSConf(t, dir)
	opts.Host, opts.Port, opts.NoSigs, opts.NoLog = "127.0.0.1", server.RANDOM_PORT, true, true
	srv := runServer(t, opts)
	url := natsURL(srv)
	subj := protocol.Subjects{Prefix: protocol.DefaultPrefix}
	ca := nats.RootCAs(filepath.Join(dir, CACertFile))

	coordKey, err := nats.NkeyOptionFromSeed(filepath.Join(dir, CoordinatorSeedFile))
	if err != nil {
		t.Fatal(err)
	}
	coord, err := nats.Connect(url, ca, coordKey)
	if err != nil {
		t.Fatalf("the coordinator with its seed: %v", err)
	}
	defer coord.Close()
	submits, err := coord.SubscribeSync(subj.Prefix + ".>")
	if err != nil {
		t.Fatal(err)
	}
	if err := coord.Flush(); err != nil {
		t.Fatal(err)
	}

	aliceKey, err := nats.NkeyOptionFromSeed(filepath.Join(dir, UsersDir, "alice", UserSeedFile))
	if err != nil {
		t.Fatal(err)
	}
	violations := make(chan error, 10)
	alice, err := nats.Connect(url, ca, aliceKey, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		violations <- err
	}))
	if err != nil {
		t.Fatalf("alice with her seed: %v", err)
	}
	defer alice.Close()

	if err := alice.Publish(subj.Submit("alice"), []byte("mine")); err != nil {
		t.Fatal(err)
	}
	msg, err := submits.NextMsg(30 * time.Second)
	if err != nil || msg.Subject != subj.Submit("alice") {
		t.Fatalf("alice's submit did not arrive: %v %v", msg, err)
	}
	for _, s := range []string{subj.Submit("bob"), subj.Jobs("root"), subj.Register("gw1"), subj.Events("gw1", "j1")} {
		if err := alice.Publish(s, []byte("not mine")); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-violations:
			if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), s) {
				t.Errorf("alice publishing on %s: %v, want a permissions violation naming it", s, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("alice published on %s without a permissions violation", s)
		}
	}
	// Nothing of hers beyond her own subject reached the coordinator:
	// mark the end with one more of her own and see it come next.
	if err := alice.Publish(subj.Submit("alice"), []byte("end")); err != nil {
		t.Fatal(err)
	}
	if msg, err := submits.NextMsg(30 * time.Second); err != nil || string(msg.Data) != "end" {
		t.Errorf("after the refused publishes the coordinator got %v %v, want alice's end marker", msg, err)
	}

	if reply := plaintext(t, srv); strings.Contains(reply, "PONG") {
		t.Errorf("a plaintext client got %q", reply)
	}
}

// FuzzConfString: any string survives confString and the nats-server
// configuration parser unchanged, so no path or subject can break out of
// its value.
func FuzzConfString(f *testing.F) {
	for _, s := range []string{"", "/etc/fleetsh/site", `a"b\c`, "$HOME", "x\ny\r\tz", "ü\xff", "}\n]\nauthorization {"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := conf.Parse("v: " + confString(s) + "\n")
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if got := m["v"]; got != s {
			t.Fatalf("%q read back as %q", s, got)
		}
	})
}
