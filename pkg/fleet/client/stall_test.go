package client

// The stream's stall checks: a silent stream asks the job registry
// (resume.go) whether its end was lost, the job still runs, or the
// coordinator is gone.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

func fastStall(c *Client) { c.StallTimeout = 200 * time.Millisecond }

// TestStallDoneRetransmits loses the last batch: the job registry says
// the job is done, so the client asks for the rest again.
func TestStallDoneRetransmits(t *testing.T) {
	_, f, c := setup(t)
	fastStall(c)
	job := submit(t, c, f, "n1")
	f.setJobs(func(req protocol.JobsRequest) protocol.JobsReply {
		return protocol.JobsReply{Jobs: []protocol.JobStatus{{ID: req.Job, Nodes: "n1", Total: 1, Done: true}}}
	})
	f.publish(job.ID(), 1, false, "a")
	go func() {
		for ctl := range f.ctl {
			if ctl.Kind == protocol.ControlRetransmit {
				if ctl.Seq != 2 {
					t.Errorf("retransmit from %d", ctl.Seq)
				}
				f.publish(job.ID(), 2, true, "b")
				return
			}
		}
	}()
	wantOutput(t, job, "a,b")
	req := <-f.jobReq
	if req.Kind != protocol.JobsStatus || req.Job != job.ID() {
		t.Fatalf("request %+v", req)
	}
}

func TestStallRunningJobWaits(t *testing.T) {
	_, f, c := setup(t)
	fastStall(c)
	job := submit(t, c, f, "n1")
	f.setJobs(func(req protocol.JobsRequest) protocol.JobsReply {
		return protocol.JobsReply{Jobs: []protocol.JobStatus{{ID: req.Job, Nodes: "n1", Total: 1}}}
	})
	go func() {
		// Two status checks, then the output comes.
		<-f.jobReq
		<-f.jobReq
		f.publish(job.ID(), 1, true, "late")
	}()
	wantOutput(t, job, "late")
}

// TestStallCoordinatorGone: with Reconnect off, a coordinator that does
// not answer two checks in a row ends the stream at once.
func TestStallCoordinatorGone(t *testing.T) {
	_, f, c := setup(t)
	fastStall(c)
	c.Reconnect = -1
	job := submit(t, c, f, "n1")
	for _, s := range f.subs {
		_ = s.Unsubscribe()
	}
	_ = f.nc.Flush()
	_, err := job.Next(testCtx(t))
	var ue *UnreachableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "is unreachable") || !strings.Contains(err.Error(), "without a final state: n1") {
		t.Fatalf("err = %v", err)
	}
	// The error sticks.
	if _, err2 := job.Next(testCtx(t)); err2 != err {
		t.Fatalf("second Next: %v", err2)
	}
}

func TestNextHonoursContext(t *testing.T) {
	f, job := setupJob(t, "n1")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := job.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	// The job can still be read after.
	f.publish(job.ID(), 1, true, "a")
	wantOutput(t, job, "a")
}

// A NATS outage counts no stall check: the client's own connection is
// down, so the coordinator's silence says nothing (before, a few stall
// checks in the outage made csub report the coordinator unreachable).
// Once NATS is back the stream goes on.
func TestStallNATSOutage(t *testing.T) {
	srv, f, c := setup(t)
	fastStall(c) // a 1 s outage is five stall timeouts
	job := submit(t, c, f, "n1")
	f.setJobs(func(req protocol.JobsRequest) protocol.JobsReply {
		return protocol.JobsReply{Jobs: []protocol.JobStatus{{ID: req.Job, Nodes: "n1", Total: 1}}}
	})
	got := make(chan error, 1)
	go func() {
		b, err := job.Next(testCtx(t))
		if err == nil && (len(b.Events) != 1 || string(b.Events[0].Data) != "after") {
			err = fmt.Errorf("got %+v", b.Events)
		}
		got <- err
	}()
	time.Sleep(300 * time.Millisecond) // a stall check answered
	srv.Restart(time.Second)
	for _, nc := range []*nats.Conn{c.Conn, f.nc} {
		for !nc.IsConnected() {
			time.Sleep(10 * time.Millisecond)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	f.publish(job.ID(), 1, true, "after")
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}
