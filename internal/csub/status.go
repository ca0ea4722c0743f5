package csub

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/fleetsh/fleetsh/internal/optparse"
	"github.com/fleetsh/fleetsh/pkg/fleet/client"
	"github.com/fleetsh/fleetsh/pkg/nodeset"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// Exit statuses of csub status.
const (
	statusOK      = 0 // done, every node exited 0
	statusFailed  = 1 // done, some node did not
	statusUsage   = 2 // optparse's, for usage errors
	statusRunning = 3 // some node has no final state yet
	statusUnknown = 4 // no status: no fleet, no such job, no answer
)

// statusJSON is `csub status --json`: the documented, stable form
// (docs/csub.md), not the wire's.
type statusJSON struct {
	ID        string             `json:"id"`
	User      string             `json:"user"`
	Command   string             `json:"command,omitempty"`
	Copy      *protocol.CopySpec `json:"copy,omitempty"`
	Nodes     string             `json:"nodes"`
	Total     int                `json:"total"`
	Submitted time.Time          `json:"submitted"`
	Ended     *time.Time         `json:"ended"` // null while it runs
	Done      bool               `json:"done"`
	Failed    int                `json:"failed"`
	// States: per final state, its node count and folded set ("" when
	// Truncated).
	States map[protocol.State]nodeCount `json:"states"`
	// Codes: the same per exit status of the exited nodes.
	Codes      map[int]nodeCount `json:"codes"`
	Unfinished nodeCount         `json:"unfinished"`
	Truncated  bool              `json:"truncated"`
	ExitStatus int               `json:"exit_status"` // csub status's own
}

// nodeCount is a number of nodes and their folded set.
type nodeCount struct {
	Count int    `json:"count"`
	Nodes string `json:"nodes"`
}

// waitOnlyWithStatus refuses --wait elsewhere than csub status.
const waitOnlyWithStatus = "option --wait: only with csub status JOB"

// waitPoll is how often csub status --wait asks whether the job is done.
const waitPoll = time.Second

func runStatus(ctx context.Context, s *settings, operands []string, p *optparse.Parser, env *environ, intr <-chan struct{}) int {
	if len(operands) != 1 {
		return exitStatus(p.Error("status: give exactly one job id (see csub jobs)"), env)
	}
	id := operands[0]
	c, done, ok := fleetClient(ctx, s, env, "csub status")
	if !ok {
		return statusUnknown
	}
	defer done()
	if s.wait {
		env.watching.Store(true) // Ctrl-C stops the wait (below)
		wctx, stop, interrupted := untilInterrupt(ctx, intr)
		err := c.WaitDone(wctx, id, waitPoll)
		stop()
		if interrupted() {
			fmt.Fprintf(env.stderr, "%s: stopped waiting for job %s (it goes on)\n", progName, id)
			return 128 + int(syscall.SIGINT)
		}
		if err != nil {
			return statusError(err, id, env)
		}
	}
	rctx, cancel := context.WithTimeout(ctx, registryTimeout)
	defer cancel()
	st, err := c.Status(rctx, id)
	if err != nil {
		return statusError(err, id, env)
	}
	rc := jobExitStatus(st)
	if s.json {
		writeJSON(env.stdout, newStatusJSON(st, rc))
		return rc
	}
	if err := writeStatus(env.stdout, st, env.clock()); err != nil {
		return statusUnknown
	}
	return rc
}

// statusError says why there is no status of job id.
func statusError(err error, id string, env *environ) int {
	sayJobError(err, id, env)
	return statusUnknown
}

// sayJobError says on standard error why the fleet gave nothing of job id
// (csub status, csub attach): it does not know the job, or err.
func sayJobError(err error, id string, env *environ) {
	if errors.Is(err, client.ErrUnknownJob) {
		fmt.Fprintf(env.stderr, "%s: no job %q on this fleet (csub jobs lists them)\n", progName, id)
	} else {
		fmt.Fprintf(env.stderr, "%s: %v\n", progName, err)
	}
}

// jobExitStatus is csub status's exit status for job st.
func jobExitStatus(st *protocol.JobStatus) int {
	switch {
	case !st.Done:
		return statusRunning
	case st.Failed > 0:
		return statusFailed
	}
	return statusOK
}

// unfinishedCount is how many of a job's nodes have no final state.
func unfinishedCount(st *protocol.JobStatus) int {
	return st.Total - finalCount(*st)
}

func newStatusJSON(st *protocol.JobStatus, rc int) statusJSON {
	out := statusJSON{ID: st.ID, User: st.User, Command: st.Command, Copy: st.Copy, Nodes: st.Nodes, Total: st.Total,
		Submitted: st.Submitted, Done: st.Done, Failed: st.Failed, Truncated: st.Truncated, ExitStatus: rc,
		States: make(map[protocol.State]nodeCount, len(st.Finals)), Codes: make(map[int]nodeCount, len(st.Codes)),
		Unfinished: nodeCount{Count: unfinishedCount(st), Nodes: st.Unfinished}}
	if !st.Ended.IsZero() {
		ended := st.Ended
		out.Ended = &ended
	}
	for state, n := range st.Finals {
		out.States[state] = nodeCount{Count: n, Nodes: st.States[state]}
	}
	for code, set := range st.Codes {
		out.Codes[code] = nodeCount{Count: setLen(set), Nodes: set}
	}
	return out
}

// setLen counts the nodes of a folded set from the coordinator (0 for a
// set that does not parse).
func setLen(set string) int {
	ns, err := nodeset.Parse(set)
	if err != nil {
		return 0
	}
	return ns.Len()
}

// writeStatus prints a job's status: its fields, one a line, then the
// folded node set of each final state, `nodeset -f` style:
//
//	exited (4): n[1-4]
//	exited rc=3 (1): n3
//	command timeout (1): n5
//	unfinished (1): n6
//
// An "exited rc=N" line per exit status follows the exited line when
// some exited node returned other than 0. Times are in now's zone.
func writeStatus(w io.Writer, st *protocol.JobStatus, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	at := func(t time.Time) string {
		return t.In(now.Location()).Format("2006-01-02 15:04:05 MST") + " (" + ago(now.Sub(t)) + ")"
	}
	fmt.Fprintf(tw, "job:\t%s\n", st.ID)
	fmt.Fprintf(tw, "user:\t%s\n", orDash(st.User))
	fmt.Fprintf(tw, "command:\t%s\n", printable(strings.ReplaceAll(jobWhat(*st), "\n", " ")))
	fmt.Fprintf(tw, "submitted:\t%s\n", at(st.Submitted))
	if !st.Ended.IsZero() {
		fmt.Fprintf(tw, "ended:\t%s\n", at(st.Ended))
	}
	fmt.Fprintf(tw, "status:\t%s\n", statusLine(st))
	if st.Truncated {
		fmt.Fprintf(tw, "nodes:\t%d (the coordinator left the node sets out: they would not fit in one message under the NATS server's max_payload)\n", st.Total)
	} else {
		fmt.Fprintf(tw, "nodes:\t%s (%d)\n", st.Nodes, st.Total)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var b strings.Builder
	for _, state := range statesInOrder(st.Finals) {
		fmt.Fprintf(&b, "%s (%d): %s\n", printable(string(state)), st.Finals[state], setOrLeftOut(st, st.States[state]))
		if state == protocol.StateExited && someNonZero(st.Codes) {
			for _, code := range slices.Sorted(maps.Keys(st.Codes)) {
				fmt.Fprintf(&b, "exited rc=%d (%d): %s\n", code, setLen(st.Codes[code]), st.Codes[code])
			}
		}
	}
	if n := unfinishedCount(st); n > 0 {
		fmt.Fprintf(&b, "unfinished (%d): %s\n", n, setOrLeftOut(st, st.Unfinished))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// someNonZero reports whether codes has an exit status other than 0.
func someNonZero(codes map[int]string) bool {
	_, zero := codes[0]
	return len(codes) > 1 || len(codes) == 1 && !zero
}

// statusLine says whether a job is done and how it went.
func statusLine(st *protocol.JobStatus) string {
	ended := finalCount(*st)
	switch {
	case !st.Done:
		return fmt.Sprintf("running: %d of %d nodes ended, %d failed", ended, st.Total, st.Failed)
	case st.Failed > 0:
		return fmt.Sprintf("done: %d of %d nodes failed", st.Failed, st.Total)
	}
	return fmt.Sprintf("done: all %d nodes exited 0", st.Total)
}

func setOrLeftOut(st *protocol.JobStatus, set string) string {
	if st.Truncated {
		return "(left out by the coordinator)"
	}
	return set
}

// statesInOrder lists the states of finals in the order summaries print
// them (protocol.States), then any other by name.
func statesInOrder(finals map[protocol.State]int) []protocol.State {
	rank := func(s protocol.State) int {
		if i := slices.Index(protocol.States, s); i >= 0 {
			return i
		}
		return len(protocol.States)
	}
	out := slices.Collect(maps.Keys(finals))
	slices.SortFunc(out, func(a, b protocol.State) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), strings.Compare(string(a), string(b)))
	})
	return out
}
