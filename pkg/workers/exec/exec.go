// Package exec is the exec driver: it runs commands and copies on this
// machine, one process per node, as ClusterShell's ExecWorker does
// (clush -R exec). It is also the base of the other process-based drivers
// (openssh, rsh, pdsh), which start their programs with Process and share
// its placeholder, argument and info helpers.
//
// A command runs as "/bin/sh -c <command>" after the exec placeholders are
// replaced (see Substitute): "echo %h rank=%n" prints each node's name and
// rank. A command holding %hosts runs once for the whole node set, keyed
// by the folded set (see Driver.Keys). A node name with shell syntax in it
// is quoted where it lands, so that it cannot run anything (ClusterShell
// inserts it as it is); usual names are inserted byte for byte. A copy
// runs "cp [-r] [-p] src dst", with names inserted as they are (no shell
// reads them).
package exec

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Name is the name users select the exec driver by.
const Name = "exec"

// Shell is the shell commands run with, as Python's Popen(shell=True).
const Shell = "/bin/sh"

// Driver is the exec driver. Its zero value is ready to use and it is safe
// for concurrent use.
type Driver struct{}

// New returns an exec driver.
func New() *Driver { return &Driver{} }

var (
	_ engine.Driver = (*Driver)(nil)
	_ engine.Keyer  = (*Driver)(nil)
)

// Name returns "exec".
func (*Driver) Name() string { return Name }

// Keys returns one key per node, except for a command holding %hosts
// (RunsOnce), which gets a single key: the nodes folded into a node set
// string ("node[1-5]"), the value %hosts and %h then take. The engine
// reports that one job's output and exit status for every node, as
// ClusterShell does.
func (*Driver) Keys(nodes []string, command string) []string {
	if len(nodes) == 0 {
		return nil
	}
	if RunsOnce(command) {
		return []string{Fold(nodes)}
	}
	return append([]string(nil), nodes...)
}

// Fold returns nodes as one folded node set string, as ClusterShell's
// str(NodeSet(nodes)); names that do not parse as node names are joined
// with commas instead.
func Fold(nodes []string) string {
	ns := nodeset.New()
	for _, n := range nodes {
		if err := ns.AddNode(n); err != nil {
			return strings.Join(nodes, ",")
		}
	}
	return ns.String()
}

// Run runs job on this machine: its command through /bin/sh, or its copy
// through cp. See Process.Run for streams, cancellation and exit codes.
//
// A '%' that is not a placeholder fails the job before anything runs with
// a *engine.NodeError of ReasonLocal, exit code 1, wrapping a
// *PlaceholderError whose message is ClusterShell's. clush prints that
// message once ("clush: ...") and exits 1 without running anything; a
// front end that wants the same output checks the command with Validate
// first, or stops at the first PlaceholderError (errors.As).
func (d *Driver) Run(ctx context.Context, job *engine.Job) engine.Result {
	node, rank := job.Node, job.Rank
	if job.Copy != nil {
		return d.copy(ctx, job, node, rank)
	}
	if RunsOnce(job.Command) {
		// ClusterShell's single client has the node set as key and no
		// rank ("rank or 0").
		if len(job.Nodes) > 0 {
			node = Fold(job.Nodes)
		}
		rank = 0
	}
	cmdline, err := Substitute(job.Command, node, rank)
	if err != nil {
		return LocalError(job.Node, fmt.Errorf("command: %w", err))
	}
	if job.Debug != nil {
		job.Debug("EXECCLIENT: " + cmdline)
	}
	p := &Process{
		Args:    []string{Shell, "-c", cmdline},
		Stdin:   job.Stdin,
		Stdout:  job.Stdout,
		Stderr:  job.Stderr,
		Observe: job.Observe,
	}
	return p.Run(ctx, job.Node)
}

// copy runs "cp [-r] [-p] src dst" after placeholder substitution in both
// paths, as ClusterShell's CopyClient. -r is given when the source is a
// directory.
//
// ClusterShell 1.9.1 gets reverse copies wrong with this worker: it runs
// "cp -r <dest> <source>", arguments swapped and without the ".<node>"
// suffix (observed: "cp: cannot overwrite non-directory ... with
// directory"). Here a reverse copy copies Source to the Dest the engine
// computed ("<dest>/<basename(source)>.<node>"), which is what --rcopy
// means: every "node" is this machine, so each gets its own copy.
func (d *Driver) copy(ctx context.Context, job *engine.Job, node string, rank int) engine.Result {
	spec := job.Copy
	src, err := SubstitutePath(spec.Source, node, rank)
	if err != nil {
		return LocalError(job.Node, fmt.Errorf("copy source: %w", err))
	}
	dst, err := SubstitutePath(spec.Dest, node, rank)
	if err != nil {
		return LocalError(job.Node, fmt.Errorf("copy destination: %w", err))
	}
	args := CopyArgs(src, dst, isDir(src), spec.Preserve)
	if job.Debug != nil {
		job.Debug("COPYCLIENT: " + strings.Join(args, " "))
	}
	p := &Process{Args: args, Stdout: job.Stdout, Stderr: job.Stderr, Observe: job.Observe}
	return p.Run(ctx, job.Node)
}

// CopyArgs returns ClusterShell's local copy command line:
// "cp [-r] [-p] src dst".
func CopyArgs(src, dst string, recursive, preserve bool) []string {
	return append(append([]string{"cp"}, copyFlags(recursive, preserve)...), src, dst)
}

// RemoteCopyFlags returns the "[-r] [-p]" of the command line of a copy
// to or from a node, as ClusterShell's rcp, scp and pdcp clients give
// them: -r for a reverse copy (ClusterShell tests whether the local
// destination directory is a directory, which it always is) or a source
// that is a directory, -p with Preserve.
func RemoteCopyFlags(spec *protocol.CopySpec) []string {
	return copyFlags(spec.Reverse || isDir(spec.Source), spec.Preserve)
}

// copyFlags is the "[-r] [-p]" every copy command line has.
func copyFlags(recursive, preserve bool) []string {
	var flags []string
	if recursive {
		flags = append(flags, "-r")
	}
	if preserve {
		flags = append(flags, "-p")
	}
	return flags
}

// CopyOperands returns the source and destination words of a copy to or
// from a node, remote ("node:", "user@[node]:") prefixed to the node's
// side: the source of a reverse copy, the destination otherwise.
func CopyOperands(spec *protocol.CopySpec, remote string) []string {
	if spec.Reverse {
		return []string{remote + spec.Source, spec.Dest}
	}
	return []string{spec.Source, remote + spec.Dest}
}

// isDir is Python's os.path.isdir, which ClusterShell uses to add -r:
// true for a directory or a symbolic link to one, false for anything
// else, errors included.
func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
