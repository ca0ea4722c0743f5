package auth_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/fleet/agent"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/fleet/auth/authtest"
	"github.com/fleetsh/fleetsh/pkg/fleet/client"
	"github.com/fleetsh/fleetsh/pkg/fleet/coordinator"
	"github.com/fleetsh/fleetsh/pkg/fleet/daemon"
	"github.com/fleetsh/fleetsh/pkg/fleet/policy"
	fleetsite "github.com/fleetsh/fleetsh/pkg/fleet/site"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
	_ "github.com/fleetsh/fleetsh/pkg/workers"
)

// The attack tests' fleet: a coordinator embedding a TLS-only NATS
// server on 127.0.0.1 that accepts the site's identities, its local
// agent (nodes n*), and two gateway agents joining with their own
// credentials: gw1 serves group gw1 (nodes g[1-3]), gw2 group gw2 (h[1-2]).
const attackTopology = `[routes]
admin: gw[1-2]
gw1: g[1-3]
gw2: h[1-2]
`

// fleetPrefix is the attack fleet's subject prefix: the tests write the
// subjects an attacker would, by hand.
const fleetPrefix = "t"

type testFleet struct {
	t     *testing.T
	site  *authtest.Site
	subj  protocol.Subjects
	url   string
	seeds map[string]string // id → seed file
	// gate is the file the victims' commands wait for before they print.
	gate string
}

func startFleet(t *testing.T) *testFleet {
	t.Helper()
	site := authtest.NewSite(t)
	f := &testFleet{t: t, site: site, subj: protocol.Subjects{Prefix: fleetPrefix}, seeds: map[string]string{},
		gate: filepath.Join(t.TempDir(), "gate")}
	for _, u := range []string{"alice", "mallory", "eve"} {
		f.seeds[u] = site.Add(auth.Submitter, u)
	}
	f.seeds["root"] = site.Add(auth.Admin, "root")
	for _, a := range []string{"gw1", "gw2"} {
		f.seeds[a] = site.Add(auth.Agent, a)
	}
	router := testutil.Router(t, attackTopology, "admin")
	_, grants := fleetsite.Grants(site.Identities)
	pol, err := policy.Parse([]byte(attackPolicy), policy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	grants[coordinator.LocalAgentID] = coordinator.AgentGrant{Local: true}
	// The coordinator signs shards with this key; the agents trust it.
	signer, signerPub := testutil.UserKey(t)
	log := natstest.Logger(t)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	coord, err := daemon.Start(ctx, daemon.Config{Listen: "127.0.0.1:0", Name: "attack-coordinator", Logger: log,
		Identities: site.Identities, TLSCert: site.Cert, TLSKey: site.Key, TLSCA: site.CA,
		Coordinator: &coordinator.Config{Subjects: f.subj, Router: coordinator.FromTopology(router), LostAfter: time.Hour,
			Policy: pol, Agents: grants, SigningKey: signer},
		Agent: &agent.Config{Subjects: f.subj, ID: coordinator.LocalAgentID, Name: "local", Local: true, Worker: "exec"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = coord.Close() })
	f.url = "tls://" + coord.Addr()
	for _, a := range []string{"gw1", "gw2"} {
		gw, err := daemon.Start(ctx, daemon.Config{NATS: f.url, Logger: log.With("agent", a), Creds: site.Creds(f.seeds[a]),
			Agent: &agent.Config{Subjects: f.subj, ID: a, Name: a, Worker: "exec", CoordinatorKeys: []string{signerPub}}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = gw.Close() })
	}
	f.waitAgents("gw1", "gw2")
	return f
}

// as connects to the fleet as the submitter or agent id.
func (f *testFleet) as(role auth.Role, id string) *conn {
	f.t.Helper()
	return mustDial(f.t, f.url, f.subj, auth.Identity{Role: role, ID: id}, f.site.Creds(f.seeds[id]))
}

// submitter returns a connection as user, and its fleet client.
func (f *testFleet) submitter(user string) (*conn, *client.Client) {
	c := f.as(auth.Submitter, user)
	return c, &client.Client{Conn: c.nc, Subjects: f.subj, User: user}
}

// attackPolicy lets alice and mallory run anything with exec (the
// attacks below are about permissions, not the policy), root take every
// admin action, and anyone else (eve) only run commands with the remote
// shells, as the built-in default does.
const attackPolicy = `rules:
  - name: exec-users
    users: [alice, mallory]
    commands: ["**"]
    nodes: "*"
    workers: [exec]
  - name: admins
    users: [root]
    commands: ["**"]
    nodes: "*"
    workers: ["*"]
    actions: [see_all, cancel_any, attach_any, agents]
  - name: users
    users: ["*"]
    commands: ["**"]
    nodes: "*"
`

// waitAgents waits until the coordinator knows the agents ids (asked by
// the admin: the agent list is an admin action).
func (f *testFleet) waitAgents(ids ...string) {
	f.t.Helper()
	c := f.as(auth.Admin, "root")
	deadline := time.Now().Add(wait)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var r protocol.JobsReply
		err := wire.Request(ctx, c.nc, fleetPrefix+".jobs.root", protocol.TypeJobsRequest,
			protocol.JobsRequest{Kind: protocol.JobsAgents}, &r)
		cancel()
		var have []string
		for _, a := range r.Agents {
			have = append(have, a.Agent)
		}
		missing := false
		for _, id := range ids {
			missing = missing || !slices.Contains(have, id)
		}
		if err == nil && !missing {
			c.nc.Close()
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("agents %v: the coordinator knows %v (%v)", ids, have, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// victimNodes are a victim's nodes: two under gw1, one under gw2, two
// local.
const victimNodes = "g[1-2],h1,n[1-2]"

// result is how a job ended: each node's output lines and final record.
type result struct {
	lines map[string][]string
	ends  map[string]protocol.Event
	err   error
}

// victim is a job a user runs while an attacker tries to harm it.
type victim struct {
	job  *client.Job
	done chan result
}

// startVictim submits user's job on nodes: each node waits for the
// fleet's gate, then prints "real <node>"; it reads the job to its end
// in the background.
func (f *testFleet) startVictim(c *client.Client, nodes string) *victim {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	job, err := c.Submit(ctx, protocol.JobSpec{Nodes: nodes, Worker: "exec",
		Command: fmt.Sprintf("while [ ! -e %s ]; do sleep 0.01; done; echo real %%h", f.gate)})
	if err != nil {
		cancel()
		f.t.Fatal(err)
	}
	v := &victim{job: job, done: make(chan result, 1)}
	go func() {
		defer cancel()
		defer job.Close()
		r := result{lines: map[string][]string{}, ends: map[string]protocol.Event{}}
		r.err = testutil.ReadJob(ctx, job, func(node string, e protocol.Event) {
			switch e.Kind {
			case protocol.KindStdout:
				r.lines[node] = append(r.lines[node], string(e.Data))
			case protocol.KindEnd:
				r.ends[node] = e
			}
		})
		v.done <- r
	}()
	return v
}

// open lets the victims' commands print and end.
func (f *testFleet) open() {
	f.t.Helper()
	if err := os.WriteFile(f.gate, nil, 0o600); err != nil {
		f.t.Fatal(err)
	}
}

// check opens the gate and checks the victim's job ended with its true
// results: every node printed "real <node>" once and exited 0.
func (f *testFleet) check(v *victim) {
	f.t.Helper()
	f.open()
	var r result
	select {
	case r = <-v.done:
	case <-time.After(wait):
		f.t.Fatal("the victim's job did not end")
	}
	if r.err != nil {
		f.t.Fatalf("the victim's job: %v", r.err)
	}
	names := v.job.Nodes()
	if len(r.ends) != len(names) {
		f.t.Errorf("the victim's job ended %d nodes of %d: %v", len(r.ends), len(names), r.ends)
	}
	for _, n := range names {
		e, ok := r.ends[n]
		if !ok || e.State != protocol.StateExited || e.Code != 0 {
			f.t.Errorf("%s ended %+v, want exited 0", n, e)
		}
		if got := strings.Join(r.lines[n], "|"); got != "real "+n {
			f.t.Errorf("%s printed %q, want %q", n, got, "real "+n)
		}
	}
}
