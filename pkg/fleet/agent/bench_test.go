package agent

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// BenchmarkAgentLines measures lines per second from the engine's
// commands to a coordinator over a real NATS server: 8 nodes print 100 000
// lines of 60 bytes each (exec driver), the coordinator acks every batch.
//
//	go test -run '^$' -bench AgentLines ./pkg/fleet/agent
func BenchmarkAgentLines(b *testing.B) {
	const nodes, lines = 8, 100000
	_, c, a := fleet(b, Config{Capacity: nodes, MaxBuffered: 8 << 20})
	cmd := fmt.Sprintf(`seq -f '%%%%059g' 1 %d`, lines)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		sh := shardOf(fmt.Sprintf("bench%d", i), names("b", nodes), protocol.JobSpec{Command: cmd})
		r := c.run(a, sh)
		if r.summary.Finals[protocol.StateExited] != nodes {
			b.Fatalf("finals %v", r.summary.Finals)
		}
	}
	el := time.Since(start).Seconds()
	b.ReportMetric(float64(b.N*nodes*lines)/el, "lines/s")
	b.ReportMetric(float64(c.bytes.Load())/el/(1<<20), "MiB/s")
}

// BenchmarkBufferEncode measures the agent's own cost per line: buffer,
// batch cut and binary encoding, without processes or NATS.
func BenchmarkBufferEncode(b *testing.B) {
	buf := newBuffer(protocol.DefaultMaxBatch, 8<<20, false)
	line := []byte("0000000000000000000000000000000000000000000000000000000012345")
	idx := [][]uint32{{0}, {1}, {2}, {3}}
	keys := []string{"n0", "n1", "n2", "n3"}
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	var seq uint64
	for i := 0; i < b.N; i++ {
		k := (i >> 4) & 3 // 16 lines of a node in a row, as engine bursts come
		buf.line(keys[k], idx[k], protocol.KindStdout, line)
		if i%1000 == 999 {
			for {
				recs, _ := buf.take(true)
				if len(recs) == 0 {
					break
				}
				seq++
				eb := protocol.EventBatch{Job: "j", Shard: "s", Attempt: 1, Agent: "a", Seq: seq, Events: recs}
				if _, err := eb.MarshalBinary(); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}

// BenchmarkBufferGather measures what gathering (clush -b) holds and costs
// per line: 64 running nodes print 1000 lines of 60 bytes, the same on
// every node ("same") or a node's own ("distinct"), then end; held-B is
// the heap the running nodes' gathered output takes just before they end.
//
//	go test -run '^$' -bench BufferGather -benchmem ./pkg/fleet/agent
func BenchmarkBufferGather(b *testing.B) {
	const nodes, lines = 64, 1000
	for _, distinct := range []bool{false, true} {
		name := "same"
		if distinct {
			name = "distinct"
		}
		b.Run(name, func(b *testing.B) {
			keys := names("n", nodes)
			held := 0.0
			for range b.N {
				buf := newBuffer(protocol.DefaultMaxBatch, 64<<20, true)
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				for l := range lines {
					for n, k := range keys {
						line := fmt.Appendf(nil, "%059d", l)
						if distinct {
							line = fmt.Appendf(nil, "%03d%056d", n, l)
						}
						buf.line(k, []uint32{uint32(n)}, protocol.KindStdout, line)
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				held += float64(after.HeapAlloc) - float64(before.HeapAlloc)
				for n, k := range keys {
					buf.end(k, []uint32{uint32(n)}, protocol.Event{State: protocol.StateExited})
				}
				buf.close()
				takeAll(buf)
				runtime.KeepAlive(buf)
			}
			b.ReportMetric(held/float64(b.N), "held-B")
		})
	}
}

// BenchmarkStartBatches counts the event batches a shard of short
// commands sends per node: with the start gate, each start must reach
// the coordinator before its command runs, and starts picked while
// others are in flight share the next batch.
//
//	go test -run '^$' -bench StartBatches ./pkg/fleet/agent
func BenchmarkStartBatches(b *testing.B) {
	const nodes = 400
	_, c, a := fleet(b, Config{Capacity: 64, Worker: "exec"})
	batches := 0
	for i := 0; i < b.N; i++ {
		sh := shardOf(fmt.Sprintf("starts%d", i), names("s", nodes), protocol.JobSpec{Command: "true"})
		r := c.run(a, sh)
		if r.summary.Finals[protocol.StateExited] != nodes {
			b.Fatalf("finals %v", r.summary.Finals)
		}
		batches += len(r.batches)
	}
	b.ReportMetric(float64(batches)/float64(b.N*nodes), "batches/node")
}
