// Package workers selects a driver by the name users give it (clush -R,
// csub's equivalent, the distant_worker and local_worker defaults):
//
//	exec     commands and copies run on this machine (pkg/workers/exec)
//	ssh      native SSH client, golang.org/x/crypto/ssh (pkg/workers/ssh)
//	openssh  the OpenSSH ssh and scp programs (pkg/workers/openssh)
//	rsh      rsh and rcp (pkg/workers/rsh)
//	pdsh     one pdsh, pdcp or rpdcp process per node set (pkg/workers/pdsh)
//
// The drivers live in their own packages so that a program that needs one
// does not link the others; this package links them all.
package workers

import (
	"fmt"
	"slices"
	"strings"

	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/workers/exec"
	"github.com/fleetsh/fleetsh/pkg/workers/openssh"
	"github.com/fleetsh/fleetsh/pkg/workers/pdsh"
	"github.com/fleetsh/fleetsh/pkg/workers/rsh"
	"github.com/fleetsh/fleetsh/pkg/workers/ssh"
)

// drivers maps each name to its constructor. New calls it every time, so
// that a driver keeping state (the native ssh driver may) is never shared
// by accident.
var drivers = map[string]func() engine.Driver{
	exec.Name:    func() engine.Driver { return exec.New() },
	openssh.Name: func() engine.Driver { return openssh.New() },
	rsh.Name:     func() engine.Driver { return rsh.New() },
	pdsh.Name:    func() engine.Driver { return pdsh.New() },
	ssh.Name:     func() engine.Driver { return ssh.New() },
}

// New returns a new driver of the given name (see Names). An unknown name
// is an error that lists the known ones.
func New(name string) (engine.Driver, error) {
	if ctor, ok := drivers[name]; ok {
		return ctor(), nil
	}
	return nil, fmt.Errorf("unknown worker %q (known: %s)", name, strings.Join(Names(), ", "))
}

// Importing this package registers every driver with the engine, as
// database/sql drivers register themselves, so that a task can select them
// by name (Task.SetDefault(engine.DefaultDistantWorkerName, "exec")).
func init() {
	for name, ctor := range drivers {
		engine.Register(name, ctor)
	}
}

// Names returns the names New accepts, sorted.
func Names() []string {
	names := make([]string, 0, len(drivers))
	for n := range drivers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
