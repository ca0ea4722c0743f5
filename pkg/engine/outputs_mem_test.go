package engine_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/fleetsh/fleetsh/internal/testutil"
	"github.com/fleetsh/fleetsh/pkg/engine"
)

// TestOutputsMemory checks the memory target on the store alone:
// distinct outputs cost at most their size plus a tenth once ended.
func TestOutputsMemory(t *testing.T) {
	const nodes, lines = 20, 20000
	before := testutil.HeapInUse()
	var o engine.Outputs[int]
	size := 0
	line := make([]byte, 0, 16)
	for i := range lines {
		for k := range nodes {
			line = fmt.Appendf(line[:0], "n%d %d", k, 1000000+i)
			o.Add(k, line)
			size += len(line) + 1
		}
	}
	for k := range nodes {
		o.End(k)
	}
	held := testutil.HeapInUse() - before
	runtime.KeepAlive(&o)
	if held > uint64(size)*11/10 {
		t.Errorf("%d bytes of output held in %d bytes", size, held)
	}
}

// BenchmarkGather compares what MsgTree and Outputs hold for 50 nodes
// of 20 000 distinct lines of 12 bytes (a tenth of the case).
func BenchmarkGather(b *testing.B) {
	const nodes, lines = 50, 20000
	run := func(b *testing.B, add func(k int, line []byte), end func(k int)) {
		line := make([]byte, 0, 16)
		size := 0
		before := testutil.HeapInUse()
		for i := range lines {
			for k := range nodes {
				line = fmt.Appendf(line[:0], "n%d %d", k, 1000000+i)
				add(k, line)
				size += len(line) + 1
			}
		}
		for k := range nodes {
			end(k)
		}
		b.ReportMetric(float64(testutil.HeapInUse()-before)/float64(size), "heap/output")
	}
	b.Run("MsgTree", func(b *testing.B) {
		for range b.N {
			var tr engine.MsgTree[int]
			run(b, tr.Add, func(int) {})
			runtime.KeepAlive(&tr)
		}
	})
	b.Run("Outputs", func(b *testing.B) {
		for range b.N {
			var o engine.Outputs[int]
			run(b, o.Add, o.End)
			runtime.KeepAlive(&o)
		}
	})
}
