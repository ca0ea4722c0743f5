// Command csub runs a command on many nodes through a fleetsh fleet, with
// clush's options and output (see internal/csub).
package main

import (
	"os"

	"github.com/fleetsh/fleetsh/internal/csub"
)

func main() {
	os.Exit(csub.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}
