package agent

import (
	"fmt"
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
		r := c.run(a, sh, time.Minute)
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
