// Command nodeset folds, expands, counts and combines node sets, flag for
// flag and byte for byte like ClusterShell's nodeset.
package main

import (
	"os"

	"github.com/fleetsh/fleetsh/internal/nodesetcli"
)

func main() {
	os.Exit(nodesetcli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}
