// Command clubak gathers "node: line" output from any tool on its standard
// input and prints it as clush does, with ClusterShell's clubak options and
// output (see internal/csub, clubak.go).
package main

import (
	"os"

	"github.com/fleetsh/fleetsh/internal/csub"
)

func main() {
	os.Exit(csub.ClubakMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}
