// Package rsh is the rsh driver: it runs rsh and rcp (or a compatible
// program: krsh, mrsh), one process per node, with ClusterShell's
// WorkerRsh command lines.
//
// rsh does not return the remote command's exit status, so, as
// ClusterShell does, the driver appends "; echo XXRETCODE: $?" to the
// command and takes the status from that line, which it removes from the
// output.
//
// Info keys: rsh_path, rsh_user, rsh_options, rcp_path and rcp_options
// (rcp falls back to rsh_options). The connect timeout is ignored: rsh has
// no such option.
package rsh

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/workers/exec"
)

// Name is the name users select the rsh driver by.
const Name = "rsh"

// RetcodeSuffix is the argument appended to every rsh command line (rsh
// joins its arguments with spaces into the remote command).
const RetcodeSuffix = "; echo XXRETCODE: $?"

// Driver is the rsh driver. Its zero value is ready to use and it is safe
// for concurrent use.
type Driver struct{}

// New returns an rsh driver.
func New() *Driver { return &Driver{} }

var _ engine.Driver = (*Driver)(nil)

// Name returns "rsh".
func (*Driver) Name() string { return Name }

// Args returns the rsh or rcp command line ClusterShell 1.9's RshClient or
// RcpClient would run for job:
//
//	rsh [-l user] [rsh_options] node command "; echo XXRETCODE: $?"
//	rcp [-r] [-p] [rcp_options|rsh_options] source [user@]node:dest
//	rcp -r [-p] [rcp_options|rsh_options] [user@]node:source dest
//
// The path words get "~" expanded, the options do not (as in
// ClusterShell). A reverse copy always has -r (ClusterShell tests whether
// the local destination directory is a directory), and its destination is
// the path the engine computed ("<dest>/<basename(source)>.<node>").
func Args(job *engine.Job) ([]string, error) {
	info := job.Info
	key, def := "rsh_path", "rsh"
	if job.Copy != nil {
		key, def = "rcp_path", "rcp"
	}
	cmd, err := exec.InfoProgram(info, key, def)
	if err != nil {
		return nil, err
	}
	user := exec.InfoString(info, "rsh_user")
	if job.Copy == nil {
		if user != "" {
			cmd = append(cmd, "-l", user)
		}
		opts, err := exec.SplitInfoArgs(info, "rsh_options", false)
		if err != nil {
			return nil, err
		}
		cmd = append(cmd, opts...)
		return append(cmd, job.Node, job.Command, RetcodeSuffix), nil
	}
	cmd = append(cmd, exec.RemoteCopyFlags(job.Copy)...)
	opts, err := exec.SplitInfoArgs(info, exec.InfoKeyOr(info, "rcp_options", "rsh_options"), false)
	if err != nil {
		return nil, err
	}
	cmd = append(cmd, opts...)
	remote := job.Node + ":"
	if user != "" {
		remote = user + "@" + remote
	}
	return append(cmd, exec.CopyOperands(job.Copy, remote)...), nil
}

// Run runs job's command with rsh, or its copy with rcp.
//
// The exit status is ClusterShell's: the one of the last "XXRETCODE: n"
// line (on either stream; the line is removed from the output) when rsh
// itself exited 0 or 1, otherwise rsh's own status. When rsh fails with no
// such line and printed a known rsh/rcmd error ("host: Unknown host",
// "Connection refused", "Permission denied"), the result also carries a
// *engine.NodeError with that reason.
//
// Two consequences of the appended echo are ClusterShell's too and kept:
// a command that ends with "exit n" leaves before the echo (its status is
// then rsh's own, usually 0 or 1), and when the command's output does not
// end with a newline the status line is glued to its last line, which is
// then passed on as output ("lastXXRETCODE: 0").
func (d *Driver) Run(ctx context.Context, job *engine.Job) engine.Result {
	args, err := exec.CommandLine(job, Args, "RSHCLIENT", "RCPCLIENT")
	if err != nil {
		return exec.LocalError(job.Node, err)
	}
	st := &state{magic: job.Copy == nil}
	p := &exec.Process{Args: args, Observe: job.Observe}
	var filters []*exec.LineFilter
	wrap := func(w io.Writer) *exec.LineFilter {
		f := &exec.LineFilter{W: w, Keep: st.keep}
		filters = append(filters, f)
		return f
	}
	if job.Stdout != nil {
		p.Stdout = wrap(job.Stdout)
	}
	if job.Stderr != nil {
		p.Stderr = wrap(job.Stderr)
	}
	if job.Copy == nil {
		p.Stdin = job.Stdin
	}
	res := p.Run(ctx, job.Node)
	for _, f := range filters {
		f.Flush() // may still hold the magic line when it had no "\n"
	}
	if res.Err != nil {
		return res
	}
	return st.result(job.Node, res.ExitCode)
}

// state collects what the output filters learn; the two streams are
// filtered by two goroutines.
type state struct {
	magic  bool // look for XXRETCODE lines (commands, not rcp)
	mu     sync.Mutex
	rc     int
	hasRC  bool
	reason engine.Reason
	msg    string
}

// keep drops "XXRETCODE: n" lines and records their status, and records
// rsh error lines.
func (s *state) keep(line []byte) bool {
	if rc, ok := ParseRetcode(string(line)); ok && s.magic {
		s.mu.Lock()
		s.rc, s.hasRC = rc, true
		s.mu.Unlock()
		return false
	}
	if r := classify(string(line)); r != "" {
		s.mu.Lock()
		s.reason, s.msg = r, string(line)
		s.mu.Unlock()
	}
	return true
}

func (s *state) result(node string, rc int) engine.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hasRC {
		if rc == 0 || rc == 1 {
			rc = s.rc
		}
		return engine.Result{ExitCode: rc}
	}
	res := engine.Result{ExitCode: rc}
	if rc != 0 && s.reason != "" {
		res.Err = &engine.NodeError{Node: node, Reason: s.reason, Err: errors.New(s.msg)}
	}
	return res
}

// ParseRetcode parses the line ClusterShell's rsh command appends,
// "XXRETCODE: <digits>", and returns its status.
func ParseRetcode(line string) (int, bool) {
	digits, ok := strings.CutPrefix(line, "XXRETCODE: ")
	if !ok || digits == "" || len(digits) > 9 {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	rc, err := strconv.Atoi(digits)
	return rc, err == nil
}

// classify maps the messages of rsh and of glibc's rcmd to reasons.
func classify(line string) engine.Reason {
	switch {
	case strings.HasSuffix(line, ": Unknown host"), strings.Contains(line, "Name or service not known"):
		return engine.ReasonDNS
	case strings.HasSuffix(line, "Connection refused"):
		return engine.ReasonConnectRefused
	case strings.HasSuffix(line, "Connection timed out"):
		return engine.ReasonConnectTimeout
	case strings.HasSuffix(line, "Permission denied."), strings.HasSuffix(line, "Permission denied"):
		return engine.ReasonAuth
	}
	return ""
}
