package coordinator

import (
	"runtime"
	"testing"

	"github.com/fleetsh/fleetsh/internal/natstest"
	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// BenchmarkJobMemory measures the memory a job holds in the coordinator
// per node while it is in the registry (its node names, states, owners
// and the final records kept for attach), for the 18-byte spec of issue
// 12 scaled down: every node is planned with no agent serving it, so
// each ends "no agent" and the job stays, complete, for KeepJobs; in the
// each-ends-alone case every node ends first in a record of its own, as
// when each exits with its own status (the most a job's final records
// keep). Measured on the 2-core CI machine: 46-53 B/node, 343 B/node.
//
//	go test -run '^$' -bench JobMemory -benchtime 3x ./pkg/fleet/coordinator
func BenchmarkJobMemory(b *testing.B) {
	for _, tc := range []struct {
		spec string
		each bool // every node ends in a record of its own (different exit codes)
	}{{"a[1-100]b[1-1000]", false}, {"node[1-100000]", false}, {"node[1-100000]", true}} {
		name := tc.spec
		if tc.each {
			name += "/each-ends-alone"
		}
		b.Run(name, func(b *testing.B) {
			var perNode float64
			for i := range b.N {
				co, err := New(nil, Config{Logger: natstest.Logger(b)})
				if err != nil {
					b.Fatal(err)
				}
				before := testutil.HeapInUse()
				j, err := co.accept(protocol.JobSpec{ID: "mem" + string(rune('a'+i%26)), Nodes: tc.spec})
				if err != nil {
					b.Fatal(err)
				}
				if tc.each {
					j.mu.Lock()
					for n := range j.nodes {
						j.finish(uint32(n), protocol.StateExited, n%256, "")
					}
					j.mu.Unlock()
				}
				co.plan(j)
				held := testutil.HeapInUse() - before
				perNode = float64(held) / float64(len(j.nodes))
				runtime.KeepAlive(co)
			}
			b.ReportMetric(perNode, "B/node")
		})
	}
}
