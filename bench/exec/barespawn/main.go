// Command barespawn spawns -n processes of "/bin/sh -c COMMAND", -fanout
// at a time, with nothing else around them: the floor that csub -R exec
// is compared with in the exec bench scenario (integration/bench_exec_test.go,
// bench/exec/run.sh).
//
// Each process is started as csub's exec driver starts one
// (pkg/workers/exec.Process): os/exec, the same shell, its own process
// group, three pipes (standard input, whose write end is closed at once as
// for an empty input, standard output and standard error), a goroutine
// draining each output pipe with 64 KiB reads, and a wait for both the
// process's exit and the pipes' end of file. What the driver adds on top
// (the engine's scheduling, line splitting, results, the in-process
// fleet's messages) is what the comparison measures.
//
// It prints "N spawned, F failed, WALL" on standard output and exits 1
// when any process could not be started or did not exit 0.
//
//	barespawn -n 10000 -fanout 64 [-c true]
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// shell is the exec driver's shell (pkg/workers/exec.Shell).
const shell = "/bin/sh"

func main() {
	n := flag.Int("n", 1000, "number of processes to spawn")
	fanout := flag.Int("fanout", 64, "processes running at once")
	command := flag.String("c", "true", "command given to "+shell+" -c")
	flag.Parse()
	if *n < 0 || *fanout < 1 {
		fmt.Fprintln(os.Stderr, "barespawn: -n must be >= 0 and -fanout >= 1")
		os.Exit(2)
	}
	began := time.Now()
	failed, err := run(*n, *fanout, *command)
	if err != nil {
		fmt.Fprintln(os.Stderr, "barespawn:", err)
	}
	fmt.Printf("%d spawned, %d failed, %v\n", *n, failed, time.Since(began).Round(time.Millisecond))
	if failed > 0 {
		os.Exit(1)
	}
}

// run spawns n processes of command, fanout at a time, and returns how
// many failed and the first failure.
func run(n, fanout int, command string) (failed int64, first error) {
	var (
		count atomic.Int64
		once  sync.Once
		wg    sync.WaitGroup
	)
	slots := make(chan struct{}, fanout)
	for range n {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			if err := spawn(command); err != nil {
				count.Add(1)
				once.Do(func() { first = err })
			}
		}()
	}
	wg.Wait()
	return count.Load(), first
}

// spawn runs one "/bin/sh -c command" to its end, draining its output.
func spawn(command string) error {
	cmd := exec.Command(shell, "-c", command)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	inR, inW, err := os.Pipe()
	if err != nil {
		return err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		outR.Close()
		outW.Close()
		return err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	err = cmd.Start()
	// The child holds its ends now (or never will).
	inR.Close()
	outW.Close()
	errW.Close()
	inW.Close() // an empty standard input
	if err != nil {
		outR.Close()
		errR.Close()
		return fmt.Errorf("start: %w", err)
	}
	var drained sync.WaitGroup
	for _, r := range []*os.File{outR, errR} {
		drained.Add(1)
		go func() {
			defer drained.Done()
			buf := make([]byte, 64<<10)
			for {
				if _, err := r.Read(buf); err != nil {
					if err != io.EOF {
						fmt.Fprintln(os.Stderr, "barespawn: read:", err)
					}
					return
				}
			}
		}()
	}
	werr := cmd.Wait()
	drained.Wait()
	outR.Close()
	errR.Close()
	if werr != nil {
		return fmt.Errorf("%s -c %q: %w", shell, command, werr)
	}
	return nil
}
