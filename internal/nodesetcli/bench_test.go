package nodesetcli

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// BenchmarkFoldStdin measures "nodeset -f" reading 100 000 shuffled names
// from standard input, the first row of bench/nodeset.
func BenchmarkFoldStdin(b *testing.B) {
	names := make([]string, 100_000)
	for i := range names {
		names[i] = fmt.Sprintf("node%d", i+1)
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	input := strings.Join(names, "\n") + "\n"
	b.ReportAllocs()
	for b.Loop() {
		var out bytes.Buffer
		if rc := Main([]string{"-f"}, strings.NewReader(input), &out, io.Discard, os.Getenv); rc != 0 || out.String() != "node[1-100000]\n" {
			b.Fatalf("rc=%d out=%q", rc, out.String())
		}
	}
}

// fragmentedArg returns about count indexes from start as one folded
// "node[...]" expression of runs of 1..40 separated by gaps of 1..12, the
// shape of the xa/xb inputs of bench/nodeset.
func fragmentedArg(r *rand.Rand, start, count int) string {
	var sb strings.Builder
	sb.WriteString("node[")
	v, n := start, 0
	for n < count {
		run := min(1+r.IntN(40), count-n)
		if n > 0 {
			sb.WriteByte(',')
		}
		if run == 1 {
			fmt.Fprintf(&sb, "%d", v)
		} else {
			fmt.Fprintf(&sb, "%d-%d", v, v+run-1)
		}
		v += run + 1 + r.IntN(12)
		n += run
	}
	sb.WriteByte(']')
	return sb.String()
}

// BenchmarkExcludeArgs measures "nodeset -f A -x B" on two fragmented
// 100 000-node sets given as arguments, the "-x" row of bench/nodeset.
// It covers only the work done in-process: the row's wall time also
// includes starting the process (see bench/nodeset/RESULTS.md).
func BenchmarkExcludeArgs(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	args := []string{"-f", fragmentedArg(r, 1, 100_000), "-x", fragmentedArg(r, 20_000, 100_000)}
	b.ReportAllocs()
	for b.Loop() {
		if rc := Main(args, strings.NewReader(""), io.Discard, io.Discard, os.Getenv); rc != 0 {
			b.Fatalf("rc=%d", rc)
		}
	}
}
