// Command csub runs a command on many nodes through a fleetsh fleet, with
// clush's options and output (see internal/csub).
//
// FLEETSH_CPUPROFILE and FLEETSH_MEMPROFILE name files to write a CPU
// and a heap profile of the run to (internal/profenv): the bench/
// scenarios use them to see where csub's time and memory go.
package main

import (
	"fmt"
	"os"

	"github.com/fleetsh/fleetsh/internal/csub"
	"github.com/fleetsh/fleetsh/internal/profenv"
)

func main() {
	stop, err := profenv.Start(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "csub:", err)
		os.Exit(1)
	}
	code := csub.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	if err := stop(); err != nil {
		fmt.Fprintln(os.Stderr, "csub:", err)
	}
	os.Exit(code)
}
