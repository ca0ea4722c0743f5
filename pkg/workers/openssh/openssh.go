// Package openssh is the openssh driver: it runs the OpenSSH ssh and scp
// programs, one process per node, with the command lines ClusterShell's
// WorkerSsh builds (its default distant worker), so that everything the
// user's ssh configuration does (ProxyJump, ControlMaster, Kerberos,
// agents, ~/.ssh/config) works as it does with clush.
//
// Info keys: ssh_path, ssh_user, ssh_options, scp_path, scp_user and
// scp_options, read as ClusterShell reads them (paths and options are
// split like a shell would, with Python's shlex, and "~" is expanded in
// every word). The connect timeout comes from the job.
//
// OpenSSH's own error lines ("ssh: connect to host ... Connection
// refused") reach the job's stderr unchanged, as with clush; the driver
// also reads them to give the failure a reason (see Classify).
package openssh

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/workers/exec"
)

// Name is the name users select the openssh driver by.
const Name = "openssh"

// ExitSSHError is the status ssh exits with when ssh itself fails
// (connection, authentication, host key), as opposed to the remote
// command's own status.
const ExitSSHError = 255

// Driver is the openssh driver. Its zero value is ready to use and it is
// safe for concurrent use.
type Driver struct{}

// New returns an openssh driver.
func New() *Driver { return &Driver{} }

var _ engine.Driver = (*Driver)(nil)

// Name returns "openssh".
func (*Driver) Name() string { return Name }

// Run runs job's command with ssh, or its copy with scp, and returns the
// exit status of the remote command or copy. See exec.Process.Run for
// streams, cancellation and exit codes.
//
// When ssh exits with 255 and printed one of OpenSSH's failure messages
// the result also carries a *engine.NodeError with its reason and the
// message, the exit code staying 255 as OpenSSH reports it. scp has no
// such status of its own (it exits 1 for any failure), so for a copy any
// non-zero status with such a message gets the reason. With merged streams
// the remote command's own output is read too: a command that prints
// "Connection refused" and exits 255 is taken for an ssh failure, as a
// user reading the output would.
func (d *Driver) Run(ctx context.Context, job *engine.Job) engine.Result {
	args, err := exec.CommandLine(job, Args, "SSHCLIENT", "SCPCLIENT")
	if err != nil {
		return exec.LocalError(job.Node, err)
	}
	var cl classifier
	p := &exec.Process{Args: args, Stdout: job.Stdout, Stderr: job.Stderr, Observe: job.Observe}
	if job.Copy == nil {
		p.Stdin = job.Stdin
	}
	// ssh's messages go to its stderr, which is the job's stdout when the
	// streams are merged: watch whichever stream receives them.
	var filter *exec.LineFilter
	switch {
	case job.Stderr != nil:
		filter = &exec.LineFilter{W: job.Stderr, Keep: cl.keep}
		p.Stderr = filter
	case job.Stdout != nil:
		filter = &exec.LineFilter{W: job.Stdout, Keep: cl.keep}
		p.Stdout = filter
	}
	res := p.Run(ctx, job.Node)
	if filter != nil {
		filter.Flush() // a write error of the job's writer is the engine's
	}
	if res.Err != nil {
		return res
	}
	if res.ExitCode == ExitSSHError || (job.Copy != nil && res.ExitCode != 0) {
		if reason, msg := cl.result(); reason != "" {
			res.Err = &engine.NodeError{Node: job.Node, Reason: reason, Err: errors.New(msg)}
		}
	}
	return res
}

// Args returns the ssh or scp command line ClusterShell 1.9's SshClient or
// ScpClient would run for job:
//
//	ssh [ssh_options] -oForwardAgent=no -oForwardX11=no [-l user] [-oConnectTimeout=N] -oBatchMode=yes node command
//	scp [scp_options|ssh_options] [-r] [-p] [-oConnectTimeout=N] source [user@][node]:dest
//	scp [scp_options|ssh_options] -r [-p] [-oConnectTimeout=N] [user@][node]:source dest
//
// Custom options come first because ssh keeps the first value it gets for
// an option, so users can override the hardwired ones. The command is
// passed as one argument, with no placeholder substitution (ClusterShell
// does none for ssh). N is the job's ConnectTimeout in whole seconds (see
// exec.Seconds).
//
// A reverse copy always has -r, as in ClusterShell (it tests whether the
// local destination directory is a directory, which it always is); scp
// copies a plain file with -r just the same. Its destination is the path
// the engine computed ("<dest>/<basename(source)>.<node>"), where
// ClusterShell appends that suffix itself.
func Args(job *engine.Job) ([]string, error) {
	info := job.Info
	if job.Copy != nil {
		return scpArgs(job)
	}
	cmd, err := exec.InfoProgram(info, "ssh_path", "ssh")
	if err != nil {
		return nil, err
	}
	opts, err := exec.SplitInfoArgs(info, "ssh_options", true)
	if err != nil {
		return nil, err
	}
	cmd = append(cmd, opts...)
	cmd = append(cmd, "-oForwardAgent=no", "-oForwardX11=no")
	if user := exec.InfoString(info, "ssh_user"); user != "" {
		cmd = append(cmd, "-l", user)
	}
	cmd = append(cmd, connectTimeout(job)...)
	return append(cmd, "-oBatchMode=yes", job.Node, job.Command), nil
}

func scpArgs(job *engine.Job) ([]string, error) {
	info := job.Info
	cmd, err := exec.InfoProgram(info, "scp_path", "scp")
	if err != nil {
		return nil, err
	}
	user := exec.InfoString(info, exec.InfoKeyOr(info, "scp_user", "ssh_user"))
	opts, err := exec.SplitInfoArgs(info, exec.InfoKeyOr(info, "scp_options", "ssh_options"), true)
	if err != nil {
		return nil, err
	}
	cmd = append(cmd, opts...)
	cmd = append(cmd, exec.RemoteCopyFlags(job.Copy)...)
	cmd = append(cmd, connectTimeout(job)...)
	remote := "[" + job.Node + "]:"
	if user != "" {
		remote = user + "@" + remote
	}
	return append(cmd, exec.CopyOperands(job.Copy, remote)...), nil
}

// connectTimeout is the "-oConnectTimeout=N" of job's connect timeout in
// whole seconds, when it has one.
func connectTimeout(job *engine.Job) []string {
	if s := exec.Seconds(job.ConnectTimeout); s > 0 {
		return []string{"-oConnectTimeout=" + strconv.Itoa(s)}
	}
	return nil
}

// classifier remembers the OpenSSH failure messages seen in a stream.
type classifier struct {
	mu      sync.Mutex
	reasons []engine.Reason
	msgs    []string
}

// keep is a LineFilter.Keep: it records the line's reason, if any, and
// keeps every line.
func (c *classifier) keep(line []byte) bool {
	if r := Classify(string(line)); r != "" {
		c.mu.Lock()
		c.reasons = append(c.reasons, r)
		c.msgs = append(c.msgs, string(line))
		c.mu.Unlock()
	}
	return true
}

// result picks the reason of a failed ssh: a changed host key wins over
// the "Host key verification failed." that follows its warning; otherwise
// the last message seen, which is the one ssh exited on.
func (c *classifier) result() (engine.Reason, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.reasons) == 0 {
		return "", ""
	}
	last := len(c.reasons) - 1
	for i, r := range c.reasons {
		if r == engine.ReasonHostKeyChanged {
			// Report the final line ("Host key verification failed.") with
			// the reason the warning gave.
			return r, c.msgs[last] + " (" + strings.Trim(c.msgs[i], "@ ") + ")"
		}
	}
	return c.reasons[last], c.msgs[last]
}

// Classify returns the reason an OpenSSH client error line stands for, or
// "" when the line is not one of them. It knows the messages of OpenSSH
// 7 to 9 (the text after "ssh: connect to host H port P: " is strerror's):
//
//	ssh: connect to host H port P: Connection refused      ReasonConnectRefused
//	ssh: Could not resolve hostname H: ...                ReasonDNS
//	ssh: connect to host H port P: Connection timed out   ReasonConnectTimeout
//	Connection timed out during banner exchange           ReasonConnectTimeout
//	user@host: Permission denied (publickey,...).         ReasonAuth
//	Host key verification failed.                         ReasonHostKeyUnknown
//	@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @  ReasonHostKeyChanged
//	ssh: connect to host H port P: No route to host ...   ReasonConnect
//	kex_exchange_identification: ..., Connection closed by / reset by ...  ReasonConnect
func Classify(line string) engine.Reason {
	line = strings.TrimRight(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "ssh: Could not resolve hostname "):
		return engine.ReasonDNS
	case strings.HasPrefix(line, "ssh: connect to host ") || strings.HasPrefix(line, "connect to host "):
		switch {
		case strings.HasSuffix(line, ": Connection refused"):
			return engine.ReasonConnectRefused
		case strings.HasSuffix(line, ": Connection timed out"), strings.HasSuffix(line, ": Operation timed out"):
			return engine.ReasonConnectTimeout
		}
		return engine.ReasonConnect
	case strings.HasPrefix(line, "Connection timed out during banner exchange"):
		return engine.ReasonConnectTimeout
	case strings.Contains(line, ": Permission denied (") && strings.HasSuffix(line, ")."):
		return engine.ReasonAuth
	case line == "Host key verification failed.":
		return engine.ReasonHostKeyUnknown
	case strings.Contains(line, "REMOTE HOST IDENTIFICATION HAS CHANGED"):
		return engine.ReasonHostKeyChanged
	case strings.HasPrefix(line, "kex_exchange_identification: "),
		strings.HasPrefix(line, "Connection closed by "),
		strings.HasPrefix(line, "Connection reset by "),
		strings.HasPrefix(line, "ssh_exchange_identification: "),
		strings.HasPrefix(line, "ssh: Could not connect"):
		return engine.ReasonConnect
	}
	return ""
}
