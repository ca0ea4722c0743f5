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
	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/workers/exec"
	"github.com/fleetsh/fleetsh/pkg/workers/openssh"
	"github.com/fleetsh/fleetsh/pkg/workers/pdsh"
	"github.com/fleetsh/fleetsh/pkg/workers/rsh"
	"github.com/fleetsh/fleetsh/pkg/workers/ssh"
)

// Importing this package registers every driver with the engine, as
// database/sql drivers register themselves, so that a task can select them
// by name (Task.SetDefault(engine.DefaultDistantWorkerName, "exec")) and
// engine.NewDriver builds a new one on each call: a driver keeping state
// (the native ssh driver may) is never shared by accident.
func init() {
	engine.Register(exec.Name, func() engine.Driver { return exec.New() })
	engine.Register(openssh.Name, func() engine.Driver { return openssh.New() })
	engine.Register(rsh.Name, func() engine.Driver { return rsh.New() })
	engine.Register(pdsh.Name, func() engine.Driver { return pdsh.New() })
	engine.Register(ssh.Name, func() engine.Driver { return ssh.New() })
}
