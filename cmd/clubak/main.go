// Command clubak gathers "node: line" output from any tool on its standard
// input and prints it as clush does, with ClusterShell's clubak options and
// output (see internal/csub, clubak.go).
package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/fleetsh/fleetsh/internal/csub"
)

func main() {
	// A reader that stops early (clubak -L | head) makes clubak exit
	// quietly with status 1, as ClusterShell's does, instead of dying of
	// SIGPIPE: the write then fails with EPIPE.
	signal.Ignore(syscall.SIGPIPE)
	os.Exit(csub.ClubakMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}
