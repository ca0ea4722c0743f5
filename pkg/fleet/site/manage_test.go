package site

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
)

// rotated checks that f changed exactly key (a "role:id" of keysOf) among
// the identities, and exactly the files files among the site's.
func rotated(t *testing.T, dir string, f func() error, key string, files ...string) {
	t.Helper()
	s0 := mustLoad(t, dir)
	before := snapshot(t, dir)
	if err := f(); err != nil {
		t.Fatal(err)
	}
	s1, err := Load(dir)
	if err != nil {
		t.Fatalf("after rotating %s: %v", key, err)
	}
	k0, k1 := keysOf(s0.Identities), keysOf(s1.Identities)
	var diff []string
	for k := range k0 {
		if k0[k] != k1[k] {
			diff = append(diff, k)
		}
	}
	if len(k0) != len(k1) || !slices.Equal(diff, []string{key}) && !(key == "" && len(diff) == 0) {
		t.Errorf("keys changed: %q, want %q", diff, key)
	}
	if key != "" {
		// The identities, and the nats-server.conf that names them.
		files = append(files, IdentitiesFile, NATSServerConfFile)
	}
	slices.Sort(files)
	if got := changed(before, snapshot(t, dir)); !slices.Equal(got, files) {
		t.Errorf("files changed: %q, want %q", got, files)
	}
}

func TestRotate(t *testing.T) {
	dir := initSite(t, testOptions())
	rotated(t, dir, func() error { return RotateUser(dir, "alice") }, "submitter:alice", "users/alice/user.seed")
	rotated(t, dir, func() error { return RotateUser(dir, "root") }, "admin:root", "users/root/user.seed")
	rotated(t, dir, func() error { return RotateAgent(dir, "gw2") }, "agent:gw2", "agents/gw2/agent.seed")
	rotated(t, dir, func() error { return RotateCoordinator(dir) }, "coordinator:coordinator",
		CoordinatorSeedFile, "agents/gw1/agent.yaml", "agents/gw2/agent.yaml")
	rotated(t, dir, func() error { return RotateServerCert(dir, []string{"coord2.example.org"}, nil) }, "",
		ServerCertFile, ServerKeyFile)
	s := mustLoad(t, dir)
	if got := s.Server.Leaf.DNSNames; !slices.Equal(got, []string{"localhost", "coord.example.org", "coord2.example.org"}) {
		t.Errorf("rotated server certificate names %q", got)
	}
	var agent map[string]any
	readYAML(t, dir+"/agents/gw1/agent.yaml", &agent)
	if agent["coordinator-key"] != s.Coordinator.Nkey {
		t.Error("agent.yaml does not name the new coordinator key")
	}

	var ie *InputError
	for name, err := range map[string]error{
		"user":  RotateUser(dir, "mallory"),
		"agent": RotateAgent(dir, "alice"),
		"site":  RotateUser(t.TempDir(), "alice"),
		"host":  RotateServerCert(dir, []string{"bad host"}, nil),
	} {
		if !errors.As(err, &ie) {
			t.Errorf("%s: %v, want an InputError", name, err)
		}
	}
}

func TestAdd(t *testing.T) {
	dir := initSite(t, testOptions())
	s0 := mustLoad(t, dir)
	before := snapshot(t, dir)
	if err := AddUsers(dir, []string{"carol"}, []string{"dave"}); err != nil {
		t.Fatal(err)
	}
	gw3, err := ParseAgentSpec("gw3:name=gw3,groups=gpu")
	if err != nil {
		t.Fatal(err)
	}
	if err := AddAgents(dir, []AgentSpec{gw3}); err != nil {
		t.Fatal(err)
	}
	s1 := mustLoad(t, dir)
	k0, k1 := keysOf(s0.Identities), keysOf(s1.Identities)
	maps.DeleteFunc(k1, func(k, v string) bool {
		return k == "admin:carol" && v != "" || k == "submitter:dave" && v != "" || k == "agent:gw3" && v != ""
	})
	if !maps.Equal(k0, k1) {
		t.Errorf("adding changed other keys or missed one: %v", k1)
	}
	var want []string
	for _, f := range []string{"users/carol/", "users/dave/"} {
		want = append(want, f+CACertFile, f+ClientConfigFile, f+UserSeedFile)
	}
	want = append(want, "agents/gw3/"+CACertFile, "agents/gw3/"+AgentConfigFile, "agents/gw3/"+AgentSeedFile, IdentitiesFile, NATSServerConfFile)
	slices.Sort(want)
	if got := changed(before, snapshot(t, dir)); !slices.Equal(got, want) {
		t.Errorf("files changed %q, want %q", got, want)
	}
	after := snapshot(t, dir)
	var ie *InputError
	for name, err := range map[string]error{
		"existing user":  AddUsers(dir, nil, []string{"alice"}),
		"user as admin":  AddUsers(dir, []string{"dave"}, nil),
		"repeat":         AddUsers(dir, nil, []string{"erin", "erin"}),
		"bad id":         AddUsers(dir, nil, []string{"e.rin"}),
		"existing agent": AddAgents(dir, []AgentSpec{{ID: "gw1", Name: "gw1"}}),
		"no site":        AddUsers(t.TempDir(), nil, []string{"x"}),
	} {
		if !errors.As(err, &ie) {
			t.Errorf("%s: %v, want an InputError", name, err)
		}
	}
	if got := changed(after, snapshot(t, dir)); len(got) != 0 {
		t.Errorf("refused additions changed %q", got)
	}
	if !strings.Contains(AddUsers(dir, nil, []string{"alice"}).Error(), "rotate") {
		t.Error("the refusal of an existing user does not point to rotate")
	}
}

func TestRemove(t *testing.T) {
	dir := initSite(t, testOptions())
	before := snapshot(t, dir)
	if err := RemoveUser(dir, "bob"); err != nil {
		t.Fatal(err)
	}
	if err := RemoveAgent(dir, "gw1"); err != nil {
		t.Fatal(err)
	}
	s := mustLoad(t, dir)
	k := keysOf(s.Identities)
	if _, ok := k["submitter:bob"]; ok || len(k) != 4 {
		t.Errorf("identities after removing bob and gw1: %v", k)
	}
	var want []string
	for _, f := range []string{"users/bob/" + CACertFile, "users/bob/" + ClientConfigFile, "users/bob/" + UserSeedFile,
		"agents/gw1/" + CACertFile, "agents/gw1/" + AgentConfigFile, "agents/gw1/" + AgentSeedFile, IdentitiesFile, NATSServerConfFile} {
		want = append(want, f)
	}
	slices.Sort(want)
	if got := changed(before, snapshot(t, dir)); !slices.Equal(got, want) {
		t.Errorf("files changed %q, want %q", got, want)
	}
	var ie *InputError
	if err := RemoveUser(dir, "bob"); !errors.As(err, &ie) {
		t.Errorf("removing bob twice: %v", err)
	}
	if err := RemoveAgent(dir, "alice"); !errors.As(err, &ie) {
		t.Errorf("removing a user as an agent: %v", err)
	}
}
