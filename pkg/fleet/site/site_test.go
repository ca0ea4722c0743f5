package site

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/nats-io/nkeys"
	"go.yaml.in/yaml/v3"
)

// testOptions is a site with every kind of identity.
func testOptions() InitOptions {
	return InitOptions{
		Users:  []string{"alice", "bob"},
		Admins: []string{"root"},
		Agents: []AgentSpec{{ID: "gw1", Name: "gw1"}, {ID: "gw2", Name: "gw2.example.org", Groups: []string{"gw[1-2,5]", "gpu"}, Local: true}},
		Hosts:  []string{"coord.example.org"},
		IPs:    []string{"10.0.0.5"},
	}
}

func initSite(t *testing.T, opts InitOptions) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "site")
	if err := Init(dir, opts); err != nil {
		t.Fatal(err)
	}
	return dir
}

// mustLoad is Load, failing the test on error.
func mustLoad(t *testing.T, dir string) *Site {
	t.Helper()
	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestInitLoadRoundTrip(t *testing.T) {
	dir := initSite(t, testOptions())
	s := mustLoad(t, dir)
	if len(s.Warnings) != 0 {
		t.Errorf("warnings on a new site: %q", s.Warnings)
	}
	if s.URL != "tls://coord.example.org:4222" || s.Prefix != "fleet" {
		t.Errorf("URL %q prefix %q", s.URL, s.Prefix)
	}
	var got []string
	for _, id := range s.Identities {
		got = append(got, string(id.Role)+":"+id.ID)
	}
	want := []string{"coordinator:coordinator", "admin:root", "submitter:alice", "submitter:bob", "agent:gw1", "agent:gw2"}
	if !slices.Equal(got, want) {
		t.Errorf("identities %q, want %q", got, want)
	}
	gw2 := s.Identities[5]
	if gw2.Name != "gw2.example.org" || !slices.Equal(gw2.Groups, []string{"gw[1-2,5]", "gpu"}) || !gw2.Local || s.Identities[4].Local {
		t.Errorf("gw2 = %+v", gw2)
	}
	if s.Coordinator.ID != "coordinator" || !nkeys.IsValidPublicUserKey(s.Coordinator.Nkey) {
		t.Errorf("coordinator = %+v", s.Coordinator)
	}

	admins, agents := Grants(s.Identities)
	if !slices.Equal(admins, []string{"root"}) || len(agents) != 2 || agents["gw1"].Name != "gw1" || agents["gw1"].Local ||
		agents["gw2"].Name != "gw2.example.org" || !slices.Equal(agents["gw2"].Groups, gw2.Groups) || !agents["gw2"].Local {
		t.Errorf("grants: admins %q agents %+v", admins, agents)
	}
	if _, agents := Grants(nil); agents == nil {
		t.Error("no agents: a nil grant map lets any agent register")
	}

	// The configs name the files that exist, and the agents the
	// coordinator's public key.
	var coord map[string]any
	readYAML(t, filepath.Join(dir, CoordinatorConfig), &coord)
	if coord["listen"] != "0.0.0.0:4222" || coord["identities"] != filepath.Join(dir, IdentitiesFile) {
		t.Errorf("coordinator.yaml = %v", coord)
	}
	for _, k := range []string{"tls-cert", "tls-key", "tls-ca", "identities", "signing-key"} {
		if _, err := os.Stat(coord[k].(string)); err != nil {
			t.Errorf("coordinator.yaml %s: %v", k, err)
		}
	}
	var agent map[string]any
	readYAML(t, filepath.Join(dir, AgentsDir, "gw2", AgentConfigFile), &agent)
	if agent["coordinator-key"] != s.Coordinator.Nkey || agent["nats"] != s.URL || agent["id"] != "gw2" ||
		agent["name"] != "gw2.example.org" || len(agent["group"].([]any)) != 2 || agent["local"] != true {
		t.Errorf("agent.yaml = %v", agent)
	}
	if _, err := ReadSeed(agent["creds"].(string)); err != nil {
		t.Error(err)
	}
	if _, err := LoadCAPool(agent["ca"].(string)); err != nil {
		t.Error(err)
	}
	c, err := LoadClientConfig(filepath.Join(dir, UsersDir, "root", ClientConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	if c.User != "root" || c.URL != s.URL {
		t.Errorf("fleet.yaml = %+v", c)
	}
	kp, err := ReadSeed(c.Creds)
	if err != nil {
		t.Fatal(err)
	}
	if pub, _ := kp.PublicKey(); pub != s.Identities[1].Nkey {
		t.Errorf("root's seed is not root's identity")
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestFileModes(t *testing.T) {
	old := setUmask(0o022) // the usual umask must not widen anything
	defer setUmask(old)
	dir := initSite(t, testOptions())
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		want := fs.FileMode(fileMode)
		if d.IsDir() {
			want = fs.ModeDir | dirMode
		}
		if st.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, st.Mode(), want)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 25 {
		t.Errorf("only %d files and directories", n)
	}
}

func TestSeedsSignAndVerify(t *testing.T) {
	dir := initSite(t, testOptions())
	s := mustLoad(t, dir)
	msg := []byte("shard 42 for gw1")
	for _, id := range s.Identities {
		path := SeedPath(dir, id)
		kp, err := ReadSeed(path)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := kp.Sign(msg)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := nkeys.FromPublicKey(id.Nkey)
		if err != nil {
			t.Fatal(err)
		}
		if err := pub.Verify(msg, sig); err != nil {
			t.Errorf("%s: signature does not verify with its identity's key: %v", id.ID, err)
		}
		if pub.Verify([]byte("shard 43 for gw1"), sig) == nil {
			t.Errorf("%s: signature verifies another message", id.ID)
		}
		// The shard signer reads the coordinator's seed with nkeys.FromSeed.
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if k, err := nkeys.FromSeed(raw); err != nil {
			t.Errorf("%s: nkeys.FromSeed: %v", path, err)
		} else if p, _ := k.PublicKey(); p != id.Nkey {
			t.Errorf("%s: FromSeed gives %s, want %s", path, p, id.Nkey)
		}
	}
}

func TestSeedTooOpen(t *testing.T) {
	dir := initSite(t, testOptions())
	seed := filepath.Join(dir, UsersDir, "alice", UserSeedFile)
	for _, mode := range []fs.FileMode{0o640, 0o604, 0o620, 0o644} {
		if err := os.Chmod(seed, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadSeed(seed); err == nil || !strings.Contains(err.Error(), "too open") {
			t.Errorf("mode %o: ReadSeed: %v, want too open", mode, err)
		}
		if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "alice") {
			t.Errorf("mode %o: Load: %v, want an error naming alice", mode, err)
		}
	}
	if err := os.Chmod(seed, 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err != nil {
		t.Errorf("mode 0400: %v", err)
	}
	// A key file too.
	if err := os.Chmod(filepath.Join(dir, ServerKeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "too open") {
		t.Errorf("server.key 0644: Load: %v", err)
	}
}

func TestSeedNotASeed(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"empty":   nil,
		"garbage": []byte("SUAAAA"),
		"account": mustSeed(t, nkeys.CreateAccount),
		"big":     bytes.Repeat([]byte("S"), maxSeedFile+1),
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadSeed(p); err == nil {
			t.Errorf("%s: read as a user seed", name)
		}
	}
	// A seed with a trailing newline (as an editor saves it) is fine.
	p := filepath.Join(dir, "nl")
	if err := os.WriteFile(p, append(mustSeed(t, nkeys.CreateUser), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSeed(p); err != nil {
		t.Error(err)
	}
}

func mustSeed(t *testing.T, create func() (nkeys.KeyPair, error)) []byte {
	kp, err := create()
	if err != nil {
		t.Fatal(err)
	}
	s, err := kp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRefuseOverwrite(t *testing.T) {
	opts := testOptions()
	dir := initSite(t, opts)
	before := snapshot(t, dir)
	err := Init(dir, opts)
	var ie *InputError
	if !errors.Is(err, ErrExists) || !errors.As(err, &ie) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("second Init: %v", err)
	}
	if !mapsEqual(before, snapshot(t, dir)) {
		t.Fatal("a refused Init changed files")
	}
	// A directory with anything in it is not a site to write over either.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "notes"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := mkdir(filepath.Join(other, UsersDir)); err != nil {
		t.Fatal(err)
	}
	for _, force := range []bool{false, true} {
		o := opts
		o.Force = force
		if err := Init(other, o); !errors.As(err, &ie) || !strings.Contains(err.Error(), "holds no site") {
			t.Errorf("Init (force %v) in a non-empty directory: %v", force, err)
		}
	}
	if !exists(filepath.Join(other, UsersDir)) {
		t.Error("a refused Init removed a directory that was not its own")
	}
	// --force replaces everything: every key is new; a user left out is gone.
	opts.Force = true
	opts.Users = []string{"alice"}
	if err := Init(dir, opts); err != nil {
		t.Fatal(err)
	}
	s := mustLoad(t, dir)
	after := snapshot(t, dir)
	for _, f := range []string{CoordinatorSeedFile, CACertFile, ServerKeyFile, "users/alice/user.seed"} {
		if bytes.Equal(before[f], after[f]) {
			t.Errorf("%s unchanged by --force", f)
		}
	}
	if _, ok := after["users/bob/user.seed"]; ok || len(s.Identities) != 5 {
		t.Errorf("bob still there after --force without him")
	}
}

func TestBadInput(t *testing.T) {
	for _, c := range []struct {
		name    string
		mod     func(*InitOptions)
		culprit string
	}{
		{"user with a dot", func(o *InitOptions) { o.Users = []string{"al.ice"} }, `"al.ice"`},
		{"user wildcard", func(o *InitOptions) { o.Users = []string{">"} }, `">"`},
		{"empty admin", func(o *InitOptions) { o.Admins = []string{""} }, "admin: empty id"},
		{"user twice", func(o *InitOptions) { o.Admins = []string{"alice"} }, `user "alice": already given as admin`},
		{"agent id", func(o *InitOptions) { o.Agents = []AgentSpec{{ID: "gw 1", Name: "gw1"}} }, `"gw 1"`},
		{"agent twice", func(o *InitOptions) { o.Agents = append(o.Agents, AgentSpec{ID: "gw1", Name: "x"}) }, `agent "gw1": given twice`},
		{"agent group", func(o *InitOptions) { o.Agents = []AgentSpec{{ID: "gw1", Name: "gw1", Groups: []string{"a b"}}} }, `group "a b"`},
		{"coordinator", func(o *InitOptions) { o.CoordinatorID = "co*" }, `"co*"`},
		{"ip", func(o *InitOptions) { o.IPs = []string{"10.0.0"} }, `--ip "10.0.0"`},
		{"host", func(o *InitOptions) { o.Hosts = []string{"a_b.example"} }, `--host "a_b.example"`},
		{"host is an ip", func(o *InitOptions) { o.Hosts = []string{"10.1.1.1"} }, "use --ip"},
		{"url not tls", func(o *InitOptions) { o.URL = "nats://coord.example.org:4222" }, "want tls://"},
		{"url host not a SAN", func(o *InitOptions) { o.URL = "tls://other.example.org:4222" }, "other.example.org is not a name"},
		{"url port", func(o *InitOptions) { o.URL = "tls://localhost:99999" }, `bad port "99999"`},
		{"prefix", func(o *InitOptions) { o.Prefix = "a..b" }, `"a..b"`},
	} {
		opts := testOptions()
		c.mod(&opts)
		dir := filepath.Join(t.TempDir(), "site")
		err := Init(dir, opts)
		var ie *InputError
		if !errors.As(err, &ie) || !strings.Contains(err.Error(), c.culprit) {
			t.Errorf("%s: %v, want an InputError naming %s", c.name, err, c.culprit)
		}
		if exists(dir) {
			t.Errorf("%s: the refused site was written", c.name)
		}
	}
}

func TestParseAgentSpec(t *testing.T) {
	for _, c := range []struct {
		in   string
		want AgentSpec
		err  string
	}{
		{in: "gw1", want: AgentSpec{ID: "gw1", Name: "gw1"}},
		{in: "gw0:local=true", want: AgentSpec{ID: "gw0", Name: "gw0", Local: true}},
		{in: "gw0:local=maybe", err: `local="maybe": want true or false`},
		{in: "gw2:name=gw2.example.org", want: AgentSpec{ID: "gw2", Name: "gw2.example.org"}},
		{in: "gw2:name=gw2,groups=compute+gpu", want: AgentSpec{ID: "gw2", Name: "gw2", Groups: []string{"compute", "gpu"}}},
		{in: "a1:groups=gw[1-2,5]+gw9,name=gw1", want: AgentSpec{ID: "a1", Name: "gw1", Groups: []string{"gw[1-2,5]", "gw9"}}},
		{in: "gw.1", err: `"gw.1"`},
		{in: "", err: "empty id"},
		{in: "gw1:", err: "want KEY=VALUE"},
		{in: "gw1:name", err: "want KEY=VALUE"},
		{in: "gw1:name=", err: "want KEY=VALUE"},
		{in: "gw1:nmae=x", err: `unknown key "nmae"`},
		{in: "gw1:name=a,name=b", err: "name given twice"},
		{in: "gw1:groups=a++b", err: "empty group"},
		{in: "gw1:name=a b", err: `gateway name "a b"`},
	} {
		got, err := ParseAgentSpec(c.in)
		if c.err != "" {
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %v, want an InputError with %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got.ID != c.want.ID || got.Name != c.want.Name || !slices.Equal(got.Groups, c.want.Groups) || got.Local != c.want.Local {
			t.Errorf("%q: %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
}

// snapshot is every file of dir by relative path.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		m[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// changed lists the files that differ between two snapshots.
func changed(a, b map[string][]byte) []string {
	var out []string
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func mapsEqual(a, b map[string][]byte) bool { return len(changed(a, b)) == 0 }

// keysOf maps each identity to its public key.
func keysOf(ids []auth.Identity) map[string]string {
	m := map[string]string{}
	for _, id := range ids {
		m[string(id.Role)+":"+id.ID] = id.Nkey
	}
	return m
}
