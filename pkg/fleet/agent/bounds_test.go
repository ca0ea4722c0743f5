package agent

import (
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// TestForgedControlIgnored is issue 12's "one ack with a huge sequence
// stalled it", agent side: an ack beyond the last batch sent, a
// retransmit request beyond it and a message of another type on the
// agent's control subject are dropped, and the shard still streams more
// batches than its window holds to their true end.
func TestForgedControlIgnored(t *testing.T) {
	t.Parallel()
	srv, c, a := fleet(t, Config{Capacity: 4})
	mallory := srv.Connect(t, "mallory")
	sh := shardOf("job1", []string{"n1"}, protocol.JobSpec{Command: "seq 1 4000"})
	sh.MaxBatch = 2048 // a dozen batches
	sh.Window = 2
	forged := false
	c.drop = func(b *protocol.EventBatch, n int) bool {
		if !forged {
			forged = true
			for _, ctl := range []protocol.Control{
				{Kind: protocol.ControlAck, Job: b.Job, Shard: b.Shard, Attempt: b.Attempt, Seq: 1 << 62},
				{Kind: protocol.ControlRetransmit, Job: b.Job, Shard: b.Shard, Attempt: b.Attempt, Seq: 1 << 62},
			} {
				if err := wire.PublishJSON(mallory, c.subj.Control(a.ID()), protocol.TypeControl, ctl); err != nil {
					t.Error(err)
				}
			}
			_ = mallory.PublishMsg(wire.NewMsg(c.subj.Control(a.ID()), protocol.TypeEventBatch, []byte(`{"kind":"cancel","job":"job1"}`)))
			_ = mallory.Flush()
		}
		return false
	}
	r := c.run(a, sh)
	got := r.nodes(t, 1)
	if e := oneEnd(t, got)[0]; e.State != protocol.StateExited || e.Code != 0 {
		t.Errorf("end %s %d", e.State, e.Code)
	}
	if n := len(got[0].stdout); n != 4000 || got[0].stdout[3999] != "4000" {
		t.Errorf("%d lines", n)
	}
	if len(r.batches) <= sh.Window {
		t.Errorf("%d batches: not more than the window", len(r.batches))
	}
	deadline := time.Now().Add(time.Minute)
	for a.drops.Count() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d control messages dropped, want 2 (the ack and the other type)", a.drops.Count())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
