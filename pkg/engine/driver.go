package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// A Driver runs jobs on nodes: it is what ClusterShell calls a worker class
// (exec, ssh, openssh, rsh, pdsh). The engine decides when each job starts
// (fanout), splits its output into lines, feeds its stdin, enforces command
// timeouts and turns its outcome into events; a driver only runs one job
// and reports how it ended. Package pkg/workers holds the implementations.
//
// Run is called from its own goroutine, many at a time: a Driver must be
// safe for concurrent use.
type Driver interface {
	// Name is the name users select the driver by ("exec", "ssh", ...).
	Name() string
	// Run runs job and returns when it is over. When ctx is cancelled
	// (command timeout, abort) Run must stop the job (signal, then close),
	// and return promptly. The returned Result tells how the job ended.
	Run(ctx context.Context, job *Job) Result
}

// A Keyer is a Driver that decides itself which jobs a command over a node
// set needs: the exec driver runs one process for the whole set when the
// command holds %hosts. Drivers that are not Keyers get one job per node.
type Keyer interface {
	// Keys returns the job keys for command over nodes (in order).
	Keys(nodes []string, command string) []string
}

// A GroupDriver runs one process for a whole node set and reports per-node
// output and outcomes itself (pdsh). The engine calls RunGroup instead of
// Run, once per worker, outside the fanout (the process has its own).
type GroupDriver interface {
	Driver
	RunGroup(ctx context.Context, job *GroupJob) map[string]Result
}

// Job is one command or copy on one node.
type Job struct {
	// Node is the target node, or the key of a job that covers several.
	Node string
	// Nodes are all the nodes of the worker, and Rank the position of
	// Node among them (exec's %hosts and %n).
	Nodes []string
	Rank  int
	// Command is the shell command; empty for a copy.
	Command string
	// Copy describes a copy job; nil for a command. For a reverse copy
	// the engine has already made Dest "<dest>/<basename(source)>.<node>".
	Copy *protocol.CopySpec
	// Stdin is read by the driver and forwarded to the command; nil means
	// the command's stdin is empty (EOF at once).
	Stdin io.Reader
	// Stdout receives the command's standard output. Stderr receives its
	// standard error; when Stderr is nil, standard error goes to Stdout
	// (ClusterShell's stderr=False).
	Stdout, Stderr io.Writer
	// ConnectTimeout bounds connection set-up (0: none).
	ConnectTimeout time.Duration
	// Run must not write to Stdout or Stderr after it returns.
	// Info reads the task's info keys (ssh_options, ssh_user, ...).
	Info func(key string) (any, bool)
	// Debug, when not nil, receives debug lines (the task's print_debug).
	Debug func(line string)
	// Observe, when not nil, receives how long each stage of the job's
	// run took, for the stages the driver measures (Options.Observe). It
	// is called on the driver's goroutine and must return at once.
	Observe func(stage Stage, d time.Duration)
}

// Stage names a step of a job's run whose duration a driver reports to
// Job.Observe, once it succeeded (a failed step reports nothing: its
// node's final state says why).
type Stage string

// The stages drivers report.
const (
	// StageConnect: the transport to the node is open (the native ssh
	// driver: TCP connect, a jump host's channel or a ProxyCommand's
	// start; once per hop).
	StageConnect Stage = "connect"
	// StageAuth: the SSH handshake and authentication over that
	// transport completed (the native ssh driver; once per hop).
	StageAuth Stage = "auth"
	// StageSpawn: the local process started (the exec driver, and the
	// drivers that run one local process per node on it).
	StageSpawn Stage = "spawn"
)

// GroupJob is a command or copy run by a GroupDriver on a node set.
type GroupJob struct {
	Nodes          []string
	Command        string
	Copy           *protocol.CopySpec
	Fanout         int
	ConnectTimeout time.Duration
	CommandTimeout time.Duration
	Info           func(key string) (any, bool)
	Debug          func(line string)
	// Line delivers one line of output of a node (stream is Stdout or
	// Stderr), without its line ending.
	Line func(node string, stream Stream, line []byte)
}

// Result is how a job ended: an exit status, or an error that names why
// there is none.
type Result struct {
	// ExitCode is the exit status (128+signal for a signalled command).
	// It is meaningful when Err is nil, or when Err is a *NodeError whose
	// reason still comes with a status (ssh failures report 255 as
	// OpenSSH does).
	ExitCode int
	Err      error
}

// Stream names one output stream of a node.
type Stream uint8

// The streams of a node: two outputs, and the input OnWritten reports.
const (
	Stdout Stream = iota
	Stderr
	Stdin
)

func (s Stream) String() string {
	switch s {
	case Stderr:
		return "stderr"
	case Stdin:
		return "stdin"
	}
	return "stdout"
}

// Reason classifies why a node has no normal exit status.
type Reason string

// The reasons a node can fail, as shown to users and sent over the wire.
const (
	ReasonConnectRefused Reason = "connection refused"
	ReasonDNS            Reason = "name resolution failed"
	ReasonConnectTimeout Reason = "connect timeout"
	ReasonAuth           Reason = "authentication failed"
	ReasonHostKeyUnknown Reason = "host key unknown"
	ReasonHostKeyChanged Reason = "host key changed"
	ReasonConnect        Reason = "connection failed" // other network errors
	ReasonCommandTimeout Reason = "command timeout"
	ReasonAborted        Reason = "aborted"
	ReasonProtocol       Reason = "protocol error"
	ReasonLocal          Reason = "local error" // cannot start, bad placeholder, ...
)

// NodeError is a per-node failure with its reason. Drivers return it in a
// Result; handlers receive it in Hup events.
type NodeError struct {
	Node   string
	Reason Reason
	Err    error
}

func (e *NodeError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Node, e.Reason, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Node, e.Reason)
}

func (e *NodeError) Unwrap() error { return e.Err }

// ReasonOf returns the reason of a *NodeError in err's chain, or "".
func ReasonOf(err error) Reason {
	var ne *NodeError
	if errors.As(err, &ne) {
		return ne.Reason
	}
	return ""
}
