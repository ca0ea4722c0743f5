package site

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// leafOptions are a site with a 3-server cluster and two gateway sites:
// west (gw1, gw2) and east (gw3); gw9 connects to the hub.
func leafOptions() InitOptions {
	o := testOptions()
	o.Hosts = []string{"coord1.example.org", "coord2.example.org", "coord3.example.org"}
	o.URL = "tls://coord1.example.org:4222"
	o.ClusterRoutes = []string{"coord1.example.org:6222", "coord2.example.org:6222", "coord3.example.org:6222"}
	o.Agents = []AgentSpec{{ID: "gw1", Name: "gw1", Leaf: "west"}, {ID: "gw2", Name: "gw2", Leaf: "west"},
		{ID: "gw3", Name: "gw3", Leaf: "east"}, {ID: "gw9", Name: "gw9"}}
	o.Leaves = []LeafSpec{{Name: "west", URL: "tls://leaf-west.example.org:4222"}, {Name: "east", URL: "tls://10.1.0.2:4333"}}
	return o
}

// loadLeafConf parses leaf name's nats-leaf.conf as nats-server does.
func loadLeafConf(t *testing.T, dir, name string) *server.Options {
	t.Helper()
	opts, err := server.ProcessConfigFile(filepath.Join(dir, LeavesDir, name, LeafConfFile))
	if err != nil {
		t.Fatalf("nats-server -c leaves/%s/%s: %v", name, LeafConfFile, err)
	}
	return opts
}

// checkLeaf checks leaf name's conf: it listens on listen, serves
// exactly agents (each with its own permissions, standard connections),
// and dials the hub with its own key over verified TLS.
func checkLeaf(t *testing.T, dir, name, listen string, agents ...string) {
	t.Helper()
	s := mustLoad(t, dir)
	opts := loadLeafConf(t, dir, name)
	if got := fmt.Sprintf("%s:%d", opts.Host, opts.Port); got != listen {
		t.Errorf("leaf %s listens on %s, want %s", name, got, listen)
	}
	if opts.TLSConfig == nil {
		t.Errorf("leaf %s: agents' listener without TLS", name)
	}
	var got []string
	for _, u := range opts.Nkeys {
		i := slices.IndexFunc(s.Identities, func(id auth.Identity) bool { return id.Nkey == u.Nkey })
		if i < 0 || s.Identities[i].Role != auth.Agent {
			t.Errorf("leaf %s: user %s is no agent of the site", name, u.Nkey)
			continue
		}
		id := s.Identities[i]
		got = append(got, id.ID)
		if want := auth.Permissions(protocol.Subjects{Prefix: s.Prefix}, id); !reflect.DeepEqual(u.Permissions, want) {
			t.Errorf("leaf %s: agent %s: permissions %+v, want its own %+v", name, id.ID, u.Permissions, want)
		}
		if _, ok := u.AllowedConnectionTypes["STANDARD"]; !ok || len(u.AllowedConnectionTypes) != 1 {
			t.Errorf("leaf %s: agent %s: connection types %v, want STANDARD only", name, id.ID, u.AllowedConnectionTypes)
		}
	}
	if !slices.Equal(got, agents) || len(opts.Users) != 0 {
		t.Errorf("leaf %s: users %v (and %d others), want %v", name, got, len(opts.Users), agents)
	}
	if len(opts.LeafNode.Remotes) != 1 {
		t.Fatalf("leaf %s: %d remotes, want 1", name, len(opts.LeafNode.Remotes))
	}
	r := opts.LeafNode.Remotes[0]
	if r.TLSConfig == nil || r.TLSConfig.RootCAs == nil || len(r.TLSConfig.Certificates) != 1 {
		t.Errorf("leaf %s: remote without verified TLS and a client certificate", name)
	}
	w, err := open(dir)
	if err != nil {
		t.Fatal(err)
	}
	site := w.meta.Leaves.Sites[w.meta.Leaves.find(name)]
	if pub := seedPub(t, r.Nkey); pub != site.Nkey {
		t.Errorf("leaf %s: remote key %s, want %s", name, pub, site.Nkey)
	}
	var urls []string
	for _, u := range r.URLs {
		urls = append(urls, u.String())
	}
	if !slices.Equal(urls, w.meta.Leaves.HubURLs) {
		t.Errorf("leaf %s: remote urls %v, want %v", name, urls, w.meta.Leaves.HubURLs)
	}
}

// checkHubLeaves checks the hub's conf: a leaf-node listener with
// verified TLS, and one user per leaf with the union of its agents'
// permissions, leaf-node connections only.
func checkHubLeaves(t *testing.T, dir string) {
	t.Helper()
	w, err := open(dir)
	if err != nil {
		t.Fatal(err)
	}
	opts := loadNATSConf(t, dir)
	if tc := opts.LeafNode.TLSConfig; tc == nil || tc.ClientAuth != tls.RequireAndVerifyClientCert {
		t.Error("hub: leaf-node listener without verified TLS")
	}
	users := map[string]*server.NkeyUser{}
	for _, u := range opts.Nkeys {
		users[u.Nkey] = u
	}
	if len(opts.Nkeys) != len(w.ids)+len(w.meta.Leaves.Sites) {
		t.Errorf("hub: %d users, want %d identities and %d leaves", len(opts.Nkeys), len(w.ids), len(w.meta.Leaves.Sites))
	}
	subj := protocol.Subjects{Prefix: w.meta.Prefix}
	for _, s := range w.meta.Leaves.Sites {
		u := users[s.Nkey]
		if u == nil {
			t.Errorf("hub: no user for leaf %s", s.Name)
			continue
		}
		if _, ok := u.AllowedConnectionTypes["LEAFNODE"]; !ok || len(u.AllowedConnectionTypes) != 1 {
			t.Errorf("hub: leaf %s: connection types %v, want LEAFNODE only", s.Name, u.AllowedConnectionTypes)
		}
		want := &server.Permissions{Publish: &server.SubjectPermission{}, Subscribe: &server.SubjectPermission{}}
		for _, a := range w.leafAgents(s) {
			p := auth.Permissions(subj, a)
			want.Publish.Allow = append(want.Publish.Allow, p.Publish.Allow...)
			want.Subscribe.Allow = append(want.Subscribe.Allow, p.Subscribe.Allow...)
			want.Publish.Deny, want.Subscribe.Deny, want.Response = p.Publish.Deny, p.Subscribe.Deny, p.Response
		}
		for i, a := range want.Publish.Allow {
			want.Publish.Allow[i] = strings.Replace(a, ".*", ".>", 1) // trailing '*' only in the agents' permissions
		}
		want.Publish.Allow = append(want.Publish.Allow, CoordinatorInbox)
		if !reflect.DeepEqual(u.Permissions, want) {
			t.Errorf("hub: leaf %s: permissions %+v, want its agents' union %+v", s.Name, u.Permissions, want)
		}
	}
}

func seedPub(t *testing.T, seed string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "seed")
	if err := os.WriteFile(f, []byte(seed), 0o600); err != nil {
		t.Fatal(err)
	}
	kp, err := ReadSeed(f)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	return pub
}

// agentNATS is the nats URL of agent id's agent.yaml.
func agentNATS(t *testing.T, dir, id string) string {
	t.Helper()
	var c agentYAML
	readYAML(t, filepath.Join(dir, AgentsDir, id, AgentConfigFile), &c)
	return c.NATS
}

// --leaf writes a leaf conf per gateway site that nats-server parses, the
// hub's listener and leaf users, and points each agent at its leaf; the
// site verbs keep all of them in step.
func TestLeafConfs(t *testing.T) {
	t.Setenv(ServerNameEnv, "nats-a")
	dir := initSite(t, leafOptions())
	checkHubLeaves(t, dir)
	checkLeaf(t, dir, "west", "0.0.0.0:4222", "gw1", "gw2")
	checkLeaf(t, dir, "east", "0.0.0.0:4333", "gw3")
	opts := loadNATSConf(t, dir)
	if opts.LeafNode.Host != "0.0.0.0" || opts.LeafNode.Port != DefaultLeafPort {
		t.Errorf("hub leaf listener %s:%d", opts.LeafNode.Host, opts.LeafNode.Port)
	}
	for id, want := range map[string]string{"gw1": "tls://leaf-west.example.org:4222", "gw3": "tls://10.1.0.2:4333",
		"gw9": "tls://coord1.example.org:4222"} {
		if got := agentNATS(t, dir, id); got != want {
			t.Errorf("agent %s: nats %s, want %s", id, got, want)
		}
	}
	// Each leaf's certificate names its URL's host, chains to the CA.
	s := mustLoad(t, dir)
	for name, host := range map[string]string{"west": "leaf-west.example.org", "east": "10.1.0.2"} {
		certs, err := readCerts(filepath.Join(dir, LeavesDir, name, LeafCertFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := certs[0].VerifyHostname(host); err != nil {
			t.Errorf("leaf %s: %v", name, err)
		}
		if err := certs[0].CheckSignatureFrom(s.CA); err != nil {
			t.Errorf("leaf %s: %v", name, err)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, LeavesDir, "west", LeafSeedConfFile)); err != nil || st.Mode().Perm() != fileMode {
		t.Errorf("leaf seed: %v %v", st, err)
	}

	// The verbs: a rotated agent's new key, a removed agent gone, an
	// added one behind its leaf, a rotated leaf's new key at the hub.
	if err := RotateAgent(dir, "gw1"); err != nil {
		t.Fatal(err)
	}
	if err := RemoveAgent(dir, "gw2"); err != nil {
		t.Fatal(err)
	}
	if err := AddAgents(dir, []AgentSpec{{ID: "gw4", Name: "gw4", Leaf: "east"}}); err != nil {
		t.Fatal(err)
	}
	var ie *InputError
	if err := AddAgents(dir, []AgentSpec{{ID: "gw5", Name: "gw5", Leaf: "north"}}); !errors.As(err, &ie) {
		t.Errorf("an agent of an unknown leaf: %v, want an InputError", err)
	}
	old := loadLeafConf(t, dir, "east").LeafNode.Remotes[0].Nkey
	if err := RotateLeaf(dir, "east"); err != nil {
		t.Fatal(err)
	}
	if loadLeafConf(t, dir, "east").LeafNode.Remotes[0].Nkey == old {
		t.Error("rotate leaf east kept its key")
	}
	if err := RotateLeaf(dir, "north"); !errors.As(err, &ie) {
		t.Errorf("rotate an unknown leaf: %v", err)
	}
	checkHubLeaves(t, dir)
	checkLeaf(t, dir, "west", "0.0.0.0:4222", "gw1")
	checkLeaf(t, dir, "east", "0.0.0.0:4333", "gw3", "gw4")
	if got := agentNATS(t, dir, "gw4"); got != "tls://10.1.0.2:4333" {
		t.Errorf("added agent gw4: nats %s", got)
	}
	// --force without leaves: no leaf directory is left behind.
	o := testOptions()
	o.Force = true
	if err := Init(dir, o); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, LeavesDir)); !os.IsNotExist(err) {
		t.Errorf("after init-site --force without leaves: %s: %v", LeavesDir, err)
	}
}

// Bad leaf options are refused before anything is written.
func TestLeafOptionsRefused(t *testing.T) {
	for _, tc := range []struct {
		edit func(o *InitOptions)
		want string
	}{
		{func(o *InitOptions) { o.Leaves[0].URL = "nats://leaf:4222" }, "want tls://HOST:PORT"},
		{func(o *InitOptions) { o.Leaves[0].URL = "tls://leaf" }, "want tls://HOST:PORT"},
		{func(o *InitOptions) { o.Leaves[1].Name = "west" }, "given twice"},
		{func(o *InitOptions) { o.Leaves[0].Name = "a b" }, "not allowed"},
		{func(o *InitOptions) { o.Agents[0].Leaf = "north" }, "no such --leaf"},
		{func(o *InitOptions) { o.HubURLs = []string{"tls://elsewhere.example.org:7422"} }, "not a name of the server certificate"},
		{func(o *InitOptions) { o.LeafListen = "nope" }, "--leaf-listen"},
		{func(o *InitOptions) { o.Leaves = nil; o.Agents = o.Agents[3:]; o.HubURLs = []string{"tls://a:1"} }, "need --leaf"},
		{func(o *InitOptions) { o.Leaves = nil }, "no such --leaf"},
	} {
		o := leafOptions()
		tc.edit(&o)
		err := Init(filepath.Join(t.TempDir(), "s"), o)
		if _, ok := err.(*InputError); !ok || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: want an InputError saying %q", err, tc.want)
		}
	}
	for _, s := range []string{"west", "west=", "=tls://a:1", "west=tls://a:1/x"} {
		if _, err := ParseLeafSpec(s); err == nil {
			t.Errorf("ParseLeafSpec(%q): no error", s)
		}
	}
	if l, err := ParseLeafSpec("west=tls://leaf-west:4222"); err != nil || l.Name != "west" || l.URL != "tls://leaf-west:4222" {
		t.Errorf("ParseLeafSpec: %+v %v", l, err)
	}
	if a, err := ParseAgentSpec("gw1:leaf=west,local=true"); err != nil || a.Leaf != "west" || !a.Local {
		t.Errorf("ParseAgentSpec leaf=: %+v %v", a, err)
	}
}

// A hub and a leaf run from the site's confs on loopback: an agent
// behind the leaf reaches the coordinator at the hub with its own
// subjects and answers its requests, but cannot act as another agent of
// its site; the leaf's key is no client's, and an agent's key opens no
// leaf link.
func TestLeafLink(t *testing.T) {
	hubPort, leafListen, leafPort := natstest.FreePort(t), natstest.FreePort(t), natstest.FreePort(t)
	o := testOptions()
	o.URL, o.Listen = fmt.Sprintf("tls://127.0.0.1:%d", hubPort), fmt.Sprintf("127.0.0.1:%d", hubPort)
	o.LeafListen = fmt.Sprintf("127.0.0.1:%d", leafListen)
	o.Agents = []AgentSpec{{ID: "gw1", Name: "gw1", Leaf: "west"}, {ID: "gw2", Name: "gw2", Leaf: "west"}}
	o.Leaves = []LeafSpec{{Name: "west", URL: fmt.Sprintf("tls://127.0.0.1:%d", leafPort)}}
	dir := initSite(t, o)
	hub := runConf(t, filepath.Join(dir, NATSServerConfFile))
	leaf := runConf(t, filepath.Join(dir, LeavesDir, "west", LeafConfFile))
	deadline := time.Now().Add(10 * time.Second)
	for hub.NumLeafNodes() != 1 || leaf.NumLeafNodes() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the leaf did not connect to the hub within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	subj := protocol.Subjects{}
	coord := dial(t, o.URL, auth.Identity{Role: auth.Coordinator, ID: DefaultCoordinatorID}, filepath.Join(dir, CoordinatorSeedFile), filepath.Join(dir, CACertFile))
	gw1 := dial(t, o.Leaves[0].URL, auth.Identity{Role: auth.Agent, ID: "gw1"}, filepath.Join(dir, AgentsDir, "gw1", AgentSeedFile), filepath.Join(dir, AgentsDir, "gw1", CACertFile))

	events, err := coord.QueueSubscribeSync(subj.AllEvents(), "coordinators") // as the coordinator subscribes
	if err != nil {
		t.Fatal(err)
	}
	// The agent answers a request the coordinator sends it (its reply
	// crosses the link under allow_responses).
	if _, err := gw1.Subscribe(subj.Agent("gw1"), func(m *nats.Msg) { _ = m.Respond([]byte("accepted")) }); err != nil {
		t.Fatal(err)
	}
	if err := gw1.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := coord.Flush(); err != nil {
		t.Fatal(err)
	}
	var reply *nats.Msg
	for i := 0; ; i++ { // until the agent's interest has crossed the link
		if reply, err = coord.Request(subj.Agent("gw1"), []byte("shard"), time.Second); err == nil || i == 50 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil || string(reply.Data) != "accepted" {
		t.Fatalf("request to gw1 behind the leaf: %v", err)
	}
	// Its own events arrive; gw2's, published with gw1's credential, are
	// refused at the leaf and never reach the hub.
	if err := gw1.Publish(subj.Events("gw2", "job1"), []byte("forged")); err != nil {
		t.Fatal(err)
	}
	if err := gw1.Publish(subj.Events("gw1", "job1"), []byte("own")); err != nil {
		t.Fatal(err)
	}
	m, err := events.NextMsg(5 * time.Second)
	if err != nil || string(m.Data) != "own" || m.Subject != subj.Events("gw1", "job1") {
		t.Fatalf("first event at the hub: %v %v, want gw1's own", m, err)
	}
	if err := gw1.Flush(); err != nil { // the server's -ERR came before its PONG
		t.Fatal(err)
	}
	if err := gw1.LastError(); err == nil || !strings.Contains(err.Error(), "Permissions Violation") {
		t.Errorf("gw1 publishing as gw2: last error %v, want a permissions violation", err)
	}
	// Every subject the agent sends the coordinator crosses the link to
	// its wildcard subscriptions, and the coordinator's answers to the
	// agent's requests come back to the agent's inbox.
	for _, s := range []string{subj.AllRegisters(), subj.Heartbeats(), subj.AllDone()} {
		if _, err := coord.QueueSubscribe(s, "coordinators", func(m *nats.Msg) { _ = m.Respond([]byte("ack " + m.Subject)) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := coord.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{subj.Register("gw1"), subj.Heartbeat("gw1"), subj.Done("gw1", "job1")} {
		var r *nats.Msg
		for i := 0; ; i++ { // until the coordinator's interest has crossed the link
			if r, err = gw1.Request(s, []byte("x"), time.Second); err == nil || i == 100 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil || string(r.Data) != "ack "+s {
			t.Errorf("gw1's request on %s behind the leaf: %v %v", s, r, err)
		}
	}

	// The leaf's key is for leaf links only; an agent's key opens none.
	hubTLS := nats.RootCAs(filepath.Join(dir, CACertFile))
	leafKey := filepath.Join(t.TempDir(), "leaf.seed")
	lopts := loadLeafConf(t, dir, "west")
	if err := os.WriteFile(leafKey, []byte(lopts.LeafNode.Remotes[0].Nkey), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := nats.NkeyOptionFromSeed(leafKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := connect(o.URL, hubTLS, k); err == nil || !strings.Contains(err.Error(), "Authorization") {
		t.Errorf("the leaf's key as a client at the hub: %v, want refused", err)
	}
	rogue := lopts.Clone()
	rogue.ServerName, rogue.Port = "rogue", natstest.FreePort(t)
	seed, err := os.ReadFile(filepath.Join(dir, AgentsDir, "gw1", AgentSeedFile))
	if err != nil {
		t.Fatal(err)
	}
	rogue.LeafNode.Remotes[0].Nkey = string(seed)
	refused := make(chan string, 16)
	rs, err := server.NewServer(rogue)
	if err != nil {
		t.Fatal(err)
	}
	rs.SetLoggerV2(errLog(refused), false, false, false)
	rs.Start()
	t.Cleanup(rs.Shutdown)
	// The hub refuses the link: the rogue server is told so (and never
	// counts a leaf connection).
	for deadline := time.After(30 * time.Second); ; {
		select {
		case msg := <-refused:
			if !strings.Contains(msg, "Authorization") {
				continue
			}
		case <-deadline:
			t.Fatal("a leaf dialing with gw1's key: no authorization error within 30s")
		}
		break
	}
	if n := rs.NumLeafNodes(); n != 0 || hub.NumLeafNodes() != 1 {
		t.Errorf("a leaf dialing with gw1's key: %d links (hub %d), want refused", n, hub.NumLeafNodes())
	}
}

// errLog is a nats-server logger that sends its errors to a channel
// (dropping them when it is full) and discards the rest.
type errLog chan string

func (l errLog) Errorf(f string, a ...any) {
	select {
	case l <- fmt.Sprintf(f, a...):
	default:
	}
}
func (errLog) Noticef(string, ...any) {}
func (errLog) Warnf(string, ...any)   {}
func (errLog) Fatalf(string, ...any)  {}
func (errLog) Debugf(string, ...any)  {}
func (errLog) Tracef(string, ...any)  {}

// runConf starts a nats-server from the conf file at path.
func runConf(t *testing.T, path string) *server.Server {
	t.Helper()
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	opts.NoSigs, opts.NoLog = true, true
	opts.LeafNode.ReconnectInterval = 100 * time.Millisecond
	return runServer(t, opts)
}

// dial connects as id with its seed, trusting ca.
func dial(t *testing.T, url string, id auth.Identity, seed, ca string) *nats.Conn {
	t.Helper()
	opts, err := auth.ClientOptions(protocol.Subjects{}, id, id.ID, auth.Credentials{Seed: seed, CA: ca})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(url, append(opts, nats.Timeout(5*time.Second))...)
	if err != nil {
		t.Fatalf("%s %s: %v", id.Role, id.ID, err)
	}
	t.Cleanup(nc.Close)
	return nc
}
