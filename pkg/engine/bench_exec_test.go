package engine_test

import (
	"testing"

	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/workers/exec"
)

// BenchmarkExecTrue10k runs `true` on 10 000 nodes with the exec driver
// at the default fanout: the engine's cost per node plus a process spawn.
// Compare with BenchmarkEngineOverhead (no process) to see the engine's
// share. Run: go test -run '^$' -bench ExecTrue10k -benchtime 1x ./pkg/engine
func BenchmarkExecTrue10k(b *testing.B) {
	nodes := nodeset.MustParse("node[1-10000]")
	b.ReportAllocs()
	for b.Loop() {
		task := engine.New()
		if _, err := task.Run("true", engine.Options{Nodes: nodes, Driver: exec.New()}); err != nil {
			b.Fatal(err)
		}
		if rc, ok := task.MaxRetcode(); !ok || rc != 0 {
			b.Fatalf("max rc %d %v", rc, ok)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10000, "ns/node")
}
