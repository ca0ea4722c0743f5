package integration

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/fleetsh/fleetsh/pkg/protocol"
)

// The NATS outage scenarios of docs/RELIABILITY.md: the site's external
// NATS server is killed mid-job, while every node prints, and started
// again after the outage. Agents keep a tiny --max-buffer, so what their
// nodes print meanwhile is spilled to disk; every node must end exited
// with every line it printed, none "no agent" nor "gateway lost".

func TestFaultNATSDown1s(t *testing.T) { faultNATSDown(t, time.Second) }

func TestFaultNATSDown30s(t *testing.T) { faultNATSDown(t, 30*time.Second) }

// natsDownRounds and natsDownLines are what each node prints: rounds of
// lines "round-line", a pause between rounds, so that output is flowing
// when NATS goes down.
const (
	natsDownRounds = 4
	natsDownLines  = 250
)

func faultNATSDown(t *testing.T, outage time.Duration) {
	skipShort(t)
	bound := scenarioBound(t)
	nodes, size := "node[551-850]", 300 // gw1 and gw2 share 150, gw3 has 150
	if faultFull() {
		nodes, size = "node[1-1000]", 1000
	}
	srv := startSiteNATS(t, 0, fleetAgents...)
	// 16 KiB of events in memory per agent: the rest is spilled.
	f := startSiteFleet(t, srv, "--max-buffer", "16K")
	// Shell builtins but for the pauses: the machine's time goes to the
	// fleet, not to starting processes.
	cmd := fmt.Sprintf(`r=0; while [ $r -lt %d ]; do r=$((r+1)); i=0; while [ $i -lt %d ]; do i=$((i+1)); echo $r-$i; done; sleep 0.25; done`,
		natsDownRounds, natsDownLines)
	// The exec worker runs each node's command on its agent's machine:
	// the outage is the test, not the test process's SSH servers.
	spec := protocol.JobSpec{ID: "natsdown", Nodes: nodes, Command: cmd, Worker: "exec"}
	began := time.Now()
	var killedAt time.Duration
	outageDone := make(chan error, 1)
	started := false
	// The reader first waits once the job is submitted: NATS goes down
	// 1.5 s later, while the nodes print (each prints for about a second,
	// 32 at a time per agent).
	res := f.run(spec, func(time.Duration) {
		if started {
			return
		}
		started = true
		go func() {
			time.Sleep(1500 * time.Millisecond)
			killedAt = time.Since(began)
			outageDone <- srv.restartErr(outage)
		}()
	})
	took := time.Since(began)
	if err := <-outageDone; err != nil {
		t.Fatal(err)
	}
	t.Logf("NATS killed at %v for %v", killedAt.Round(time.Millisecond), outage)
	if killedAt > took {
		t.Fatal("the job ended before NATS was killed")
	}
	counts := countStates(t, res)
	t.Logf("NATS down %v mid-job, %d nodes: %v in %v (bound %v)", outage, size, counts, took.Round(time.Millisecond), bound)
	if counts[protocol.StateExited] != size || len(counts) != 1 {
		t.Errorf("states %v, want %d exited and nothing else (no %q, no %q)", counts, size, protocol.StateNoAgent, protocol.StateLost)
	}
	bad := 0
	for n, r := range res {
		if err := natsDownOutput(r.out); err != nil {
			if bad < 5 {
				t.Errorf("%s: %v", n, err)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d nodes of %d with wrong output", bad, size)
	}
	if t.Failed() {
		logShards(t, f)
	}
	spilled := spilledBytes(t, f)
	t.Logf("agents spilled %d bytes to disk", spilled)
	if spilled == 0 {
		t.Error("no agent spilled: the outage did not test spilling")
	}
	if took > bound {
		t.Errorf("the job took %v, over the bound of %v", took, bound)
	}
}

// natsDownOutput checks one node's lines: exactly what the command
// printed, in order.
func natsDownOutput(out []string) error {
	if len(out) != natsDownRounds*natsDownLines {
		return fmt.Errorf("%d lines, want %d", len(out), natsDownRounds*natsDownLines)
	}
	for i, l := range out {
		if want := strconv.Itoa(i/natsDownLines+1) + "-" + strconv.Itoa(i%natsDownLines+1); l != want {
			return fmt.Errorf("line %d is %q, want %q", i+1, l, want)
		}
	}
	return nil
}

// restartErr is siteNATS.Restart for a goroutine other than the test's:
// it returns its error instead of failing the test.
func (s *siteNATS) restartErr(pause time.Duration) error {
	s.stop()
	time.Sleep(pause)
	var err error
	for range 50 { // the port may linger a moment
		if err = s.run(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("restart nats on %d: %w", s.port, err)
}

// logShards logs what the agents said of their shards and connection,
// to tell a failure's story.
func logShards(t *testing.T, f *testFleet) {
	t.Helper()
	story := regexp.MustCompile(`(?m)^.*(shard|spill|nats|lost|summary).*$`)
	for name, p := range f.agents {
		data, _ := os.ReadFile(p.log)
		for _, l := range story.FindAll(data, 200) {
			t.Logf("%s: %s", name, l)
		}
	}
}

var spilledLog = regexp.MustCompile(`msg="events spilled to disk" .*spilled_bytes=(\d+)`)

// spilledBytes adds up the bytes the agents logged spilling per shard.
func spilledBytes(t *testing.T, f *testFleet) int64 {
	t.Helper()
	var n int64
	for _, p := range f.agents {
		data, err := os.ReadFile(p.log)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range spilledLog.FindAllSubmatch(data, -1) {
			v, _ := strconv.ParseInt(string(m[1]), 10, 64)
			n += v
		}
	}
	return n
}
