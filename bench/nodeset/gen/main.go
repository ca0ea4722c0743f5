// Command gen writes the inputs of bench/nodeset/run.sh into a directory.
//
// The inputs are generated rather than checked in because they are large
// (the 1M-name file is ~12 MB) and cheap to rebuild; a fixed seed keeps
// every run of the benchmark on the same data.
//
//	go run ./bench/nodeset/gen -out DIR
//
// Files written:
//
//	fold1d-100k.txt   100 000 distinct 1D names, shuffled, one per line. The
//	                  indexes are drawn from a range 30% larger so that the
//	                  folded result is fragmented (a contiguous range would
//	                  only measure parsing), and a tenth of them use a
//	                  second, zero-padded prefix.
//	fold2d-50k.txt    every name of r[1-50]n[1-1000], shuffled (50 000).
//	fold1d-1m.txt     1 000 000 distinct 1D names, shuffled, same shape as
//	                  the 100k file.
//	xa.args, xb.args  two ~100 000-node sets written as folded but
//	                  fragmented expressions (runs of 1 to 40 nodes with
//	                  gaps, mostly overlapping), split into chunks of at
//	                  most 64 KiB, one chunk per line: Linux caps a single
//	                  argv string at 128 KiB, so run.sh passes each chunk as
//	                  its own argument (nodeset unions them).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

func main() {
	out := flag.String("out", "", "directory to write the inputs into")
	seed := flag.Uint64("seed", 20240501, "random seed")
	flag.Parse()
	if *out == "" {
		log.Fatal("gen: -out DIR is required")
	}
	r := rand.New(rand.NewPCG(*seed, *seed))

	writeLines(filepath.Join(*out, "fold1d-100k.txt"), names1D(r, 100_000))
	writeLines(filepath.Join(*out, "fold1d-1m.txt"), names1D(r, 1_000_000))

	var grid []string
	for rack := 1; rack <= 50; rack++ {
		for n := 1; n <= 1000; n++ {
			grid = append(grid, "r"+strconv.Itoa(rack)+"n"+strconv.Itoa(n))
		}
	}
	r.Shuffle(len(grid), func(i, j int) { grid[i], grid[j] = grid[j], grid[i] })
	writeLines(filepath.Join(*out, "fold2d-50k.txt"), grid)

	a := fragmented(r, 1, 100_000)
	b := fragmented(r, 20_000, 100_000)
	writeLines(filepath.Join(*out, "xa.args"), chunks("node", a, 64<<10))
	writeLines(filepath.Join(*out, "xb.args"), chunks("node", b, 64<<10))
}

// names1D returns n distinct shuffled names: 90% nodeN, 10% gpu-NNNNNN
// (zero padded), indexes drawn from a range 30% larger than needed.
func names1D(r *rand.Rand, n int) []string {
	span := n + n*3/10
	perm := r.Perm(span)[:n]
	names := make([]string, n)
	for i, v := range perm {
		if v%10 == 0 {
			names[i] = fmt.Sprintf("gpu-%06d", v)
		} else {
			names[i] = "node" + strconv.Itoa(v+1)
		}
	}
	return names
}

// fragmented returns about count sorted indexes starting near start, laid
// out as runs of 1..40 separated by gaps of 1..12.
func fragmented(r *rand.Rand, start, count int) []int {
	var out []int
	v := start
	for len(out) < count {
		run := 1 + r.IntN(40)
		for k := 0; k < run && len(out) < count; k++ {
			out = append(out, v)
			v++
		}
		v += 1 + r.IntN(12)
	}
	return out
}

// chunks folds sorted indexes into prefix[a-b,c,...] expressions of at most
// max bytes each.
func chunks(prefix string, idx []int, max int) []string {
	sort.Ints(idx)
	var (
		out    []string
		pieces []string
		size   int
	)
	flush := func() {
		if len(pieces) > 0 {
			out = append(out, prefix+"["+strings.Join(pieces, ",")+"]")
			pieces, size = nil, 0
		}
	}
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		p := strconv.Itoa(idx[i])
		if j > i {
			p += "-" + strconv.Itoa(idx[j])
		}
		if size+len(p)+len(prefix)+3 > max {
			flush()
		}
		pieces = append(pieces, p)
		size += len(p) + 1
		i = j + 1
	}
	flush()
	return out
}

func writeLines(path string, lines []string) {
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for _, l := range lines {
		w.WriteString(l)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}
