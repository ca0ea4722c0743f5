// Command wall times a command for bench/nodeset/run.sh: it runs it a
// number of times, after warm-up runs, and prints the fastest and the
// median wall time in seconds.
//
//	wall [-n RUNS] [-warmup RUNS] [-in FILE] [-out FILE] -- COMMAND [ARG...]
//
// Why not bash's clock around the command: bash starts a command with
// fork(2), which copies the page tables of the shell (run.sh's shell holds
// the -x row's 120 KB of arguments several times over) and leaves both
// processes to take copy-on-write page faults. On the benchmark's virtual
// machine a page fault costs 10-20 µs, so that adds 5-8 ms to every run:
// as much as our whole -x row, and nothing of it is the command's. wall
// starts the command as os/exec does (clone with CLONE_VFORK, like
// posix_spawn and hyperfine), so the time is the command's own start-up
// and work. Both CLIs are timed the same way.
//
// Wall time runs from just before the start to the end of the wait. The
// command's standard input is read from -in (default /dev/null) and its
// standard output written to -out (default /dev/null), truncated before
// each run; its standard error is shown if it fails, and wall then exits
// with status 1.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"time"
)

func main() {
	runs := flag.Int("n", 3, "timed runs")
	warmup := flag.Int("warmup", 1, "untimed runs first (page cache, CPU frequency)")
	in := flag.String("in", os.DevNull, "file to give the command as standard input")
	out := flag.String("out", os.DevNull, "file to write the command's standard output to")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: wall [-n RUNS] [-warmup RUNS] [-in FILE] [-out FILE] -- COMMAND [ARG...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 || *runs < 1 || *warmup < 0 {
		flag.Usage()
		os.Exit(2)
	}
	errf, err := os.CreateTemp("", "wall-stderr-*")
	if err != nil {
		fmt.Fprintf(os.Stderr, "wall: %v\n", err)
		os.Exit(1)
	}
	defer os.Remove(errf.Name())
	times := make([]time.Duration, 0, *runs)
	for i := 0; i < *warmup+*runs; i++ {
		d, err := runOnce(flag.Args(), *in, *out, errf)
		if err != nil {
			fmt.Fprintf(os.Stderr, "wall: %v\n", err)
			os.Remove(errf.Name())
			os.Exit(1)
		}
		if i >= *warmup {
			times = append(times, d)
		}
	}
	slices.Sort(times)
	fmt.Printf("%.4f %.4f\n", times[0].Seconds(), times[len(times)/2].Seconds())
}

// runOnce runs argv once and returns its wall time; errf receives the
// command's standard error (a file, like the others, so that no goroutine
// of ours copies a pipe while the command runs).
func runOnce(argv []string, in, out string, errf *os.File) (time.Duration, error) {
	stdin, err := os.Open(in)
	if err != nil {
		return 0, err
	}
	defer stdin.Close()
	stdout, err := os.Create(out)
	if err != nil {
		return 0, err
	}
	defer stdout.Close()
	if err := errf.Truncate(0); err != nil {
		return 0, err
	}
	if _, err := errf.Seek(0, 0); err != nil {
		return 0, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, errf
	t0 := time.Now()
	err = cmd.Run()
	d := time.Since(t0)
	if err != nil {
		msg, _ := os.ReadFile(errf.Name())
		return 0, fmt.Errorf("%s: %v\n%s", argv[0], err, msg)
	}
	return d, nil
}
