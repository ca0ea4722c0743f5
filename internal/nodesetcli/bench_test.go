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
