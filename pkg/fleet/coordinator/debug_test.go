package coordinator

import (
	"slices"
	"strings"
	"testing"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// TestDebugRecordsForwarded: an agent's debug records (no nodes) reach
// the submitter whole and in their place in the stream.
func TestDebugRecordsForwarded(t *testing.T) {
	_, _, a, wait, s := agentJob(t, Config{}, protocol.JobSpec{ID: "jd", Nodes: nodes(2), Command: "x", Info: map[string]string{"debug": "true"}})
	dbg := func(l string) protocol.Event { return protocol.Event{Kind: protocol.KindDebug, Data: []byte(l)} }
	a.sendSeq(s, 1, start(0, 1), dbg("EXECCLIENT: x"), dbg("n000: b'one'"), line("one", 0))
	a.sendSeq(s, 2, dbg("n001: b'two'"), line("two", 1), exit(0, 0, 1))
	a.doneOK(s, 2)
	res := wait()
	if want := []string{"EXECCLIENT: x", "n000: b'one'", "n001: b'two'"}; !slices.Equal(res.debug, want) {
		t.Errorf("debug %q, want %q", res.debug, want)
	}
	if strings.Join(res.lines["n000"], "") != "one" || res.ends != 2 {
		t.Errorf("result %+v", res)
	}
}
