// Package pdsh is the pdsh driver: one pdsh process (pdcp or rpdcp for
// copies) runs the command on a whole node set, with its own fanout, and
// the driver reads back each node's output and exit status from pdsh's
// "node: line" output, as ClusterShell's WorkerPdsh does.
//
// Info keys: pdsh_path, pdcp_path and rpdcp_path (split like a shell would
// and "~"-expanded, so "pdsh -R ssh" selects pdsh's rcmd module). pdsh
// cannot forward stdin: the engine refuses a worker with standard input
// on this driver, with ClusterShell's message ("writing to stdin is not
// supported by pdsh worker").
package pdsh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
	"github.com/fleetsh/fleetsh/pkg/engine"
	"github.com/fleetsh/fleetsh/pkg/protocol"
	"github.com/fleetsh/fleetsh/pkg/workers/exec"
	"github.com/fleetsh/fleetsh/pkg/workers/openssh"
)

// Name is the name users select the pdsh driver by.
const Name = "pdsh"

// maxLine bounds a line read from pdsh; a longer one is cut there and
// delivered in pieces, so memory stays bounded whatever a node prints.
const maxLine = 1 << 20

// Driver is the pdsh driver. Its zero value is ready to use and it is safe
// for concurrent use.
type Driver struct{}

// New returns a pdsh driver.
func New() *Driver { return &Driver{} }

var _ engine.GroupDriver = (*Driver)(nil)

// Name returns "pdsh".
func (*Driver) Name() string { return Name }

// Args returns the command line and extra environment ClusterShell 1.9's
// PdshClient or PdcpClient would use for job:
//
//	pdsh -b ["-f N"] ["-u T"] "-w nodes" command           PDSH_SSH_ARGS_APPEND="-o ConnectTimeout=C"
//	pdcp -b ["-f N"] ["-t C"] "-w nodes" [-r] [-p] source dest
//	rpdcp -b ["-f N"] ["-t C"] "-w nodes" -r [-p] source dir
//
// N is the fanout, T the command timeout and C the connect timeout in
// whole seconds (see exec.Seconds); nodes is the node set, folded.
// ClusterShell passes an option and its value as one argument ("-f 64");
// pdsh's getopt reads " 64" as the value, so the same is done here to keep
// the command lines identical. pdsh's "-t" is unreliable, hence the ssh
// option in the environment for commands (ClusterShell's comment).
//
// rpdcp writes "<dir>/<basename(source)>.<node>" itself; dir is the
// engine's destination, or its parent when the engine already appended
// that name for one of the nodes.
func Args(job *engine.GroupJob) (args, env []string, err error) {
	key, def := "pdsh_path", "pdsh"
	if job.Copy != nil {
		key, def = "pdcp_path", "pdcp"
		if job.Copy.Reverse {
			key, def = "rpdcp_path", "rpdcp"
		}
	}
	args, err = exec.InfoProgram(job.Info, key, def)
	if err != nil {
		return nil, nil, err
	}
	args = append(args, "-b")
	if job.Fanout > 0 {
		args = append(args, "-f "+strconv.Itoa(job.Fanout))
	}
	ct := exec.Seconds(job.ConnectTimeout)
	if job.Copy == nil {
		if ct > 0 {
			env = append(env, "PDSH_SSH_ARGS_APPEND=-o ConnectTimeout="+strconv.Itoa(ct))
		}
		if t := exec.Seconds(job.CommandTimeout); t > 0 {
			args = append(args, "-u "+strconv.Itoa(t))
		}
		return append(args, "-w "+exec.Fold(job.Nodes), job.Command), env, nil
	}
	if ct > 0 {
		args = append(args, "-t "+strconv.Itoa(ct))
	}
	args = append(args, "-w "+exec.Fold(job.Nodes))
	spec := job.Copy
	args = append(args, exec.RemoteCopyFlags(spec)...)
	dest := spec.Dest
	if spec.Reverse {
		dest = reverseDir(spec, job.Nodes)
	}
	return append(args, spec.Source, dest), nil, nil
}

// reverseDir returns the directory rpdcp copies into: Dest, unless Dest is
// already "<dir>/<basename(source)>.<node>" for one of nodes.
func reverseDir(spec *protocol.CopySpec, nodes []string) string {
	base := filepath.Base(spec.Dest)
	prefix := filepath.Base(spec.Source) + "."
	if node, ok := strings.CutPrefix(base, prefix); ok {
		for _, n := range nodes {
			if n == node {
				return filepath.Dir(spec.Dest)
			}
		}
	}
	return spec.Dest
}

// Run runs job on its one node through RunGroup, writing the node's lines
// to job.Stdout and job.Stderr (job.Stdout when Stderr is nil).
func (d *Driver) Run(ctx context.Context, job *engine.Job) engine.Result {
	var mu sync.Mutex
	gj := &engine.GroupJob{
		Nodes:          []string{job.Node},
		Command:        job.Command,
		Copy:           job.Copy,
		ConnectTimeout: job.ConnectTimeout,
		Info:           job.Info,
		Debug:          job.Debug,
		Line: func(node string, s engine.Stream, line []byte) {
			w := job.Stdout
			if s == engine.Stderr && job.Stderr != nil {
				w = job.Stderr
			}
			if w == nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			w.Write(append(append([]byte(nil), line...), '\n'))
		},
	}
	return d.RunGroup(ctx, gj)[job.Node]
}

// RunGroup runs job with one pdsh (pdcp, rpdcp) process and returns a
// result for every node of job.Nodes. Output lines "node: text" go to
// job.Line for that node, on the stream pdsh wrote them to; calls to
// job.Line are serialized.
//
// Statuses are ClusterShell's: "pdsh@host: node: ... exited with exit code
// N" gives N, a node without such a line exits 0. Where ClusterShell loses
// information this driver keeps it:
//   - a node named in "pdsh@host: node: command timeout" (pdsh -u) fails
//     with ReasonCommandTimeout (ClusterShell reports 0);
//   - "... killed by signal N" gives 128+N;
//   - a node whose output had an OpenSSH failure message and that exited
//     255 gets that reason (see openssh.Classify), as with the openssh
//     driver;
//   - other "pdsh@host: node: message" lines are delivered as that node's
//     stderr lines, and pdcp's and rpdcp's are read like pdcp's
//     (ClusterShell drops them, and reads "rpdcp@" lines as output of a
//     node named "rpdcp@host");
//   - a last line without "\n" is delivered (ClusterShell drops it).
//
// When pdsh itself fails (exits non-zero, as pdcp does for a missing
// source), nodes without a status get ReasonLocal with pdsh's messages;
// ClusterShell raises "Cannot run pdsh". When ctx is done, pdsh and its
// children are killed and nodes without a status get the cancel reason
// (see exec.Process.Run).
func (d *Driver) RunGroup(ctx context.Context, job *engine.GroupJob) map[string]engine.Result {
	results := make(map[string]engine.Result, len(job.Nodes))
	// A node name with shell syntax or a leading '-' would reach ssh or
	// rsh as an option or a ProxyCommand's %h: refused, the others run.
	var keep []string
	for _, n := range job.Nodes {
		if err := exec.ValidHostname(n); err != nil {
			results[n] = exec.LocalError(n, err)
		} else {
			keep = append(keep, n)
		}
	}
	if len(keep) < len(job.Nodes) {
		j := *job
		j.Nodes = keep
		job = &j
	}
	if len(job.Nodes) == 0 {
		return results
	}
	args, env, err := Args(job)
	if err != nil {
		for _, n := range job.Nodes {
			results[n] = exec.LocalError(n, err)
		}
		return results
	}
	exec.DebugArgs(job.Debug, job.Copy != nil, "PDSHCLIENT", "PDCPCLIENT", args)
	g := newGroup(job)
	stdout := &lineWriter{fn: func(l []byte) { g.parse(l, engine.Stdout) }}
	stderr := &lineWriter{fn: func(l []byte) { g.parse(l, engine.Stderr) }}
	p := &exec.Process{Args: args, Env: env, Stdout: stdout, Stderr: stderr}
	res := p.Run(ctx, exec.Fold(job.Nodes))
	stdout.flush()
	stderr.flush()
	for n, r := range g.results(res) {
		results[n] = r
	}
	return results
}

// group is the state of one RunGroup: what the parser learned per node.
type group struct {
	job   *engine.GroupJob
	copy  bool
	nodes map[string]bool

	mu       sync.Mutex // parse runs on two goroutines (stdout, stderr)
	rc       map[string]int
	timedOut map[string]bool
	reason   map[string]engine.Reason
	msg      map[string]string
	orphans  []string // pdsh's own messages naming no node
}

func newGroup(job *engine.GroupJob) *group {
	g := &group{
		job: job, copy: job.Copy != nil,
		nodes:    make(map[string]bool, len(job.Nodes)),
		rc:       map[string]int{},
		timedOut: map[string]bool{},
		reason:   map[string]engine.Reason{},
		msg:      map[string]string{},
	}
	for _, n := range job.Nodes {
		g.nodes[n] = true
	}
	return g
}

// pdshPrefix tells pdsh's own messages ("pdsh@host: ...") from node
// output.
func pdshPrefix(line []byte) bool {
	for _, p := range []string{"pdsh@", "pdcp@", "rpdcp@", "sending "} {
		if bytes.HasPrefix(line, []byte(p)) {
			return true
		}
	}
	return false
}

// parse handles one line of pdsh's output.
func (g *group) parse(line []byte, stream engine.Stream) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.job.Debug != nil {
		suffix := ""
		if stream == engine.Stderr {
			suffix = "@STDERR"
		}
		g.job.Debug("PDSH" + suffix + ": " + pyfmt.ReprBytes(line))
	}
	if !pdshPrefix(line) {
		// "node: text"
		node, msg, ok := bytes.Cut(line, []byte(": "))
		if !ok || !g.nodes[string(node)] {
			// Not a node's line: ClusterShell would fail or invent a
			// node. Keep it as pdsh's own message.
			g.orphans = append(g.orphans, string(line))
			return
		}
		if r := openssh.Classify(string(msg)); r != "" {
			g.reason[string(node)], g.msg[string(node)] = r, string(msg)
		}
		if g.job.Line != nil {
			// The buffer is reused for the next line: hand out a copy.
			g.job.Line(string(node), stream, bytes.Clone(msg))
		}
		return
	}
	if bytes.HasPrefix(line, []byte("sending ")) {
		return // "sending SIGTERM to ssh node pid N" after a timeout
	}
	// "pdsh@host: node: message" or "pdsh@host: message"
	_, rest, _ := strings.Cut(string(line), ": ")
	node, msg, ok := strings.Cut(rest, ": ")
	if !ok || !g.nodes[node] {
		g.orphans = append(g.orphans, string(line))
		return
	}
	switch {
	case msg == "command timeout":
		g.timedOut[node] = true
		return
	case strings.HasSuffix(msg, " exited with exit code "+lastWord(msg)) && isDigits(lastWord(msg)):
		g.rc[node], _ = strconv.Atoi(lastWord(msg))
		return
	case strings.HasSuffix(msg, " killed by signal "+lastWord(msg)) && isDigits(lastWord(msg)):
		sig, _ := strconv.Atoi(lastWord(msg))
		g.rc[node] = 128 + sig
		return
	}
	if g.copy {
		// ClusterShell: any pdcp message about a node fails it with
		// ENOENT, unless an exit status comes.
		if _, ok := g.rc[node]; !ok {
			g.rc[node] = int(syscall.ENOENT)
		}
	}
	if g.job.Line != nil {
		g.job.Line(node, engine.Stderr, []byte(msg))
	}
}

func lastWord(s string) string {
	if i := strings.LastIndexByte(s, ' '); i >= 0 {
		return s[i+1:]
	}
	return s
}

func isDigits(s string) bool {
	if s == "" || len(s) > 9 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// results turns what was parsed and how pdsh ended into one result per
// node.
func (g *group) results(proc engine.Result) map[string]engine.Result {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[string]engine.Result, len(g.job.Nodes))
	var pdshErr error
	switch {
	case proc.Err != nil:
		pdshErr = proc.Err
	case proc.ExitCode != 0:
		msg := fmt.Sprintf("%s exited with status %d", filepath.Base(procName(g)), proc.ExitCode)
		if len(g.orphans) > 0 {
			msg += ": " + strings.Join(g.orphans, "; ")
		}
		pdshErr = errors.New(msg)
	}
	for _, n := range g.job.Nodes {
		rc, hasRC := g.rc[n]
		switch {
		case g.timedOut[n]:
			out[n] = engine.Result{ExitCode: -1, Err: &engine.NodeError{Node: n, Reason: engine.ReasonCommandTimeout}}
		case hasRC && rc == openssh.ExitSSHError && g.reason[n] != "":
			out[n] = engine.Result{ExitCode: rc, Err: &engine.NodeError{Node: n, Reason: g.reason[n], Err: errors.New(g.msg[n])}}
		case hasRC:
			out[n] = engine.Result{ExitCode: rc}
		case pdshErr != nil:
			out[n] = nodeErr(n, proc, pdshErr)
		default:
			out[n] = engine.Result{}
		}
	}
	return out
}

// nodeErr is pdsh's failure as node n's result.
func nodeErr(n string, proc engine.Result, err error) engine.Result {
	var ne *engine.NodeError
	if errors.As(err, &ne) {
		return engine.Result{ExitCode: proc.ExitCode, Err: &engine.NodeError{Node: n, Reason: ne.Reason, Err: ne.Err}}
	}
	return engine.Result{ExitCode: -1, Err: &engine.NodeError{Node: n, Reason: engine.ReasonLocal, Err: err}}
}

func procName(g *group) string {
	switch {
	case !g.copy:
		return "pdsh"
	case g.job.Copy.Reverse:
		return "rpdcp"
	}
	return "pdcp"
}

// lineWriter splits what pdsh writes into lines (without "\n" or "\r\n")
// for fn. It is used by one goroutine.
type lineWriter struct {
	fn  func([]byte)
	buf []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			break
		}
		w.buf = append(w.buf, p[:i]...)
		w.emit()
		p = p[i+1:]
	}
	w.buf = append(w.buf, p...)
	for len(w.buf) >= maxLine {
		w.fn(w.buf[:maxLine])
		w.buf = append(w.buf[:0], w.buf[maxLine:]...)
	}
	return n, nil
}

func (w *lineWriter) emit() {
	w.fn(bytes.TrimSuffix(w.buf, []byte("\r")))
	w.buf = w.buf[:0]
}

// flush delivers a last line that has no "\n".
func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.emit()
	}
}

var _ io.Writer = (*lineWriter)(nil)
