// Package profenv writes Go runtime profiles of a whole command run when
// the environment asks for them, so that a benchmark can see where a
// fleetsh command's time and memory go without rebuilding it:
//
//	FLEETSH_CPUPROFILE=FILE  CPU profile from Start to the stop function
//	FLEETSH_MEMPROFILE=FILE  heap profile written by the stop function:
//	                         allocations over the whole run (alloc_space)
//	                         and what was live at the last GC
//	                         (inuse_space)
//
// Read them with `go tool pprof BINARY FILE`. A command that leaves by
// os.Exit before its stop function runs (an interrupt) writes no heap
// profile and a truncated CPU profile. csub honours them (cmd/csub).
package profenv

import (
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
)

// The environment variables Start reads.
const (
	CPUEnv = "FLEETSH_CPUPROFILE"
	MemEnv = "FLEETSH_MEMPROFILE"
)

// Start starts the CPU profile getenv(CPUEnv) names, if any, and returns
// the function that stops it and writes the heap profile getenv(MemEnv)
// names, if any. With neither set it does nothing.
func Start(getenv func(string) string) (stop func() error, err error) {
	var cpu *os.File
	if path := getenv(CPUEnv); path != "" {
		if cpu, err = os.Create(path); err != nil {
			return nil, fmt.Errorf("%s: %w", CPUEnv, err)
		}
		if err = pprof.StartCPUProfile(cpu); err != nil {
			cpu.Close()
			return nil, fmt.Errorf("%s: %w", CPUEnv, err)
		}
	}
	memPath := getenv(MemEnv)
	return func() error {
		var err error
		if cpu != nil {
			pprof.StopCPUProfile()
			if cerr := cpu.Close(); cerr != nil {
				err = fmt.Errorf("%s: %w", CPUEnv, cerr)
			}
		}
		if memPath != "" {
			err = errors.Join(err, writeHeap(memPath))
		}
		return err
	}, nil
}

// writeHeap writes the heap profile to path.
func writeHeap(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("%s: %w", MemEnv, err)
	}
	err = pprof.Lookup("heap").WriteTo(f, 0)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", MemEnv, err)
	}
	return nil
}
