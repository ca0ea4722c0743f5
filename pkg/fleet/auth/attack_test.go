package auth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/fleetsh/fleetsh/pkg/fleet/auth"
	"github.com/fleetsh/fleetsh/pkg/fleet/client"
	"github.com/fleetsh/fleetsh/pkg/fleet/coordinator"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// TestAttack runs each attack of issue 12 that subject permissions stop
// in a fleet of its own (a real NATS server, the real credentials of
// each role) while alice's job (the victim) runs: the attack's own
// checks see the server refuse the attacker, then the victim's job must
// still end with its true results. Subjects are written by hand, as an
// attacker would (prefix "t").
func TestAttack(t *testing.T) {
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			f := startFleet(t)
			_, alice := f.submitter("alice")
			v := f.startVictim(alice, victimNodes)
			a.run(t, f, v)
			f.check(v)
		})
	}
}

// attacks are TestAttack's cases: run attacks alice's running job v in
// the fleet f.
var attacks = []struct {
	name string
	run  func(t *testing.T, f *testFleet, v *victim)
}{
	// A submitter cannot act as another user: submitting or asking on
	// alice's subjects is refused; what it submits on its own subject is
	// its own job, whatever user its JobSpec claims.
	{"SubmitAsAnotherUser", func(t *testing.T, f *testFleet, v *victim) {
		mallory, mc := f.submitter("mallory")
		mallory.pubDenied("t.submit.alice")
		mallory.pubDenied("t.jobs.alice")
		mallory.pubDenied("t.in.alice." + v.job.ID())

		// Through its own subject, with alice's name in the spec: the job
		// is mallory's.
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		job, err := mc.Submit(ctx, protocol.JobSpec{User: "alice", Nodes: "n9", Worker: "exec", Command: "true"})
		if err != nil {
			t.Fatalf("mallory's own job: %v", err)
		}
		job.Close()
		st, err := mc.Status(ctx, job.ID())
		if err != nil {
			t.Fatal(err)
		}
		if st.User != "mallory" {
			t.Errorf("mallory's job belongs to %q", st.User)
		}
	}},

	// A submitter cannot run on a gateway group as the gateway's agent: it
	// can neither say Hello for it nor take its shards; and `-R exec` (the
	// gateway's own shell) is a privilege the policy must grant: eve's
	// `id` through a gateway agent is denied.
	{"SubmitterOnGatewayGroup", func(t *testing.T, f *testFleet, v *victim) {
		_, ec := f.submitter("eve")
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		var re *client.RefusedError
		if _, err := ec.Submit(ctx, protocol.JobSpec{Nodes: victimNodes, Worker: "exec", Command: "id"}); !errors.As(err, &re) || re.Code != protocol.CodeDenied {
			t.Errorf("eve's -R exec id on the gateway group: %v", err)
		}
		mallory := f.as(auth.Submitter, "mallory")
		mallory.pubDenied("t.register.mallory")
		mallory.pubDenied("t.register.gw1")
		mallory.subDenied("t.agent.gw1")
		mallory.subDenied("t.agent.*")
	}},

	// A forged Hello on the register subject, by a submitter or by agent
	// gw2 for gw1's id, is refused by the server.
	{"ForgedHello", func(t *testing.T, f *testFleet, v *victim) {
		hello := protocol.Hello{Agent: "gw1", Name: "gw1", Groups: []string{"gw1"}, Capacity: 1 << 20}
		for _, c := range []*conn{f.as(auth.Submitter, "mallory"), f.as(auth.Agent, "gw2")} {
			if err := wire.PublishJSON(c.nc, "t.register.gw1", protocol.TypeHello, hello); err != nil {
				t.Fatal(err)
			}
			c.denied("publish", "t.register.gw1")
		}
	}},

	// Forged End records, events and summaries on an agent's subjects, by a
	// submitter, are refused by the server.
	{"ForgedEvents", func(t *testing.T, f *testFleet, v *victim) {
		mallory := f.as(auth.Submitter, "mallory")
		for _, a := range []string{"gw1", "gw2", coordinator.LocalAgentID} {
			mallory.pubDenied("t.ev." + a + "." + v.job.ID())
			mallory.pubDenied("t.done." + a + "." + v.job.ID())
			mallory.pubDenied("t.hb." + a)
		}
	}},

	// The coordinator's output to alice, and alice's acks, cannot be forged
	// (7 bytes on the output subject killed csub; a huge ack stalled it).
	{"ForgedOutput", func(t *testing.T, f *testFleet, v *victim) {
		for _, c := range []*conn{f.as(auth.Submitter, "mallory"), f.as(auth.Agent, "gw1")} {
			c.pubDenied("t.out.alice." + v.job.ID())
			c.pubDenied("t.outack.alice." + v.job.ID())
		}
	}},

	// Another submitter cannot cancel alice's job: not on alice's jobs
	// subject, not on an agent's control subject, and not through its own
	// jobs subject either (the coordinator checks whose job it is).
	{"CancelByAnotherUser", func(t *testing.T, f *testFleet, v *victim) {
		mallory, mc := f.submitter("mallory")
		if err := wire.PublishJSON(mallory.nc, "t.jobs.alice", protocol.TypeJobsRequest,
			protocol.JobsRequest{Kind: protocol.JobsCancel, Job: v.job.ID()}); err != nil {
			t.Fatal(err)
		}
		mallory.denied("publish", "t.jobs.alice")
		for _, a := range []string{"gw1", "gw2", coordinator.LocalAgentID} {
			if err := wire.PublishJSON(mallory.nc, "t.ctl."+a, protocol.TypeControl,
				protocol.Control{Kind: protocol.ControlCancel, Job: v.job.ID()}); err != nil {
				t.Fatal(err)
			}
			mallory.denied("publish", "t.ctl."+a)
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := mc.Cancel(ctx, v.job.ID()); err == nil {
			t.Error("mallory cancelled alice's job through her own jobs subject")
		}
	}},

	// Another submitter cannot read alice's output: not by subscribing to
	// it, and not by attaching to her job.
	{"AttachToAnotherUsersJob", func(t *testing.T, f *testFleet, v *victim) {
		mallory, mc := f.submitter("mallory")
		mallory.subDenied("t.out.alice." + v.job.ID())
		mallory.subDenied("t.out.alice.>")
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if job, err := mc.Attach(ctx, v.job.ID()); err == nil {
			job.Close()
			t.Error("mallory attached to alice's job")
		}
		// An admin's credential may.
		root := f.as(auth.Admin, "root")
		rc := &client.Client{Conn: root.nc, Subjects: f.subj, User: "root"}
		job, err := rc.Attach(ctx, v.job.ID())
		if err != nil {
			t.Fatalf("the admin could not attach: %v", err)
		}
		job.Close()
	}},

	// Nobody but the coordinator can subscribe to everything.
	{"SubscribeAll", func(t *testing.T, f *testFleet, v *victim) {
		for _, c := range []*conn{f.as(auth.Submitter, "mallory"), f.as(auth.Agent, "gw2")} {
			for _, s := range []string{"t.>", ">", "t.*.*", "_INBOX.>", "t.inbox.>", "$SYS.>"} {
				c.subDenied(s)
			}
		}
	}},

	// An agent cannot act for another: no heartbeat, event, summary or
	// Hello under gw1's id from gw2, no taking gw1's shards or control.
	{"AgentOnAnotherAgentsSubjects", func(t *testing.T, f *testFleet, v *victim) {
		gw2 := f.as(auth.Agent, "gw2")
		for _, s := range []string{"t.hb.gw1", "t.ev.gw1." + v.job.ID(), "t.done.gw1." + v.job.ID(), "t.register.gw1",
			"t.ev." + coordinator.LocalAgentID + "." + v.job.ID(), "t.submit.gw2", "t.jobs.gw2", "t.agent.gw1", "t.ctl.gw1"} {
			gw2.pubDenied(s)
		}
		for _, s := range []string{"t.agent.gw1", "t.ctl.gw1", "t.agentin.gw1", "t.inbox.a.gw1.>", "t.ev.>", "t.done.*.*"} {
			gw2.subDenied(s)
		}
	}},

	// A submitter cannot send shards or stdin to an agent, nor answer an
	// agent's requests.
	{"SubmitterPublishesShards", func(t *testing.T, f *testFleet, v *victim) {
		mallory := f.as(auth.Submitter, "mallory")
		for _, a := range []string{"gw1", coordinator.LocalAgentID} {
			shard := protocol.Shard{Job: "forged", ID: "s1", Group: "gw1", Nodes: "g1",
				Spec: protocol.JobSpec{ID: "forged", Command: "touch /tmp/pwned", Worker: "exec"}}
			if err := wire.PublishJSON(mallory.nc, "t.agent."+a, protocol.TypeShard, shard); err != nil {
				t.Fatal(err)
			}
			mallory.denied("publish", "t.agent."+a)
			mallory.pubDenied("t.agentin." + a)
			mallory.pubDenied("t.inbox.a." + a + ".x")
		}
	}},
}
