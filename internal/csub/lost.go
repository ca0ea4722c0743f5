package csub

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fleetsh/fleetsh/pkg/fleet/client"
	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// A job's stream can break without the job ending: the client gets it
// back when it can (pkg/fleet/client, resume.go), and otherwise gives up
// after --fleet-reconnect. csub then says exactly what it does not know:
// the nodes it could not account for end in a state of their own, in
// every output mode (a failure line, --json's final states, --summary),
// and the exit status is 255 as for the fleet's other failures.

// stateUnaccounted ends the nodes whose final state csub never got: the
// job's stream broke and could not be had again. The job may go on
// (csub attach shows how they end).
const stateUnaccounted protocol.State = "not accounted for"

// csubStates are the final states in the order csub's lines and
// summaries print them: the fleet's, then csub's own.
var csubStates = append(slices.Clip(protocol.States), stateUnreported, stateUnaccounted)

// lostStream reports a stream Next could not go on with (err) and
// renders the job's end as far as csub knows it: the nodes without a
// final state end "not accounted for", then the output mode ends as
// usual (gathered output, exit code and failure lines). It returns the
// exit status: 255 when some node is not accounted for.
func lostStream(r *renderer, job *client.Job, err error, s *settings, began time.Time, env *environ) int {
	r.flush()
	fmt.Fprintf(env.stderr, "%s: %v\n", progName, err)
	if idx := r.res.unfinished(false); len(idx) > 0 {
		why := "csub lost the job's output stream (csub attach " + job.ID() + " shows how they end)"
		_ = r.batch(&protocol.EventBatch{Job: job.ID(), Events: []protocol.Event{{Kind: protocol.KindEnd, Nodes: idx,
			State: stateUnaccounted, Code: 255, At: time.Now(), Data: []byte(why)}}})
	}
	return endStream(r, job, s, began)
}

// endStream ends a job's rendering: the output mode's end, --summary,
// the cancel and lost-record notices; it returns the exit status.
func endStream(r *renderer, job *client.Job, s *settings, began time.Time) int {
	r.finish()
	if s.summary {
		printSummary(r, s, time.Since(began))
	}
	reportCancel(r, job.ID())
	reportLost(r, job)
	return r.res.exitStatus(s.maxrc)
}

// maxLostRanges bounds the record ranges reportLost names.
const maxLostRanges = 5

// reportLost says which output records of the job the coordinator could
// not send (lines over its replay limit, when csub attached or got its
// stream back): never silently missing.
func reportLost(r *renderer, job *client.Job) {
	lost := job.Lost()
	if len(lost) == 0 {
		return
	}
	var n uint64
	var ranges []string
	for i, rg := range lost {
		n += rg.To - rg.From
		if i < maxLostRanges {
			ranges = append(ranges, rg.String())
		}
	}
	if len(lost) > maxLostRanges {
		ranges = append(ranges, "…")
	}
	r.d.vprintErr(verbQuiet, "%s: job %s: %d output %s missing above: not kept by the coordinator (over its replay limit): %s %s",
		progName, job.ID(), n, pluralS(n, "record is", "records are"), pluralS(uint64(len(lost)), "record", "records"), strings.Join(ranges, ", "))
}

func pluralS(n uint64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// accounted reports whether csub knows every node's final state: none
// is still running as far as it knows, nor lost with the stream.
func (r *results) accounted() bool {
	return len(r.unfinished(false)) == 0 &&
		!slices.ContainsFunc(r.fails, func(g *failGroup) bool { return g.state == stateUnaccounted })
}
