package coordinator

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// TestTrimReplayKeepsTotalUnderLimit checks that the replay logs of all
// jobs stay under MaxReplayTotal: finished jobs lose their lines, longest
// finished first, keeping starts and ends; a running job keeps its own.
func TestTrimReplayKeepsTotalUnderLimit(t *testing.T) {
	cfg := Config{MaxReplayTotal: 10 << 10, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	cfg.defaults()
	c := &Coordinator{cfg: cfg, log: cfg.Logger}
	line := protocol.Event{Kind: protocol.KindStdout, Nodes: []uint32{0}, Data: bytes.Repeat([]byte("x"), 1000)}
	now := time.Now()
	mk := func(id string, finished time.Duration, running bool) *job {
		j := &job{c: c, spec: protocol.JobSpec{ID: id}, nodes: []string{"n1"}, track: protocol.NewTracker(1)}
		if !running {
			j.track.End(0, protocol.StateExited, 0)
			j.ended = now.Add(-finished)
		}
		recs := []protocol.Event{{Kind: protocol.KindStart, Nodes: []uint32{0}}}
		for range 4 {
			recs = append(recs, line)
		}
		if !running {
			recs = append(recs, protocol.Event{Kind: protocol.KindEnd, Nodes: []uint32{0}, State: protocol.StateExited})
		}
		for _, r := range recs {
			j.emit(r)
		}
		return j
	}
	oldest, older, recent, running := mk("oldest", 3*time.Minute, false), mk("older", 2*time.Minute, false),
		mk("recent", time.Minute, false), mk("running", 0, true)
	jobs := []*job{recent, running, oldest, older}
	c.trimReplay(jobs)

	total := 0
	for _, j := range jobs {
		total += j.logBytes
	}
	if total > cfg.MaxReplayTotal {
		t.Errorf("total %d over the limit %d", total, cfg.MaxReplayTotal)
	}
	lines := func(j *job) int {
		n := 0
		for i := range j.log {
			if isLine(&j.log[i]) {
				n++
			}
		}
		return n
	}
	got := fmt.Sprint(lines(oldest), lines(older), lines(recent), lines(running))
	if got != "0 0 4 4" {
		t.Errorf("lines left (oldest, older, recent, running) = %s, want 0 0 4 4", got)
	}
	for _, j := range []*job{oldest, older} {
		if len(j.log) != 2 || j.log[0].Kind != protocol.KindStart || j.log[1].Kind != protocol.KindEnd || !j.logFull {
			t.Errorf("%s: log %v, logFull %v: want its start and end, marked full", j.spec.ID, j.log, j.logFull)
		}
	}
}
