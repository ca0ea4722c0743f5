package coordinator

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/pkg/fleet/store"
	"github.com/fleetsh/fleetsh/pkg/fleet/wire"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// BenchmarkMerge measures the coordinator's merged event throughput:
// several agent connections (over TCP loopback) stream 64 KiB batches of
// 100-byte lines through their credit windows; the coordinator checks,
// merges and forwards them to one submitter that acks the output
// stream. Everything shares the machine's cores, so the figure is a floor.
//
//	go test -run '^$' -bench Merge -benchtime 2000000x ./pkg/fleet/coordinator
//
// BenchmarkMergeStored is the same with the journal (Config.Store) on a
// JetStream file store: the cost of durability.
func BenchmarkMerge(b *testing.B) { benchMerge(b, false) }

// BenchmarkMergeStored is BenchmarkMerge with a store.
func BenchmarkMergeStored(b *testing.B) { benchMerge(b, true) }

func benchMerge(b *testing.B, stored bool) {
	const agents, perShard = 4, 1000
	var srv *natstest.Server
	cfg := Config{Heartbeat: time.Second, Logger: natstest.Logger(b)}
	if stored {
		srv = natstest.StartJetStream(b, b.TempDir())
		st, err := store.Open(context.Background(), srv.Connect(b, "store"), store.Config{MaxBytes: 512 << 20})
		if err != nil {
			b.Fatal(err)
		}
		cfg.Store = st
	} else {
		srv = natstest.Start(b, 0)
	}
	co, err := New(srv.Connect(b, "coordinator"), cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = co.Run(ctx) }()
	var fakes []*benchAgent
	for i := range agents {
		fakes = append(fakes, newBenchAgent(b, srv, fmt.Sprintf("a%d-%d", i, time.Now().UnixNano())))
	}
	time.Sleep(200 * time.Millisecond)
	lines := b.N
	perAgent := lines / agents

	// submitter
	nc := srv.Connect(b, "csub")
	job := fmt.Sprintf("bench%d", time.Now().UnixNano())
	got := 0
	done := make(chan struct{})
	var ro protocol.Reorder[*protocol.EventBatch]
	sub, err := nc.Subscribe(subj.Output(testUser, job), func(m *nats.Msg) {
		var batch protocol.EventBatch
		if err := batch.UnmarshalBinary(m.Data); err != nil {
			b.Error(err)
			return
		}
		ready, _ := ro.Push(batch.Seq, &batch)
		for _, rb := range ready {
			for _, r := range rb.Events {
				if r.Kind == protocol.KindStdout {
					got += len(r.Nodes)
				}
			}
			if rb.Last {
				close(done)
			}
		}
		_ = wire.PublishJSON(nc, subj.OutputAck(testUser, job), protocol.TypeControl, protocol.Control{Kind: protocol.ControlAck, Job: job, Seq: ro.Delivered()})
	})
	if err != nil {
		b.Fatal(err)
	}
	_ = sub.SetPendingLimits(-1, -1)
	var reply protocol.SubmitReply
	spec := protocol.JobSpec{ID: job, Nodes: fmt.Sprintf("n[0-%d]", agents*perShard-1), Command: "x"}
	b.ResetTimer()
	if err := wire.Request(ctx, nc, subj.Submit(testUser), protocol.TypeJobSpec, spec, &reply); err != nil || reply.Error != "" {
		b.Fatal(err, reply.Error)
	}
	var wg sync.WaitGroup
	for _, a := range fakes {
		wg.Add(1)
		go func() { defer wg.Done(); a.stream(b, perAgent) }()
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("stream did not end: %d lines", got)
	}
	b.StopTimer()
	st := co.Stats()
	b.ReportMetric(float64(got)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(st.Batches), "batches")
	if st.Duplicates != 0 || st.Gaps != 0 {
		b.Logf("duplicates %d gaps %d", st.Duplicates, st.Gaps)
	}
}

type benchAgent struct {
	nc    *nats.Conn
	id    string
	shard chan protocol.Shard
	win   *protocol.Window
	ready chan struct{}
}

func newBenchAgent(b *testing.B, srv *natstest.Server, id string) *benchAgent {
	a := &benchAgent{nc: srv.Connect(b, id), id: id, shard: make(chan protocol.Shard, 1), ready: make(chan struct{})}
	_, _ = a.nc.Subscribe(subj.Agent(id), func(m *nats.Msg) {
		s := signedShard(b, m.Data, id)
		a.win = protocol.NewWindow(s.Window)
		close(a.ready)
		_ = wire.Respond(m, protocol.TypeShardReply, protocol.ShardReply{Accepted: true})
		a.shard <- s
	})
	_, _ = a.nc.Subscribe(subj.Control(id), func(m *nats.Msg) {
		var c protocol.Control
		_ = protocol.Unmarshal(m.Data, &c)
		<-a.ready
		switch c.Kind {
		case protocol.ControlAck:
			a.win.Ack(c.Seq)
		case protocol.ControlRetransmit:
			for _, d := range a.win.From(c.Seq) {
				if err := a.nc.PublishMsg(wire.NewMsg(subj.Events(a.id, c.Job), protocol.TypeEventBatch, d)); err != nil {
					b.Error(err)
				}
			}
		}
	})
	hello := protocol.Hello{Agent: id, Name: id, Local: true, Capacity: 64}
	var w protocol.Welcome
	for try := 0; ; try++ { // the coordinator may still be subscribing
		err := wire.Request(context.Background(), a.nc, subj.Register(id), protocol.TypeHello, hello, &w)
		if err == nil {
			break
		}
		if try == 100 {
			b.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop := make(chan struct{})
	b.Cleanup(func() { close(stop) })
	go func() {
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				_ = wire.PublishJSON(a.nc, subj.Heartbeat(id), protocol.TypeHeartbeat, protocol.Heartbeat{Hello: hello})
			}
		}
	}()
	return a
}

// stream sends lines output lines spread over the shard's nodes, then
// every node's end, then the summary.
func (a *benchAgent) stream(b *testing.B, lines int) {
	s := <-a.shard
	ctx := context.Background()
	line := []byte("Linux node0042 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01) x86_64 GNU/Linux")
	send := func(recs []protocol.Event) {
		_, data, err := a.win.Send(ctx, func(seq uint64) ([]byte, error) {
			batch := protocol.EventBatch{Job: s.Job, Shard: s.ID, Attempt: s.Attempt, Agent: a.id, Seq: seq, Events: recs}
			return batch.MarshalBinary()
		})
		if err != nil {
			b.Error(err)
			return
		}
		if err := a.nc.PublishMsg(wire.NewMsg(subj.Events(a.id, s.Job), protocol.TypeEventBatch, data)); err != nil {
			b.Error(err)
		}
	}
	count := nodeset.MustParse(s.Nodes).Len()
	all := make([]uint32, count)
	for i := range all {
		all[i] = uint32(i)
	}
	send([]protocol.Event{{Kind: protocol.KindStart, Nodes: all, At: time.Now()}})
	var recs []protocol.Event
	size := 0
	for i := range lines {
		r := protocol.Event{Kind: protocol.KindStdout, Nodes: []uint32{uint32(i % count)}, Data: line}
		recs = append(recs, r)
		size += r.Size()
		if size >= s.MaxBatch {
			send(recs)
			recs, size = nil, 0
		}
	}
	recs = append(recs, protocol.Event{Kind: protocol.KindEnd, Nodes: all, State: protocol.StateExited, At: time.Now()})
	send(recs)
	sum := protocol.ShardSummary{Job: s.Job, Shard: s.ID, Attempt: s.Attempt, Agent: a.id, LastSeq: a.win.Last()}
	for {
		var r protocol.DoneReply
		if err := wire.Request(ctx, a.nc, subj.Done(a.id, s.Job), protocol.TypeShardSummary, sum, &r); err != nil {
			b.Error(err)
			return
		}
		if r.OK {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
